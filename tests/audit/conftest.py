"""Fixtures shared by the audit tests: fixed Ed25519 keys (an audit key and a forger's),
and the persistent log on both database backends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from tests.audit.support import NOW, ORIGIN, AuditBackend, FakeClock
from tests.support import PostgresDatabases

from servinfo.audit import AUDIT_MIGRATIONS, AuditLog, CompactRange
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for, migrate_control

EMPTY_FRONTIER = CompactRange().to_bytes()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def public_key(signing_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte key an auditor holds."""
    return signing_key.public_key().public_bytes_raw()


@pytest.fixture
def other_key() -> Ed25519PrivateKey:
    """A key that is not the audit key: what a forger would sign with."""
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


# -- the persistent log, on SQLite and on PostgreSQL ----------------------------------
#
# SQLite: a fresh file per test, copied from one migrated once per run.
# PostgreSQL: one database per run on 127.0.0.1:5432, migrated once, emptied
# before each test and dropped at the end. If the server cannot be reached the
# PostgreSQL half is skipped, unless ``CI`` is set, where it fails.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-template") / "control.db"
    engine = create_engine_for(f"sqlite:///{path}")
    migrate_control(engine, [AUDIT_MIGRATIONS])
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url(postgres_session_databases: PostgresDatabases) -> str:
    """A fresh PostgreSQL control database for the run, migrated; dropped at the end."""
    url = postgres_session_databases.new("audit")
    engine = create_engine_for(url)
    migrate_control(engine, [AUDIT_MIGRATIONS])
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine_for(pg_url)
    yield engine
    engine.dispose()


def _empty_pg(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "TRUNCATE audit_entries, audit_heads, audit_checkpoints, audit_cosignatures,"
            " subject_salts, audit_subject_entries"
        )
        connection.exec_driver_sql(
            "UPDATE audit_state SET next_seq = 0, frontier = %(empty)s, mac = NULL",
            {"empty": EMPTY_FRONTIER},
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def audit_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditBackend]:
    if request.param == "sqlite":
        path = tmp_path / "control.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        engine = create_engine_for(url)
        yield AuditBackend("sqlite", engine, url)
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        _empty_pg(engine)
        yield AuditBackend("postgresql", engine, request.getfixturevalue("pg_url"))


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(
        tmp_path / "keyring.json", LocalMasterKeyWrapper(bytes(range(32))), ["eu"], now=NOW
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def signer_state_file(tmp_path: Path) -> Path:
    """The checkpoint signer's state, in a key folder apart from the database."""
    return tmp_path / "keys" / "audit-signer.json"


@pytest.fixture
def audit_log(
    audit_backend: AuditBackend, keyring: Keyring, clock: FakeClock, signer_state_file: Path
) -> AuditLog:
    """A log that signs a checkpoint every 10 entries or 60 seconds."""
    return AuditLog(
        audit_backend.engine,
        keyring,
        signer_state_file=signer_state_file,
        origin=ORIGIN,
        checkpoint_every_entries=10,
        checkpoint_every_seconds=60,
        clock=clock,
    )
