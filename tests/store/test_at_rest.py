"""What is on disk: no marker of the payload or the lookup fields appears in clear."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servinfo.crypto import normalize_identifier
from servinfo.store import NewRecord, RecordWriter
from servinfo.store.reading import RecordReader

Record = Callable[..., NewRecord]

MARKERS = ("MARKER-given-7f3a", "MARKER-note-91c2", "marker.mail.5e1d@example.test")


def _write_markers(writer: RecordWriter, record: Record) -> list[str]:
    return writer.put_many(
        [
            record(
                fields={"given_name": MARKERS[0], "note": MARKERS[1], "email": MARKERS[2]},
                lookup_fields={"email": MARKERS[2], "username": MARKERS[0]},
            ),
            record("subj-us-1", fields={"note": MARKERS[1] * 3}),
        ]
        + [record(fields={"i": i, "note": MARKERS[1]}) for i in range(50)]
    )


def _assert_no_marker(content: bytes, where: str) -> None:
    for marker in MARKERS:
        for form in {marker, normalize_identifier(marker)}:
            assert form.encode() not in content, f"{form!r} found in clear in {where}"
            assert form.encode("utf-16-le") not in content, f"{form!r} (UTF-16) in {where}"


def test_markers_are_not_in_clear_in_sqlite_files(
    writer: RecordWriter, reader: RecordReader, record: Record, data_dir: Path
) -> None:
    ids = _write_markers(writer, record)
    assert reader.get(ids[0], "eu").fields["note"] == MARKERS[1]  # the data is there
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"eu.db", "eu.db-wal", "eu.db-shm", "us.db"}
    assert any(p.stat().st_size > 0 for p in files if p.name.endswith("-wal"))
    for path in files:
        _assert_no_marker(path.read_bytes(), path.name)


def test_markers_are_not_in_clear_in_a_postgresql_dump(
    writer: RecordWriter, reader: RecordReader, record: Record, pg_names: dict[str, str]
) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    ids = _write_markers(writer, record)
    assert reader.get(ids[0], "eu").fields["given_name"] == MARKERS[0]
    for role, name in pg_names.items():
        dump = subprocess.run(
            [pg_dump, "--no-owner", "-h", "127.0.0.1", "-U", "postgres", "-d", name],
            check=True,
            capture_output=True,
        ).stdout
        if role != "control":
            assert b"COPY public.records" in dump  # the dump does hold the records
        _assert_no_marker(dump, f"the dump of {name}")


def test_lookup_by_blind_index_finds_normalized_values(
    writer: RecordWriter, reader: RecordReader, record: Record, region_engines: dict[str, Engine]
) -> None:
    ids = _write_markers(writer, record)
    found = reader.find_by_lookup("email", "  Marker.Mail.5E1D@Example.TEST ")
    assert [(f.region, f.record_id) for f in found] == [("eu", ids[0])]
    # Same value under another field name is another index.
    assert reader.find_by_lookup("username", MARKERS[2]) == []
    with region_engines["eu"].connect() as connection:
        digests = connection.exec_driver_sql("SELECT field, digest FROM blind_index").all()
    assert sorted(field for field, _ in digests) == ["email", "username"]
    assert all(len(bytes(digest)) == 16 for _, digest in digests)
