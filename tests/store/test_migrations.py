"""Migrations create exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from servinfo.store import create_engine_for, migrate_control, migrate_region
from servinfo.store.migrations import VERSION_TABLES, Tree
from servinfo.store.models import control_metadata, region_metadata


def _diffs(engine: Engine, metadata: MetaData, tree: Tree) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLES[tree], "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_models(
    control_engine: Engine, region_engines: dict[str, Engine]
) -> None:
    assert _diffs(control_engine, control_metadata, "control") == []
    for engine in region_engines.values():
        assert _diffs(engine, region_metadata, "region") == []


def test_migrations_run_on_an_empty_file_and_are_idempotent(tmp_path: Path) -> None:
    control = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}", role="control")
    region = create_engine_for(f"sqlite:///{tmp_path / 'eu.db'}")
    for _ in range(2):
        migrate_control(control)
        migrate_region(region)
    assert _diffs(control, control_metadata, "control") == []
    assert _diffs(region, region_metadata, "region") == []
    with region.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version_region")
        assert version.scalar_one() == "r0001"
    control.dispose()
    region.dispose()


def test_primary_key_of_records_starts_with_collected_at(region_engines: dict[str, Engine]) -> None:
    from sqlalchemy import inspect

    for engine in region_engines.values():
        assert inspect(engine).get_pk_constraint("records")["constrained_columns"] == [
            "collected_at",
            "id",
        ]
