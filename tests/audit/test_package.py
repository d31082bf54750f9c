"""The audit package's exported names and its boundaries."""

from __future__ import annotations

import ast
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
from servinfo.audit.auditor import NotWitnessed
from servinfo.audit.errors import CheckpointInvalid, NoteInvalid, PolicyInvalid, QuorumNotMet
from servinfo.audit.signer import SignerRefused, SignerStateInvalid
from servinfo.errors import ServinfoError

SRC = Path(servinfo.audit.__file__).parent
#: The pure core: hashing, entries, the C2SP formats (notes, checkpoints, cosignatures,
#: policies, tlog-proofs, tlog-witness bodies), legacy heads and their proofs,
#: verification. The signer, the log, its tables, migrations, witnessing, service and
#: CLI build on it, never the other way round.
PURE_CORE = (
    "_codec.py",
    "_template.py",
    "checkpoint.py",
    "cosignature.py",
    "entries.py",
    "errors.py",
    "heads.py",
    "merkle.py",
    "note.py",
    "policy.py",
    "proofs.py",
    "sink.py",
    "tlog_proof.py",
    "verify.py",
    "witness_protocol.py",
)
#: Imports the pure core may not make: a database, the log built on it, the network,
#: the file system's locks, raw ciphers.
_FORBIDDEN_IMPORTS = (
    "sqlalchemy",
    "sqlite3",
    "psycopg",
    "httpx",
    "fcntl",
    "servinfo.store",
    "servinfo.audit.log",
    "servinfo.audit._storage",
    "servinfo.audit.signer",
    "cryptography.hazmat.primitives.ciphers",
)


def _imports(path: Path) -> set[str]:
    """The modules a source file imports (docstrings may name anything)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


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
    errors = (
        EntryInvalid,
        EntryNotFound,
        HeadInvalid,
        HeadNotFound,
        LogTampered,
        ProofInvalid,
        RangeInvalid,
        NoteInvalid,
        CheckpointInvalid,
        PolicyInvalid,
        QuorumNotMet,
        SignerRefused,
        SignerStateInvalid,
        NotWitnessed,
    )
    for error in errors:
        assert issubclass(error, AuditError)
    # Each names itself to a user (one line, exit 2) by its own code.
    assert len({error.code for error in errors}) == len(errors)
    assert LogTampered(3, "gone").message == "audit log tampered at entry 3: gone"


def test_the_audit_core_touches_no_database_and_no_raw_ciphers() -> None:
    # Pure: the storage step builds on it, not the other way round.
    for name in PURE_CORE:
        for module in _imports(SRC / name):
            for forbidden in _FORBIDDEN_IMPORTS:
                assert module != forbidden, f"{name} imports {module}"
                assert not module.startswith(forbidden + "."), f"{name} imports {module}"


def test_every_module_is_either_pure_core_or_listed_as_built_on_it() -> None:
    built_on = {
        "__init__.py",
        "_checks.py",
        "_inserts.py",
        "_recent.py",
        "_storage.py",
        "auditor.py",
        "buffer.py",
        "cli.py",
        "evidence.py",
        "history.py",
        "log.py",
        "metrics.py",
        "models.py",
        "rebase.py",
        "routes.py",
        "service.py",
        "signer.py",
        "subject_salts.py",
        "witness_client.py",
        "witnessing.py",
    }
    assert {p.name for p in SRC.glob("*.py")} == set(PURE_CORE) | built_on


def test_no_module_of_the_audit_package_touches_raw_ciphers() -> None:
    for path in SRC.rglob("*.py"):
        assert "hazmat.primitives.ciphers" not in path.read_text(), path.name
