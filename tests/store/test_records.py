"""Writing and reading records: round trips, filters, batches, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from servinfo.crypto import Keyring
from servinfo.store import (
    InvalidRecord,
    NewRecord,
    PayloadTooLarge,
    RecordNotFound,
    RecordWriter,
    SubjectDirectory,
    UnknownRegion,
    UnknownSubject,
)
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]
Rows = Callable[[Engine, str], int]
ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"


def test_put_then_get_returns_the_fields_and_columns(
    writer: RecordWriter, reader: RecordReader, record: Record, now: datetime
) -> None:
    record_id = writer.put(record(legal_hold=True, schema_version=3))
    stored = reader.get(record_id, "eu")
    assert stored.record_id == record_id
    assert stored.fields == {"username": "user-one", "given_name": "Synthetic"}
    assert (stored.subject_id, stored.org_id, stored.region) == ("subj-eu-1", "org-eu", "eu")
    assert (stored.category, stored.kind, stored.source) == (
        "account",
        "account.profile",
        "identity",
    )
    assert stored.collected_at == now
    assert stored.collected_at.tzinfo is not None
    assert stored.retain_until == date(2036, 3, 1)
    assert stored.legal_hold is True
    assert stored.schema_version == 3
    assert stored.retention_class == "standard"


def test_record_goes_to_the_subjects_home_region(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
) -> None:
    record_id = writer.put(record("subj-us-1"))
    assert reader.get(record_id, "us").subject_id == "subj-us-1"
    assert rows(region_engines["eu"], "records") == 0
    with pytest.raises(RecordNotFound):
        reader.get(record_id, "eu")


def test_given_record_id_and_non_utc_time_round_trip(
    writer: RecordWriter, reader: RecordReader, record: Record
) -> None:
    paris = datetime(2025, 1, 2, 10, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert writer.put(record(record_id=ID, collected_at=paris)) == ID
    assert reader.get(ID, "eu").collected_at == paris


def test_find_by_subject_filters_by_category_and_time(
    writer: RecordWriter, reader: RecordReader, record: Record, now: datetime
) -> None:
    day = timedelta(days=1)
    ids = writer.put_many(
        [
            record(category="account", collected_at=now),
            record(category="telemetry", collected_at=now + day, fields={"n": 1}),
            record(category="telemetry", collected_at=now + 2 * day, fields={"n": 2}),
            record("subj-eu-2", category="telemetry", collected_at=now + day),
        ]
    )
    assert [r.record_id for r in reader.find_by_subject("subj-eu-1")] == ids[:3]
    telemetry = reader.find_by_subject("subj-eu-1", categories=["telemetry"])
    assert [r.fields["n"] for r in telemetry] == [1, 2]
    window = reader.find_by_subject("subj-eu-1", since=now + day, until=now + 2 * day)
    assert [r.record_id for r in window] == [ids[1]]
    assert [r.record_id for r in reader.find_by_subject("subj-eu-1", limit=2)] == ids[:2]
    with pytest.raises(UnknownSubject):
        reader.find_by_subject("nobody")


def test_put_many_spans_batches_and_regions(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
) -> None:
    batch = [
        record(
            "subj-us-1" if i % 3 == 0 else "subj-eu-1",
            fields={"i": i},
            retention_class=f"class{i % 2}",
        )
        for i in range(25)
    ]
    ids = writer.put_many(batch, batch_size=7)
    assert len(set(ids)) == 25
    assert rows(region_engines["us"], "records") == 9
    assert rows(region_engines["eu"], "records") == 16
    # One data key per (subject, region, retention class).
    assert rows(region_engines["eu"], "data_keys") == 2
    assert reader.get(ids[4], "eu").fields == {"i": 4}


def test_unknown_subject_is_refused_and_nothing_is_written(
    writer: RecordWriter, record: Record, rows: Rows, region_engines: dict[str, Engine]
) -> None:
    with pytest.raises(UnknownSubject, match="nobody"):
        writer.put_many([record(), record("nobody")])
    assert rows(region_engines["eu"], "records") == 0
    assert rows(region_engines["eu"], "data_keys") == 0


NAIVE = datetime(2025, 1, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject_id": ""}, "no subject_id"),
        ({"collected_at": NAIVE}, "timezone-aware"),
        ({"retain_until": datetime(2026, 1, 1, tzinfo=UTC)}, "retain_until must be a date"),
        ({"category": ""}, "category"),
        ({"fields": {"when": date(2025, 1, 1)}}, "JSON values"),
        ({"fields": {"x": float("nan")}}, "JSON values"),
        ({"lookup_fields": {"email": ""}}, "lookup field"),
        ({"record_id": "not-a-ulid"}, "ULID"),
        ({"schema_version": -1}, "schema_version"),
        ({"subject_id": "alice@example.com"}, "opaque id"),
    ],
)
def test_a_bad_record_in_a_batch_writes_nothing(
    writer: RecordWriter,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
    overrides: dict[str, object],
    message: str,
) -> None:
    batch = [record(), record("subj-us-1"), record(**overrides)]
    with pytest.raises(InvalidRecord, match=message):
        writer.put_many(batch)
    for engine in region_engines.values():
        assert rows(engine, "records") == 0
        assert rows(engine, "data_keys") == 0


def test_invalid_record_message_does_not_echo_the_value(
    writer: RecordWriter, record: Record
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        writer.put(record("alice@example.com"))
    assert "alice" not in str(caught.value)


def test_oversized_payload_is_refused_with_limit_and_size(
    directory: SubjectDirectory,
    region_engines: dict[str, Engine],
    keyring: Keyring,
    record: Record,
    rows: Rows,
) -> None:
    small = RecordWriter(directory, region_engines, keyring, max_payload_bytes=100)
    small.put(record(fields={"x": "a" * 50}))
    with pytest.raises(PayloadTooLarge, match=r"is 110 bytes, the limit is 100 bytes"):
        small.put_many([record(), record(fields={"x": "a" * 102})])
    assert rows(region_engines["eu"], "records") == 1


def test_default_payload_limit_is_one_mebibyte(writer: RecordWriter, record: Record) -> None:
    with pytest.raises(PayloadTooLarge, match="limit is 1048576 bytes"):
        writer.put(record(fields={"x": "a" * (1 << 20)}))


def test_unknown_region_is_refused(
    control_engine: Engine,
    region_engines: dict[str, Engine],
    keyring: Keyring,
    reader: RecordReader,
    record: Record,
    rows: Rows,
    directory: SubjectDirectory,
) -> None:
    # The deployment knows "ap", but this writer has no database for it.
    wider = SubjectDirectory(control_engine, ("eu", "us", "ap"))
    wider.add_organization("org-ap", "Org AP", "ap")
    wider.register_subject("subj-ap-1", "org-ap", "sg")
    writer = RecordWriter(wider, region_engines, keyring)
    with pytest.raises(UnknownRegion, match="'ap'"):
        writer.put_many([record(), record("subj-ap-1")])
    assert rows(region_engines["eu"], "records") == 0
    with pytest.raises(UnknownRegion, match="'mars'"):
        reader.get(ID, "mars")
    with pytest.raises(UnknownRegion):
        directory.add_organization("org-mars", "Org Mars", "mars")


def test_duplicate_record_id_is_refused(writer: RecordWriter, record: Record) -> None:
    writer.put(record(record_id=ID))
    with pytest.raises(InvalidRecord, match="already exists"):
        writer.put(record(record_id=ID))


def test_get_unknown_record_is_not_found(reader: RecordReader) -> None:
    with pytest.raises(RecordNotFound, match=ID):
        reader.get(ID, "eu")


def test_delete_removes_the_record_and_its_indexes(
    writer: RecordWriter, reader: RecordReader, record: Record
) -> None:
    record_id = writer.put(record(lookup_fields={"email": "one@example.test"}))
    other = writer.put(record())
    writer.delete(record_id, "eu")
    with pytest.raises(RecordNotFound):
        reader.get(record_id, "eu")
    assert reader.find_by_lookup("email", "one@example.test") == []
    assert reader.get(other, "eu").fields["username"] == "user-one"
    with pytest.raises(RecordNotFound):
        writer.delete(record_id, "eu")


def test_rectify_reseals_under_a_fresh_key_of_its_own(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
) -> None:
    record_id = writer.put(record(lookup_fields={"email": "old@example.test"}))
    sibling = writer.put(record())
    shared_key = reader.get(record_id, "eu").key_id
    writer.rectify(
        record_id, "eu", {"given_name": "Corrected"}, lookup_fields={"email": "new@example.test"}
    )
    first = reader.get(record_id, "eu")
    assert first.fields == {"username": "user-one", "given_name": "Corrected"}
    assert first.key_id != shared_key
    assert reader.get(sibling, "eu").key_id == shared_key
    assert reader.find_by_lookup("email", "old@example.test") == []
    found = reader.find_by_lookup("email", "new@example.test")
    assert [location.record_id for location in found] == [record_id]
    # A second rectification destroys the record's previous own key.
    writer.rectify(record_id, "eu", {"given_name": "Again"})
    second = reader.get(record_id, "eu")
    assert second.fields["given_name"] == "Again"
    assert second.key_id not in (first.key_id, shared_key)
    assert rows(region_engines["eu"], "data_keys") == 2


def test_iter_region_pages_through_everything(
    writer: RecordWriter, reader: RecordReader, record: Record, now: datetime
) -> None:
    ids = writer.put_many(
        [record(collected_at=now + timedelta(seconds=i % 4), fields={"i": i}) for i in range(11)]
    )
    seen = [r.record_id for r in reader.iter_region("eu", batch_size=3)]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 11
