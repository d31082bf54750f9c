"""The audit package's exported names and its boundaries."""

from __future__ import annotations

import inspect
from pathlib import Path

import servinfo.audit
from servinfo.audit import AuditError, EntryInvalid, HeadInvalid, LogTampered, ProofInvalid
from servinfo.errors import ServinfoError

SRC = Path(servinfo.audit.__file__).parent


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
    for error in (EntryInvalid, HeadInvalid, LogTampered, ProofInvalid):
        assert issubclass(error, AuditError)
    assert LogTampered(3, "gone").message == "audit log tampered at entry 3: gone"


def test_the_audit_core_touches_no_database_and_no_raw_ciphers() -> None:
    # Pure: the storage step builds on it, not the other way round.
    for path in SRC.glob("*.py"):
        source = path.read_text()
        for forbidden in ("sqlalchemy", "sqlite3", "servinfo.store", "hazmat.primitives.ciphers"):
            assert forbidden not in source, f"{path.name} mentions {forbidden}"
