"""The driver-level helpers of the ingest path, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, Table, exc, insert

from servinfo.store._bulk import IN_CHUNK, as_utc, bulk_insert, fetch_for_ids, time_value
from servinfo.store.directory import SubjectDirectory
from servinfo.store.models import ErasedRecordRow, SubjectRow

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_ERASED: Table = ErasedRecordRow.__table__  # type: ignore[assignment]


def test_fetch_for_ids_spans_chunks(region_engines: dict[str, Engine]) -> None:
    ids = [f"r{i:05d}" for i in range(IN_CHUNK * 2 + 7)]
    engine = region_engines["eu"]
    with engine.begin() as connection:
        when = time_value(connection)(NOW)
        bulk_insert(connection, _ERASED, ("record_id", "erased_at"), [(i, when) for i in ids])
    query = "SELECT record_id, erased_at FROM erased_records WHERE record_id {ids}"
    with engine.begin() as connection:
        rows = fetch_for_ids(connection, query, [*ids[::2], "missing"])
        assert fetch_for_ids(connection, query, []) == []
    assert sorted(r[0] for r in rows) == ids[::2]
    assert {as_utc(r[1]) for r in rows} == {NOW}


def test_bulk_insert_raises_sqlalchemys_integrity_error(
    region_engines: dict[str, Engine],
) -> None:
    engine = region_engines["eu"]
    with engine.begin() as connection:
        when = time_value(connection)(NOW)
        twice = [("a", when), ("a", when)]
        with pytest.raises(exc.IntegrityError):
            bulk_insert(connection, _ERASED, ("record_id", "erased_at"), twice)


def test_times_are_stored_as_core_stores_them(
    control_engine: Engine, directory: SubjectDirectory
) -> None:
    """Bulk-inserted times read back equal to Core-inserted ones (both paths filter on them)."""
    engine = control_engine
    paris = timezone(timedelta(hours=1))
    moments = [NOW, NOW.astimezone(paris), datetime(2025, 3, 1, 12, 0, 0, 7, tzinfo=UTC)]
    with engine.begin() as connection:
        as_time = time_value(connection)
        for i, moment in enumerate(moments):
            connection.execute(
                insert(SubjectRow).values(
                    subject_id=f"core-{i}",
                    org_id="org-eu",
                    home_region="eu",
                    jurisdiction="de",
                    created_at=moment,
                )
            )
            bulk_insert(
                connection,
                SubjectRow.__table__,  # type: ignore[arg-type]
                ("subject_id", "org_id", "home_region", "jurisdiction", "created_at"),
                [(f"bulk-{i}", "org-eu", "eu", "de", as_time(moment))],
            )
    names = [f"{kind}-{i}" for kind in ("core", "bulk") for i in range(3)]
    with engine.begin() as connection:
        stored = dict(
            fetch_for_ids(
                connection,
                "SELECT subject_id, created_at FROM subjects WHERE subject_id {ids}",
                names,
            )
        )
    for i in range(3):
        assert stored[f"core-{i}"] == stored[f"bulk-{i}"]  # the very same text / timestamptz
    found = directory.subjects(names)
    for i, moment in enumerate(moments):
        assert found[f"core-{i}"].created_at == found[f"bulk-{i}"].created_at == moment
        assert found[f"bulk-{i}"].created_at.tzinfo is UTC


def test_as_utc() -> None:
    assert as_utc(None) is None
    assert as_utc("2025-03-01 12:00:00.000007") == datetime(2025, 3, 1, 12, 0, 0, 7, tzinfo=UTC)
    assert as_utc(datetime(2025, 3, 1, 12, 0)) == NOW
    moved = as_utc(NOW.astimezone(timezone(timedelta(hours=-5))))
    assert moved == NOW
    assert moved.tzinfo is UTC
