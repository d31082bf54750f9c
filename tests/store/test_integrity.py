"""Tampered, truncated or moved ciphertexts are detected, never returned."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select, update

from servinfo.crypto import IntegrityError
from servinfo.store import NewRecord, RecordWriter
from servinfo.store.models import RecordRow, region_metadata
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]


def _ciphertext(engine: Engine, record_id: str) -> bytes:
    with engine.connect() as connection:
        return connection.execute(
            select(RecordRow.ciphertext).where(RecordRow.id == record_id)
        ).scalar_one()


def _set(engine: Engine, record_id: str, **values: object) -> None:
    with engine.begin() as connection:
        connection.execute(update(RecordRow).where(RecordRow.id == record_id).values(**values))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_flipped_byte_is_detected(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    region_engines: dict[str, Engine],
    data: st.DataObject,
) -> None:
    engine = region_engines["eu"]
    record_id = writer.put(record(record_id="01JABCDEFGHJKMNPQRSTVWXYZ0"))
    try:
        original = _ciphertext(engine, record_id)
        position = data.draw(st.integers(0, len(original) - 1), label="position")
        mask = data.draw(st.integers(1, 255), label="xor mask")
        tampered = bytearray(original)
        tampered[position] ^= mask
        _set(engine, record_id, ciphertext=bytes(tampered))
        with pytest.raises(IntegrityError) as caught:
            reader.get(record_id, "eu")
        assert caught.value.record_id == record_id
        assert str(caught.value) == f"record {record_id}: ciphertext failed its integrity check"
    finally:
        writer.delete(record_id, "eu")


@pytest.mark.parametrize("keep", [0, 11, 27, -1])
def test_truncated_ciphertext_is_detected(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    region_engines: dict[str, Engine],
    keep: int,
) -> None:
    record_id = writer.put(record())
    original = _ciphertext(region_engines["eu"], record_id)
    _set(region_engines["eu"], record_id, ciphertext=original[:keep])
    with pytest.raises(IntegrityError, match=record_id):
        reader.get(record_id, "eu")


def test_ciphertext_moved_to_another_row_is_detected(
    writer: RecordWriter, reader: RecordReader, record: Record, region_engines: dict[str, Engine]
) -> None:
    # Same subject and key: only the associated data (the record id) differs.
    first, second = writer.put_many([record(), record(fields={"other": True})])
    engine = region_engines["eu"]
    _set(engine, second, ciphertext=_ciphertext(engine, first))
    with pytest.raises(IntegrityError, match=second):
        reader.get(second, "eu")
    assert reader.get(first, "eu").fields["username"] == "user-one"


@pytest.mark.parametrize(
    "change",
    [
        {"subject_id": "subj-eu-2"},
        {"category": "payments"},
        {"kind": "account.other"},
        {"schema_version": 2},
    ],
)
def test_changed_bound_column_is_detected(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    region_engines: dict[str, Engine],
    change: dict[str, object],
) -> None:
    writer.put(record("subj-eu-2"))  # so subj-eu-2 has a key too
    record_id = writer.put(record())
    _set(region_engines["eu"], record_id, **change)
    with pytest.raises(IntegrityError, match=record_id):
        reader.get(record_id, "eu")


def test_row_copied_to_another_region_is_detected(
    writer: RecordWriter, reader: RecordReader, record: Record, region_engines: dict[str, Engine]
) -> None:
    record_id = writer.put(record())
    eu, us = region_engines["eu"], region_engines["us"]
    with eu.connect() as source, us.begin() as target:
        for name in ("data_keys", "records"):
            table = region_metadata.tables[name]
            rows = source.execute(select(table)).mappings().all()
            target.execute(insert(table), [dict(row) for row in rows])
    # The data key is bound to its region and the record to its region.
    with pytest.raises(IntegrityError, match=record_id):
        reader.get(record_id, "us")


def test_key_id_pointing_nowhere_is_detected(
    writer: RecordWriter, reader: RecordReader, record: Record, region_engines: dict[str, Engine]
) -> None:
    record_id = writer.put(record())
    _set(region_engines["eu"], record_id, key_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")
    with pytest.raises(IntegrityError, match=record_id):
        reader.get(record_id, "eu")
