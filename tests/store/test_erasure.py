"""Erasure by crypto-shredding: keys destroyed everywhere, reads say so, bytes gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.store import (
    NewRecord,
    RecordWriter,
    ShredLedger,
    SubjectDirectory,
    SubjectErased,
    UnknownSubject,
)
from servinfo.store.models import DataKeyRow, region_metadata
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]
Rows = Callable[[Engine, str], int]


def _wrapped_keys(engine: Engine) -> list[bytes]:
    with engine.connect() as connection:
        return [w for w in connection.scalars(select(DataKeyRow.wrapped)) if w is not None]


def test_erased_records_read_as_erased_and_kept_class_stays_readable(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
) -> None:
    standard = writer.put(record(lookup_fields={"email": "gone@example.test"}))
    invoice = writer.put(
        record(category="payments", kind="payments.invoice", retention_class="legal_obligation")
    )
    other = writer.put(record("subj-eu-2"))
    report = writer.erase_subject("subj-eu-1", keep_classes=["legal_obligation"])
    assert report.records_deleted == 1
    assert report.keys_destroyed == 1
    assert report.kept_classes == ("legal_obligation",)
    eu = next(r for r in report.regions if r.region == "eu")
    assert eu.destroyed_classes == ("standard",)
    assert eu.storage_purged
    with pytest.raises(SubjectErased, match="has been erased"):
        reader.get(standard, "eu")
    assert reader.get(invoice, "eu").fields["username"] == "user-one"
    assert [r.record_id for r in reader.find_by_subject("subj-eu-1")] == [invoice]
    assert reader.get(other, "eu").subject_id == "subj-eu-2"
    assert reader.find_by_lookup("email", "gone@example.test") == []
    assert rows(region_engines["eu"], "blind_index") == 0


def test_erasing_all_classes_leaves_nothing_readable(
    writer: RecordWriter, reader: RecordReader, record: Record
) -> None:
    ids = writer.put_many(
        [record(), record(retention_class="legal_obligation"), record(retention_class="x")]
    )
    writer.erase_subject("subj-eu-1")
    for record_id in ids:
        with pytest.raises(SubjectErased):
            reader.get(record_id, "eu")
    assert reader.find_by_subject("subj-eu-1") == []


def test_erased_subject_gets_no_new_records(
    writer: RecordWriter, record: Record, directory: SubjectDirectory
) -> None:
    writer.put(record())
    writer.erase_subject("subj-eu-1", keep_classes=["legal_obligation"])
    assert directory.get_subject("subj-eu-1").erased
    with pytest.raises(SubjectErased):
        writer.put(record())
    with pytest.raises(SubjectErased):
        writer.put(record(retention_class="legal_obligation"))


def test_a_copy_of_an_erased_row_is_unreadable(
    writer: RecordWriter, reader: RecordReader, record: Record, region_engines: dict[str, Engine]
) -> None:
    # As if the row came back from a backup taken before the erasure.
    record_id = writer.put(record())
    engine = region_engines["eu"]
    records = region_metadata.tables["records"]
    with engine.connect() as connection:
        saved = dict(connection.execute(select(records)).mappings().one())
    writer.erase_subject("subj-eu-1")
    with engine.begin() as connection:
        connection.execute(insert(records), [saved])
    with pytest.raises(SubjectErased):
        reader.get(record_id, "eu")


def test_erasure_writes_a_pseudonymous_ledger_entry_per_region(
    writer: RecordWriter, record: Record, control_engine: Engine, keyring: Keyring
) -> None:
    writer.put(record())
    report = writer.erase_subject("subj-eu-1", keep_classes=["legal_obligation"])
    pseudonym = Pseudonymizer(keyring.current(PSEUDONYM)).pseudonym("subj-eu-1")
    assert report.subject_pseudonym == pseudonym
    entries = ShredLedger(control_engine).entries(pseudonym=pseudonym)
    assert sorted(e.region for e in entries) == ["eu", "us"]
    assert all(not e.pending and e.kept_classes == ("legal_obligation",) for e in entries)
    by_region = {e.region: e.destroyed_classes for e in entries}
    assert by_region == {"eu": ("standard",), "us": ()}
    with control_engine.connect() as connection:
        dump = repr(connection.exec_driver_sql("SELECT * FROM shred_ledger").all())
    assert "subj-eu-1" not in dump
    assert ShredLedger(control_engine).entries(pending=True) == []


def test_erasure_is_repeatable_and_unknown_subjects_are_refused(
    writer: RecordWriter, record: Record
) -> None:
    writer.put(record())
    writer.erase_subject("subj-eu-1", keep_classes=["legal_obligation"])
    again = writer.erase_subject("subj-eu-1")
    assert again.keys_destroyed == 0
    with pytest.raises(UnknownSubject):
        writer.erase_subject("nobody")


def test_destroyed_wrapped_keys_are_in_no_file_of_the_data_dir(
    writer: RecordWriter, record: Record, region_engines: dict[str, Engine], data_dir: Path
) -> None:
    # Enough records and keys to spread over several pages, some in the WAL.
    writer.put_many([record(fields={"i": i}) for i in range(300)])
    writer.put(record(retention_class="legal_obligation"))
    writer.put(record("subj-eu-2"))
    eu = region_engines["eu"]
    before = set(_wrapped_keys(eu))
    assert len(before) == 3
    writer.erase_subject("subj-eu-1")
    survivors = set(_wrapped_keys(eu))
    destroyed = before - survivors
    assert len(destroyed) == 2
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files)  # the WAL file exists, truncated
    for path in files:
        content = path.read_bytes()
        for wrapped in destroyed:
            assert wrapped not in content, f"a destroyed key survives in {path.name}"
    # The surviving key is still on disk (the search itself works).
    assert any(next(iter(survivors)) in p.read_bytes() for p in files)
