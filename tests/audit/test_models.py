"""The audit branch of the control migrations creates exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from tests.audit.support import AuditBackend

from servinfo.audit import AUDIT_MIGRATIONS, CompactRange
from servinfo.audit.models import audit_metadata
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.migrations import VERSION_TABLES

OURS = set(audit_metadata.tables)


def _diffs(engine: Engine) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "table" or name in OURS

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": ours,
            },
        )
        return list(compare_metadata(context, audit_metadata))


def test_migrated_tables_match_the_models(audit_backend: AuditBackend) -> None:
    assert _diffs(audit_backend.engine) == []
    assert {
        "audit_entries",
        "audit_checkpoints",
        "audit_cosignatures",
        "audit_heads",
        "audit_state",
        "subject_salts",
        "audit_subject_entries",
    } == OURS
    inspector = inspect(audit_backend.engine)
    assert set(inspector.get_table_names()) >= OURS
    # Every stored column of an entry is covered by its hash: the time lives in the bytes.
    assert {c["name"] for c in inspector.get_columns("audit_entries")} == {
        "seq",
        "leaf_hash",
        "entry",
    }
    assert "mac" in {c["name"] for c in inspector.get_columns("audit_state")}


def test_the_migration_starts_an_empty_log_and_runs_once(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    for _ in range(2):
        migrate_control(engine, [AUDIT_MIGRATIONS])
    assert _diffs(engine) == []
    with engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version_control")
        assert "a0003" in set(versions.scalars())
        state = connection.exec_driver_sql(
            "SELECT id, next_seq, frontier, mac FROM audit_state"
        ).all()
        checkpoints = connection.exec_driver_sql("SELECT COUNT(*) FROM audit_checkpoints")
        assert checkpoints.scalar_one() == 0
    assert [tuple(row) for row in state] == [(1, 0, CompactRange().to_bytes(), None)]
    engine.dispose()


def test_sqlite_keys_are_rowids(audit_backend: AuditBackend) -> None:
    """INTEGER PRIMARY KEY: appends and checkpoints maintain no second index."""
    if not audit_backend.is_sqlite:
        return
    with audit_backend.engine.connect() as connection:
        for table in ("audit_entries", "audit_heads", "audit_checkpoints"):
            indexes = connection.exec_driver_sql(f"PRAGMA index_list({table})").all()
            assert indexes == [], table
