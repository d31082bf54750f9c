"""The ledgers' migration branch creates exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from servinfo.ledgers import LEDGER_MIGRATIONS
from servinfo.ledgers.models import LEDGER_TABLES, ledger_metadata
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.migrations import VERSION_TABLES


def _only_ledger_tables(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or name in LEDGER_TABLES


def _diffs(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": _only_ledger_tables,
            },
        )
        return list(compare_metadata(context, ledger_metadata))


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert _diffs(engine) == []
    assert set(inspect(engine).get_table_names()) >= LEDGER_TABLES


def test_branch_runs_on_an_empty_database_and_is_idempotent(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    for _ in range(2):
        migrate_control(engine, [LEDGER_MIGRATIONS])
    assert _diffs(engine) == []
    with engine.connect() as connection:
        heads = set(
            connection.exec_driver_sql("SELECT version_num FROM alembic_version_control")
            .scalars()
            .all()
        )
    assert "l0002" in heads
    engine.dispose()


def test_tables_are_named_as_the_design_says() -> None:
    assert {
        "objections",
        "restrictions",
        "consents",
        "legal_holds",
        "disclosures",
        "ledger_versions",
    } == LEDGER_TABLES
