"""Migrations create exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect
from tests.support import PostgresDatabases

from servinfo.store import create_engine_for, migrate_control, migrate_region
from servinfo.store.engines import is_sqlite
from servinfo.store.migrations import VERSION_TABLES, Tree, alembic_config
from servinfo.store.models import control_metadata, region_metadata
from servinfo.store.partitions import is_partition


def _not_a_partition(name: str | None, type_: str, parents: object) -> bool:
    # records' partitions (PostgreSQL) are not in the models: the store makes them.
    return not (type_ == "table" and name is not None and is_partition(name))


def _diffs(engine: Engine, metadata: MetaData, tree: Tree) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES[tree],
                "compare_type": True,
                "include_name": _not_a_partition,
            },
        )
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_models(
    control_engine: Engine, region_engines: dict[str, Engine]
) -> None:
    assert _diffs(control_engine, control_metadata, "control") == []
    for engine in region_engines.values():
        assert _diffs(engine, region_metadata, "region") == []


def test_migrations_run_on_an_empty_file_and_are_idempotent(tmp_path: Path) -> None:
    control = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    region = create_engine_for(f"sqlite:///{tmp_path / 'eu.db'}")
    for _ in range(2):
        migrate_control(control)
        migrate_region(region)
    assert _diffs(control, control_metadata, "control") == []
    assert _diffs(region, region_metadata, "region") == []
    with region.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version_region")
        assert version.scalar_one() == "r0007"
    control.dispose()
    region.dispose()


def test_primary_key_of_records_starts_with_collected_at(region_engines: dict[str, Engine]) -> None:
    from sqlalchemy import inspect

    for engine in region_engines.values():
        # PostgreSQL partitions records by category and time: the key holds both.
        assert inspect(engine).get_pk_constraint("records")["constrained_columns"] == [
            "collected_at",
            "id",
            *([] if is_sqlite(engine) else ["category"]),
        ]


def _blind_index_sql(engine: Engine) -> str:
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'blind_index'"
        )
        return str(found.scalar_one())


def test_blind_index_is_without_rowid_on_sqlite(region_engines: dict[str, Engine]) -> None:
    for engine in region_engines.values():
        if is_sqlite(engine):
            assert _blind_index_sql(engine).rstrip().endswith("WITHOUT ROWID")
        table = inspect(engine)
        assert table.get_pk_constraint("blind_index")["constrained_columns"] == [
            "field",
            "digest",
            "record_id",
        ]
        assert [i["column_names"] for i in table.get_indexes("blind_index")] == [["record_id"]]


def _fresh_region(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest, label: str
) -> Engine:
    """An empty region database of ``backend_name``."""
    if backend_name == "sqlite":
        return create_engine_for(f"sqlite:///{tmp_path / 'eu.db'}")
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return create_engine_for(databases.new(label))


def _move_to(engine: Engine, target: str, *, down: bool = False) -> None:
    config = alembic_config("region")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)


_ROW = ("email", bytes(range(16)), "01HV8Z3K4M5N6P7Q8R9S0T1V2W", "subj-1", "blind_index:v1")


def _blind_index_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT field, digest, record_id, subject_id, index_key_id FROM blind_index"
        )
        return [(f, bytes(d), r, s, k) for f, d, r, s, k in rows]


#: Tables of region revisions after r0002.
_LATER_TABLES = frozenset({"request_marks", "store_stamp", "sweep_progress", "sweep_seals"})
#: Indexes of region revisions after r0002 on tables r0001 made.
_LATER_INDEXES = frozenset({"ix_records_retain_until"})


def _table_of(element: object) -> str | None:
    """The table an added table or index belongs to."""
    table = getattr(element, "table", element)
    name = getattr(table, "name", None)
    return name if isinstance(name, str) else None


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_r0002_keeps_the_blind_index_rows_both_ways(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = _fresh_region(backend_name, tmp_path, request, "r0002")
    try:
        _move_to(engine, "r0001")
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO blind_index (field, digest, record_id, subject_id, index_key_id) "
                + (
                    "VALUES (?, ?, ?, ?, ?)" if is_sqlite(engine) else "VALUES (%s, %s, %s, %s, %s)"
                ),
                _ROW,
            )
        migrate_region(engine)
        assert _blind_index_rows(engine) == [_ROW]
        assert _diffs(engine, region_metadata, "region") == []
        if is_sqlite(engine):
            assert "WITHOUT ROWID" in _blind_index_sql(engine)
        _move_to(engine, "r0001", down=True)
        assert _blind_index_rows(engine) == [_ROW]
        # r0001's schema: the models' but for the tables later revisions add.
        assert [
            d
            for d in _diffs(engine, region_metadata, "region")
            if not (
                isinstance(d, tuple)
                and (
                    _table_of(d[1]) in _LATER_TABLES or getattr(d[1], "name", "") in _LATER_INDEXES
                )
            )
        ] == []
        if is_sqlite(engine):
            assert "WITHOUT ROWID" not in _blind_index_sql(engine)
    finally:
        engine.dispose()


def _record_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, category, kind, retain_until, legal_hold, ciphertext FROM records"
        )
        return sorted((i, c, k, str(r), bool(h), bytes(x)) for i, c, k, r, h, x in rows)


def _insert_records(engine: Engine) -> None:
    p = "?" if is_sqlite(engine) else "%s"
    rows = [
        (f"01HV8Z3K4M5N6P7Q8R9S0T1V{n:02d}", category, kind, at, end, n == 3)
        for n, (category, kind, at, end) in enumerate(
            [
                ("telemetry", "telemetry.status", "2025-01-05 08:00:00", "2025-04-05"),
                ("telemetry", "telemetry.status", "2025-01-31 23:59:59", "2025-05-01"),
                ("telemetry", "telemetry.usage", "2025-02-01 00:00:00", "2026-03-01"),
                ("account", "account.profile", "2025-01-07 10:00:00", "9999-12-31"),
            ]
        )
    ]
    columns = (
        "id, subject_id, org_id, category, kind, source, collected_at, retain_until, "
        "legal_hold, schema_version, key_id, ciphertext"
    )
    statement = f"INSERT INTO records ({columns}) VALUES ({', '.join([p] * 12)})"  # noqa: S608
    with engine.begin() as connection:
        for record_id, category, kind, at, end, held in rows:
            connection.exec_driver_sql(
                statement,
                (record_id, "subj-1", "org-1", category, kind, "platform",
                 at if is_sqlite(engine) else f"{at}+00", end, held, 1, "k" * 26,
                 record_id.encode()),
            )  # fmt: skip


def _partition_of(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, tableoid::regclass::text FROM records")
        return {str(i): str(t) for i, t in rows}


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_r0007_keeps_every_record_both_ways(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = _fresh_region(backend_name, tmp_path, request, "r0007")
    try:
        _move_to(engine, "r0006")
        _insert_records(engine)
        before = _record_rows(engine)
        assert len(before) == 4
        migrate_region(engine)
        assert _record_rows(engine) == before
        assert _diffs(engine, region_metadata, "region") == []
        if not is_sqlite(engine):
            # Telemetry by month of collection (UTC), every other category apart.
            assert _partition_of(engine) == {
                "01HV8Z3K4M5N6P7Q8R9S0T1V00": "records_telemetry_2025_01",
                "01HV8Z3K4M5N6P7Q8R9S0T1V01": "records_telemetry_2025_01",
                "01HV8Z3K4M5N6P7Q8R9S0T1V02": "records_telemetry_2025_02",
                "01HV8Z3K4M5N6P7Q8R9S0T1V03": "records_other",
            }
        _move_to(engine, "r0006", down=True)
        assert _record_rows(engine) == before
        assert _diffs(engine, region_metadata, "region") == []
        if not is_sqlite(engine):
            with engine.connect() as connection:
                kind = connection.exec_driver_sql(
                    "SELECT relkind FROM pg_class WHERE relname = 'records'"
                ).scalar_one()
            assert kind == "r"
    finally:
        engine.dispose()
