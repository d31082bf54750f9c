"""Request marks: which lines of a keyed ingest request a region already stored.

A request sent with an idempotency key may be replayed after a crash at any
point: between a region's commit and the control database's, between two
regions, between two chunks. Each record written for such a request carries a
:class:`RequestMark` (principal, key, line), inserted into ``request_marks`` in
the same transaction as the record, under a primary key. So a line a region
stored is marked there if and only if its record is; the replay looks its
lines up first (:func:`stored_marks`) and writes only the others, and two
attempts racing each other cannot both insert a line: the second fails on the
key and, retried, finds the first's marks. Whatever the control database
remembers of the request (its claim, its progress, its lease) is then only
about speed, never about whether a record is stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, delete, select, tuple_

from servinfo.store._bulk import bulk_insert, time_value
from servinfo.store.models import RequestMarkRow

__all__ = ["MarkKey", "RequestMark", "purge_expired_marks", "stored_marks", "write_marks"]

_TABLE: Table = RequestMarkRow.__table__  # type: ignore[assignment]
_COLUMNS = ("principal_id", "idem_key", "line", "record_id", "expires_at")
_M = RequestMarkRow
#: Lookups name at most this many lines a statement (SQLite's bound-parameter limit).
_LOOKUP_CHUNK = 300

MarkKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class RequestMark:
    """Line ``line`` of the request ``key`` of principal ``principal_id``; kept until
    ``expires_at``, as long as the key itself."""

    principal_id: str
    key: str
    line: int
    expires_at: datetime

    @property
    def identity(self) -> MarkKey:
        return (self.principal_id, self.key, self.line)


def stored_marks(connection: Connection, marks: Sequence[RequestMark]) -> dict[MarkKey, str]:
    """The record id of each of ``marks`` this region stored already."""
    found: dict[MarkKey, str] = {}
    wanted = list(dict.fromkeys(mark.identity for mark in marks))
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        part = wanted[start : start + _LOOKUP_CHUNK]
        rows = connection.execute(
            select(_M.principal_id, _M.idem_key, _M.line, _M.record_id).where(
                tuple_(_M.principal_id, _M.idem_key, _M.line).in_(part)
            )
        )
        found.update(((p, k, line), record_id) for p, k, line, record_id in rows)
    return found


def write_marks(connection: Connection, marked: Sequence[tuple[RequestMark, str]]) -> None:
    """Insert each mark with the id of the record written for it, in the caller's transaction;
    a mark stored already raises SQLAlchemy's ``IntegrityError``."""
    as_time = time_value(connection)
    rows = [
        (m.principal_id, m.key, m.line, record_id, as_time(m.expires_at)) for m, record_id in marked
    ]
    bulk_insert(connection, _TABLE, _COLUMNS, rows)


def purge_expired_marks(connection: Connection, now: datetime) -> int:
    """Delete the marks whose keys expired; how many."""
    return connection.execute(delete(_M).where(_M.expires_at <= now)).rowcount or 0
