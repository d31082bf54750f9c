"""The witness package's public names: each one in ``__all__`` resolves, lazily."""

from __future__ import annotations

import importlib

import pytest

import servinfo.witness

MODULES = ["app", "cli", "directory", "errors", "keys", "service", "store"]


@pytest.mark.parametrize("name", servinfo.witness.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(servinfo.witness, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = servinfo.witness.Nothing


@pytest.mark.parametrize("module", MODULES)
def test_every_module_declares_what_it_exports(module: str) -> None:
    loaded = importlib.import_module(f"servinfo.witness.{module}")
    assert loaded.__all__
    for name in loaded.__all__:
        assert hasattr(loaded, name)


def test_the_package_exports_what_its_modules_export_for_callers() -> None:
    public = set(servinfo.witness.__all__)
    for module in ("directory", "errors", "service", "store"):
        loaded = importlib.import_module(f"servinfo.witness.{module}")
        internal = {"MAX_EVIDENCE", "MAX_TREE_SIZE", "SCHEMA_VERSION", "Clock", "system_clock"}
        assert set(loaded.__all__) - internal <= public, module
