"""Request marks: which lines of a keyed ingest request a region already stored.

A request sent with an idempotency key may be replayed after a crash at any
point: between a region's commit and the control database's, between two
regions, between two chunks. Each record written for such a request carries a
:class:`RequestMark` (request, line), inserted into ``request_marks`` in
the same transaction as the record, under a primary key. So a line a region
stored is marked there if and only if its record is; the replay looks its
lines up first (:func:`stored_marks`) and writes only the others, and two
attempts racing each other cannot both insert a line: the second fails on the
key and, retried, finds the first's marks. Whatever the control database
remembers of the request (its claim, its progress, its lease) is then only
about speed, never about whether a record is stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, Table, delete

from servinfo.store._bulk import bulk_insert, fetch_for_ids, time_value
from servinfo.store.models import REQUEST_DIGEST_BYTES, RequestMarkRow

__all__ = [
    "MarkKey",
    "RequestMark",
    "purge_expired_marks",
    "request_digest",
    "stored_marks",
    "write_marks",
]

_TABLE: Table = RequestMarkRow.__table__  # type: ignore[assignment]
_COLUMNS = ("request", "line", "record_id", "expires_at")
_M = RequestMarkRow
# One statement for the requests of a write and the range of lines asked for: a
# batch is one request and a range of lines; a group of single records, many
# requests of line 1. Through the driver (``fetch_for_ids``): every keyed write
# asks, and Core's statement machinery cost more than the query.
_FIND = (
    "SELECT request, line, record_id FROM request_marks "
    "WHERE line BETWEEN {p} AND {p} AND request {ids}"
)

MarkKey = tuple[bytes, int]


def request_digest(principal_id: str, key: str) -> bytes:
    """The request a mark belongs to: the principal's id and its key, hashed to 16 bytes.

    A key is up to 255 characters; a row a line keyed by it cost more to insert
    than the record itself. 128 bits of SHA-256 make a collision between two
    requests negligible.
    """
    return hashlib.sha256(f"{principal_id}\0{key}".encode()).digest()[:REQUEST_DIGEST_BYTES]


class RequestMark(NamedTuple):
    """Line ``line`` of the request ``request`` (:func:`request_digest`); kept until
    ``expires_at``, as long as the request's key."""

    # A tuple rather than a frozen dataclass: one is built for every record written.
    request: bytes
    line: int
    expires_at: datetime

    @property
    def identity(self) -> MarkKey:
        return (self.request, self.line)


def stored_marks(connection: Connection, marks: Sequence[RequestMark]) -> dict[MarkKey, str]:
    """The record id of each of ``marks`` this region stored already."""
    if not marks:
        return {}
    requests = list(dict.fromkeys(mark.request for mark in marks))
    lines = [mark.line for mark in marks]
    rows = fetch_for_ids(connection, _FIND, requests, (min(lines), max(lines)))
    # The range may take in lines that were not asked for: only these count.
    wanted = {mark.identity for mark in marks}
    found = {(bytes(request), line): record_id for request, line, record_id in rows}
    return {identity: rid for identity, rid in found.items() if identity in wanted}


def write_marks(connection: Connection, marked: Sequence[tuple[RequestMark, str]]) -> None:
    """Insert each mark with the id of the record written for it, in the caller's transaction;
    a mark stored already raises SQLAlchemy's ``IntegrityError``."""
    as_time = time_value(connection)
    # The marks of a write mostly share one expiry: convert each distinct one once.
    expiries = {m.expires_at: as_time(m.expires_at) for m, _ in marked}
    rows = [(m.request, m.line, record_id, expiries[m.expires_at]) for m, record_id in marked]
    bulk_insert(connection, _TABLE, _COLUMNS, rows)


def purge_expired_marks(connection: Connection, now: datetime) -> int:
    """Delete the marks whose keys expired; how many."""
    return connection.execute(delete(_M).where(_M.expires_at <= now)).rowcount or 0
