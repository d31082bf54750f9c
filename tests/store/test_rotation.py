"""KEK rotation: data keys re-wrapped, records untouched, reads work throughout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from servinfo.crypto import Keyring, kek_purpose
from servinfo.store import (
    NewRecord,
    RecordWriter,
    StoreError,
    SubjectDirectory,
    kek_usage,
    rewrap_data_keys,
)
from servinfo.store.models import RecordRow
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]


def test_rewrap_moves_every_key_to_the_new_version_and_reads_keep_working(
    writer: RecordWriter,
    reader: RecordReader,
    record: Record,
    region_engines: dict[str, Engine],
    keyring: Keyring,
    directory: SubjectDirectory,
) -> None:
    ids = writer.put_many(
        [record(retention_class=f"c{i % 3}", fields={"i": i}) for i in range(9)]
        + [record("subj-eu-2", fields={"i": 9})]
    )
    eu = region_engines["eu"]
    with eu.connect() as connection:
        ciphertexts_before = connection.execute(select(RecordRow.ciphertext)).scalars().all()
    assert kek_usage(eu) == {"kek:eu:v1": 4}
    keyring.rotate(kek_purpose("eu"))
    # A reader that never saw the new version still reads (old version kept).
    assert reader.get(ids[0], "eu").fields == {"i": 0}
    calls: list[tuple[int, int]] = []
    report = rewrap_data_keys(
        eu, "eu", keyring, batch_size=3, progress=lambda done, total: calls.append((done, total))
    )
    assert (report.kek_id, report.rewrapped, report.total) == ("kek:eu:v2", 4, 4)
    assert calls == [(0, 4), (3, 4), (4, 4)]
    assert kek_usage(eu) == {"kek:eu:v2": 4}
    with eu.connect() as connection:
        assert (
            connection.execute(select(RecordRow.ciphertext)).scalars().all() == ciphertexts_before
        )
    # Fresh reader (no cached keys) and the old reader both read everything.
    fresh = RecordReader(directory, region_engines, keyring)
    for number, record_id in enumerate(ids):
        assert fresh.get(record_id, "eu").fields == {"i": number}
        assert reader.get(record_id, "eu").fields == {"i": number}
    # New keys are wrapped under the new version; a second run has nothing to do.
    writer.put(record(retention_class="new"))
    assert kek_usage(eu) == {"kek:eu:v2": 5}
    assert rewrap_data_keys(eu, "eu", keyring).rewrapped == 0


def test_rewrap_skips_destroyed_keys_and_checks_batch_size(
    writer: RecordWriter, record: Record, region_engines: dict[str, Engine], keyring: Keyring
) -> None:
    writer.put_many([record(), record("subj-eu-2")])
    writer.erase_subject("subj-eu-1")
    keyring.rotate(kek_purpose("eu"))
    assert rewrap_data_keys(region_engines["eu"], "eu", keyring).rewrapped == 1
    with pytest.raises(StoreError, match="batch_size"):
        rewrap_data_keys(region_engines["eu"], "eu", keyring, batch_size=0)
