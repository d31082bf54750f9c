"""RecordFinder (the read path's driver-level fetch) answers exactly as find_record does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, update

from servinfo.crypto import IntegrityError
from servinfo.store import NewRecord, RecordWriter, SubjectErased
from servinfo.store._rows import RecordFinder, find_record
from servinfo.store.models import DataKeyRow, ErasedRecordRow
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]


def _core(engine: Engine, record_id: str) -> object:
    with engine.connect() as connection:
        return find_record(connection, record_id)


def test_loaded_record_is_identical_to_the_core_path(
    writer: RecordWriter, region_engines: dict[str, Engine], record: Record
) -> None:
    paris = datetime(2025, 2, 3, 4, 5, 6, 789_012, tzinfo=ZoneInfo("Europe/Paris"))
    ids = writer.put_many(
        [record(), record(collected_at=paris, legal_hold=True), record("subj-us-1")]
    )
    for record_id in ids:
        region = "us" if record_id == ids[2] else "eu"
        engine = region_engines[region]
        fast = RecordFinder(engine).find(record_id)
        assert fast is not None
        assert fast == _core(engine, record_id)
        assert fast.collected_at.tzinfo is UTC
        assert type(fast.legal_hold) is bool
        assert type(fast.ciphertext) is bytes
    assert RecordFinder(region_engines["us"]).find(ids[0]) is None


def test_unknown_id_is_none(region_engines: dict[str, Engine]) -> None:
    assert RecordFinder(region_engines["eu"]).find("01JF0000000000000000000000") is None


def test_tombstone_and_destroyed_key_raise_subject_erased(
    writer: RecordWriter, region_engines: dict[str, Engine], record: Record, now: datetime
) -> None:
    engine = region_engines["eu"]
    record_id = writer.put(record())
    with engine.begin() as connection:
        connection.execute(update(DataKeyRow).values(wrapped=None))
    with pytest.raises(SubjectErased, match="subject subj-eu-1"):
        RecordFinder(engine).find(record_id)
    with engine.begin() as connection:
        connection.execute(insert(ErasedRecordRow).values(record_id="gone-1", erased_at=now))
    with pytest.raises(SubjectErased, match="the subject of record gone-1"):
        RecordFinder(engine).find("gone-1")


def test_key_naming_no_key_raises_integrity_error(
    writer: RecordWriter, reader: RecordReader, region_engines: dict[str, Engine], record: Record
) -> None:
    engine = region_engines["eu"]
    record_id = writer.put(record())
    with engine.begin() as connection:
        connection.execute(update(DataKeyRow).values(id="01JF0000000000000000000000"))
    with pytest.raises(IntegrityError) as raised:
        RecordFinder(engine).find(record_id)
    assert record_id in str(raised.value)
    with pytest.raises(IntegrityError):
        reader.fetch(record_id)


def test_fetch_tries_every_region_and_remembers_the_last(
    writer: RecordWriter, reader: RecordReader, record: Record
) -> None:
    eu, us = writer.put_many([record(), record("subj-us-1")])
    assert reader.fetch(us).region == "us"
    assert reader.fetch(eu).region == "eu"
    assert reader.open(reader.fetch(us)).fields == record("subj-us-1").fields
