"""Request marks: a keyed request's lines are stored once per region, however it is replayed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from servinfo.store import NewRecord, RecordWriter, RequestMark, request_digest

Record = Callable[..., NewRecord]
Rows = Callable[[Engine, str], int]


def _marks(
    key: str, lines: range, now: datetime, principal: str = "p-1"
) -> list[RequestMark | None]:
    request = request_digest(principal, key)
    return [RequestMark(request, line, now + timedelta(days=1)) for line in lines]


def test_a_replayed_request_stores_nothing_twice_and_gets_the_first_ids(
    writer: RecordWriter,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
    now: datetime,
) -> None:
    records = [record(), record("subj-us-1"), record()]
    first = writer.put_many(records, now=now, marks=_marks("k-1", range(1, 4), now))
    again = writer.put_many(records, now=now, marks=_marks("k-1", range(1, 4), now))
    assert again == first
    assert rows(region_engines["eu"], "records") == 2
    assert rows(region_engines["us"], "records") == 1


def test_a_replay_writes_only_the_lines_no_region_stored(
    writer: RecordWriter,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
    now: datetime,
) -> None:
    # The first attempt stored lines 1 and 2, then stopped.
    first = writer.put_many([record(), record()], now=now, marks=_marks("k-1", range(1, 3), now))
    replay = writer.put_many(
        [record(), record(), record("subj-us-1")], now=now, marks=_marks("k-1", range(1, 4), now)
    )
    assert replay[:2] == first
    assert rows(region_engines["eu"], "records") == 2
    assert rows(region_engines["us"], "records") == 1


def test_marks_are_per_principal_and_key(
    writer: RecordWriter,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
    now: datetime,
) -> None:
    writer.put_many([record()], now=now, marks=_marks("k-1", range(1, 2), now))
    writer.put_many([record()], now=now, marks=_marks("k-2", range(1, 2), now))
    writer.put_many([record()], now=now, marks=_marks("k-1", range(1, 2), now, principal="p-2"))
    writer.put_many([record()], now=now)  # unmarked: always written
    assert rows(region_engines["eu"], "records") == 4


def test_expired_marks_are_purged_by_a_later_marked_write(
    writer: RecordWriter,
    record: Record,
    rows: Rows,
    region_engines: dict[str, Engine],
    now: datetime,
) -> None:
    old = _marks("k-old", range(1, 2), now - timedelta(days=1, seconds=1))
    writer.put_many([record()], now=now - timedelta(hours=1), marks=old)
    assert rows(region_engines["eu"], "request_marks") == 1
    writer.put_many([record()], now=now, marks=_marks("k-new", range(1, 2), now))
    assert rows(region_engines["eu"], "request_marks") == 1  # only k-new's
