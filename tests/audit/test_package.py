"""The audit package's exported names and its boundaries."""

from __future__ import annotations

import inspect
from pathlib import Path

import servinfo.audit
from servinfo.audit import (
    AuditError,
    EntryInvalid,
    EntryNotFound,
    HeadInvalid,
    HeadNotFound,
    LogTampered,
    ProofInvalid,
    RangeInvalid,
)
from servinfo.errors import ServinfoError

SRC = Path(servinfo.audit.__file__).parent
#: The pure core: hashing, entries, heads, proofs, verification. The log, its
#: tables, migrations, service and CLI build on it, never the other way round.
PURE_CORE = (
    "_codec.py",
    "_template.py",
    "entries.py",
    "errors.py",
    "heads.py",
    "merkle.py",
    "proofs.py",
    "sink.py",
    "verify.py",
)


def test_all_lists_exactly_the_public_names() -> None:
    exported = servinfo.audit.__all__
    assert len(set(exported)) == len(exported)
    public = {
        name
        for name, value in vars(servinfo.audit).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(exported) == public


def test_every_error_is_an_audit_error() -> None:
    assert issubclass(AuditError, ServinfoError)
    for error in (
        EntryInvalid,
        EntryNotFound,
        HeadInvalid,
        HeadNotFound,
        LogTampered,
        ProofInvalid,
        RangeInvalid,
    ):
        assert issubclass(error, AuditError)
    assert LogTampered(3, "gone").message == "audit log tampered at entry 3: gone"


def test_the_audit_core_touches_no_database_and_no_raw_ciphers() -> None:
    # Pure: the storage step builds on it, not the other way round.
    for name in PURE_CORE:
        source = (SRC / name).read_text()
        for forbidden in (
            "sqlalchemy",
            "sqlite3",
            "servinfo.store",
            "servinfo.audit.log",
            "hazmat.primitives.ciphers",
        ):
            assert forbidden not in source, f"{name} mentions {forbidden}"


def test_every_module_is_either_pure_core_or_listed_as_built_on_it() -> None:
    built_on = {
        "__init__.py",
        "_storage.py",
        "buffer.py",
        "cli.py",
        "log.py",
        "models.py",
        "routes.py",
        "service.py",
    }
    assert {p.name for p in SRC.glob("*.py")} == set(PURE_CORE) | built_on


def test_no_module_of_the_audit_package_touches_raw_ciphers() -> None:
    for path in SRC.rglob("*.py"):
        assert "hazmat.primitives.ciphers" not in path.read_text(), path.name
