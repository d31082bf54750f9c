"""PostgreSQL's monthly partitions of telemetry: made ahead, at ingest, and as a safety net."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from tests.store.conftest import Backend

from servinfo.store.partitions import (
    Leaf,
    ensure_months_ahead,
    ensure_partitions,
    is_partition,
    is_partitioned,
    month_partition,
    record_leaves,
)

MAY_2024 = dt.datetime(2024, 5, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))


def _insert(engine: Engine, record_id: str, category: str, at: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO records (id, subject_id, org_id, category, kind, source, collected_at, "
            "retain_until, legal_hold, schema_version, key_id, ciphertext) VALUES "
            "(%s, 's', 'o', %s, %s, 'platform', %s, '2030-01-01', false, 1, 'k', 'x')",
            (record_id, category, f"{category}.x", at),
        )


def _table_of(engine: Engine, record_id: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.exec_driver_sql(
                "SELECT tableoid::regclass::text FROM records WHERE id = %s", (record_id,)
            ).scalar_one()
        )


def test_names() -> None:
    assert month_partition("telemetry", dt.date(2026, 1, 1)) == "records_telemetry_2026_01"
    assert is_partition("records_telemetry_2026_01")
    assert is_partition("records_other")
    assert not is_partition("records")
    assert not is_partition("data_keys")
    assert not is_partition("records; DROP TABLE data_keys")
    assert Leaf("records_telemetry_2026_12", dt.date(2026, 12, 1)).ends == dt.date(2027, 1, 1)


def test_sqlite_has_one_table_of_records(backend: Backend) -> None:
    engine = backend.regions["eu"]
    if backend.is_sqlite:
        assert not is_partitioned(engine)
        assert record_leaves(engine) == [Leaf("records")]
        assert ensure_months_ahead(engine, dt.date(2026, 12, 7)) == []
        return
    assert is_partitioned(engine)
    made = ensure_months_ahead(engine, dt.date(2026, 12, 7))
    assert made == ["records_telemetry_2026_12", "records_telemetry_2027_01"]
    assert ensure_months_ahead(engine, dt.date(2026, 12, 7)) == []  # made once
    assert [leaf.name for leaf in record_leaves(engine)] == [
        "records_telemetry_2026_12",
        "records_telemetry_2027_01",
        "records_other",
        "records_telemetry_default",
    ]


def test_rows_of_a_month_without_partition_land_in_the_default_then_move_into_it(
    backend: Backend,
) -> None:
    engine = backend.regions["eu"]
    if backend.is_sqlite:
        return
    # 31 May 2024 23:30 at UTC-2 is 1 June 2024 in UTC: the month is UTC's.
    _insert(engine, "stray", "telemetry", MAY_2024.isoformat())
    _insert(engine, "profile", "account", MAY_2024.isoformat())
    assert _table_of(engine, "stray") == "records_telemetry_default"
    assert _table_of(engine, "profile") == "records_other"
    assert ensure_partitions(engine, [("telemetry", MAY_2024), ("account", MAY_2024)]) == [
        "records_telemetry_2024_06"
    ]
    assert _table_of(engine, "stray") == "records_telemetry_2024_06"
    assert _table_of(engine, "profile") == "records_other"
