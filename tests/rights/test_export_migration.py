"""Revision r0003: exports sealed before it stay readable until they expire, then go."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect
from tests.support import PostgresDatabases

from servinfo.crypto import EXPORT, DataKey, Keyring, LocalMasterKeyWrapper, RecordBinding, Sealer
from servinfo.deployment.create import control_migrations
from servinfo.rights import ExportUnavailable
from servinfo.rights.exports import ExportVault
from servinfo.rights.models import ExportRow
from servinfo.store import create_engine_for
from servinfo.store.migrations import alembic_config

NOW = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(days=30)
BLOB = b"PK synthetic export of subj-x"


def _move(engine: Engine, target: str, *, down: bool = False) -> None:
    config = alembic_config("control", control_migrations())
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)


def _legacy_export(engine: Engine, keyring: Keyring) -> None:
    """A row as servinfo wrote it before r0003: sealed directly under the ``export`` key."""
    key = keyring.current(EXPORT)
    binding = RecordBinding(
        "01JEXPORT00000000000000001", "subj-x", "export", "access", "control", 1
    )
    with engine.begin() as connection:
        connection.execute(
            insert(ExportRow).values(
                id=binding.record_id,
                request_id="01JREQUEST0000000000000001",
                kind="access",
                created_at=NOW,
                expires_at=NOW + TTL,
                key_id=key.key_id,
                sealed=Sealer(DataKey(key.key_id, key.secret)).seal(binding, BLOB),
                size=len(BLOB),
            )
        )


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_exports_sealed_before_r0003_open_until_they_expire(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend_name == "sqlite":
        engine = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = create_engine_for(databases.new("control"))
    keyring = Keyring.create(
        tmp_path / "keyring.json", LocalMasterKeyWrapper(os.urandom(32)), ["eu"]
    )
    try:
        _move(engine, "r0002")
        _legacy_export(engine, keyring)
        _move(engine, "heads")
        vault = ExportVault(engine, keyring, TTL)
        info, blob = vault.open("01JREQUEST0000000000000001", "subj-x", NOW)
        assert (blob, info.kind) == (BLOB, "access")
        fresh = vault.store("01JREQUEST0000000000000002", "subj-x", "access", BLOB, NOW)
        assert vault.open("01JREQUEST0000000000000002", "subj-x", NOW)[1] == BLOB
        with pytest.raises(ExportUnavailable, match="expired"):
            vault.open("01JREQUEST0000000000000001", "subj-x", NOW + TTL)
        # Down to r0002: an export under its own key cannot outlive its key table.
        _move(engine, "r0002", down=True)
        with engine.connect() as connection:
            ids = connection.exec_driver_sql("SELECT request_id FROM rights_exports").all()
        assert [i for (i,) in ids] == ["01JREQUEST0000000000000001"]
        assert "rights_export_keys" not in inspect(engine).get_table_names()
        _move(engine, "heads")
        assert vault.open("01JREQUEST0000000000000001", "subj-x", NOW)[1] == BLOB
        fresh = vault.store("01JREQUEST0000000000000002", "subj-x", "access", BLOB, NOW)
        assert vault.purge_expired(NOW + TTL) == 2
        assert vault.latest("01JREQUEST0000000000000001") is None
        assert vault.latest(fresh.request_id) is None
    finally:
        engine.dispose()
