"""The package's boundaries: its exported names, and who may touch raw AEAD."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import servinfo
import servinfo.crypto

SRC = Path(servinfo.__file__).parent
#: The one module allowed to import the raw cipher primitives.
HAZMAT_MODULE = SRC / "crypto" / "_aead.py"
FORBIDDEN = "cryptography.hazmat.primitives.ciphers"
_AEAD_MODULE = re.compile(r"(^|\.)crypto\._aead($|\.)")


def imported_modules(source: str) -> set[str]:
    """Every module an import names; ``from a import b`` counts as ``a`` and ``a.b``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            joiner = "" if base.endswith(".") else "."
            found.add(base)
            found.update(f"{base}{joiner}{alias.name}" for alias in node.names)
    return found


def imports_raw_ciphers(source: str) -> bool:
    return any(
        name == FORBIDDEN or name.startswith(FORBIDDEN + ".") for name in imported_modules(source)
    )


def imports_aead_module(source: str) -> bool:
    # Matches absolute and relative spellings ("..crypto._aead"); inside the
    # crypto package itself `_aead` is allowed, so callers skip that folder.
    return any(_AEAD_MODULE.search(name) for name in imported_modules(source))


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize(
    "source",
    [
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM",
        "import cryptography.hazmat.primitives.ciphers.aead",
        "from cryptography.hazmat.primitives import ciphers",
        "from cryptography.hazmat.primitives.ciphers import Cipher, algorithms",
        "def f():\n    from cryptography.hazmat.primitives.ciphers import aead\n",
    ],
)
def test_scanner_catches_every_spelling(source: str) -> None:
    assert imports_raw_ciphers(source)


def test_scanner_allows_other_hazmat() -> None:
    assert not imports_raw_ciphers("from cryptography.hazmat.primitives import hashes")
    assert not imports_raw_ciphers("from cryptography.hazmat.primitives.ciphersuite import x")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from servinfo.crypto import _aead", True),
        ("from servinfo.crypto._aead import aes_gcm_seal", True),
        ("import servinfo.crypto._aead", True),
        ("from ..crypto import _aead", True),
        ("from ..crypto._aead import random_key", True),
        ("from servinfo.crypto import envelope", False),
        ("from . import _aead_helpers", False),
    ],
)
def test_aead_scanner(source: str, expected: bool) -> None:
    assert imports_aead_module(source) is expected


def test_only_the_private_aead_module_imports_raw_ciphers() -> None:
    sources = _sources()
    assert HAZMAT_MODULE in sources
    offenders = [
        str(path.relative_to(SRC))
        for path in sources
        if path != HAZMAT_MODULE and imports_raw_ciphers(path.read_text())
    ]
    assert offenders == []
    assert imports_raw_ciphers(HAZMAT_MODULE.read_text())


def test_nothing_outside_crypto_imports_the_private_aead_module() -> None:
    crypto_dir = SRC / "crypto"
    offenders = [
        str(path.relative_to(SRC))
        for path in _sources()
        if crypto_dir not in path.parents and imports_aead_module(path.read_text())
    ]
    assert offenders == []


def test_all_lists_exactly_the_public_names() -> None:
    exported = set(servinfo.crypto.__all__)
    assert len(exported) == len(servinfo.crypto.__all__)  # no duplicates
    public = {
        name
        for name, value in vars(servinfo.crypto).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert exported == public
    assert all(hasattr(servinfo.crypto, name) for name in exported)
    assert "_aead" not in exported
    assert not any(name.startswith("aes_gcm") or name == "AESGCM" for name in exported)
