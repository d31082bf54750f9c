"""Deleting what has expired, by predicate, without reading a record.

The retention sweep (:mod:`servinfo.retention.sweep`) decides; this module
only touches plaintext columns (id, subject, organization, kind, the end of
retention, the hold flag) and never decrypts: only ``servinfo.access`` reads
records out of the store.

A record *expired* when ``retain_until < today`` and nothing keeps it
(``legal_hold`` false). The sweep works a batch at a time, each batch one
write transaction:

(1) :func:`expired_batch` — up to ``limit`` expired records not yet kept, by
    the index on ``retain_until`` (a batch handled leaves no row for the next
    one to find again: each is deleted, marked kept, or given a later end).
(2) :func:`delete_expired` — in one transaction that holds the region's
    writers off (SQLite ``BEGIN IMMEDIATE``; PostgreSQL the erasure lock, which
    waits for in-flight writers): delete the records (the statement re-checks
    that each is still expired and not kept), their blind indexes, and then
    destroy every data key of theirs that no remaining record is sealed under —
    a deleted row, which ``secure_delete`` zeroes on SQLite, so a backup's copy
    of those records can no longer be opened (crypto-shredding). The writers
    are held off so no record can be sealed under a key being destroyed; a
    writer that needs the (subject, class) key again gets a fresh one.
(3) :func:`keep_expired` marks records a hold or an open request keeps
    (``legal_hold``); :func:`kept_batch` pages through them on later sweeps,
    which release them the same way once nothing keeps them.
(4) :func:`checkpoint` (from ``engines``), once per sweep, pushes the freed
    pages out of SQLite's WAL; on PostgreSQL it vacuums the tables.

Every step is idempotent: a batch interrupted before its commit deletes
nothing, and the next sweep finds the same records again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, and_, delete, exists, func, select, update

from servinfo.store._bulk import id_chunks, id_filter
from servinfo.store.engines import lock_for_erasure, write_transaction
from servinfo.store.models import BlindIndexRow, DataKeyRow, RecordRow

__all__ = [
    "EXPIRY_TABLES",
    "ExpiredRecord",
    "ExpiryBatch",
    "delete_expired",
    "expired_batch",
    "expired_counts",
    "expired_page",
    "keep_expired",
    "kept_batch",
    "move_ends",
    "set_retention_end",
]

#: The tables a sweep deletes from: what :func:`~servinfo.store.engines.checkpoint` vacuums.
EXPIRY_TABLES = ("records", "blind_index", "data_keys")


@dataclass(frozen=True, slots=True)
class ExpiredRecord:
    """A record past its retention, by its plaintext columns only."""

    record_id: str
    subject_id: str
    org_id: str
    kind: str
    collected_at: datetime
    retain_until: date


@dataclass(frozen=True)
class ExpiryBatch:
    """What :func:`delete_expired` did: records deleted by kind, data keys destroyed."""

    deleted: Mapping[str, int]
    keys_destroyed: int


_COLUMNS = (
    RecordRow.id,
    RecordRow.subject_id,
    RecordRow.org_id,
    RecordRow.kind,
    RecordRow.collected_at,
    RecordRow.retain_until,
)


def expired_batch(engine: Engine, today: date, limit: int) -> list[ExpiredRecord]:
    """Up to ``limit`` records past their retention that nothing keeps yet."""
    query = (
        select(*_COLUMNS)
        .where(RecordRow.retain_until < today, RecordRow.legal_hold.is_(False))
        .order_by(RecordRow.retain_until)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [ExpiredRecord(*row) for row in connection.execute(query)]


def kept_batch(
    engine: Engine, today: date, limit: int, after: str | None = None
) -> list[ExpiredRecord]:
    """Up to ``limit`` records past their retention that a hold or request kept, by id."""
    return expired_page(engine, today, limit, after, kept=True)


def expired_page(
    engine: Engine, today: date, limit: int, after: str | None, *, kept: bool
) -> list[ExpiredRecord]:
    """Up to ``limit`` records past their retention, kept or not, by id after ``after``:
    pages that do not depend on the sweep changing what it pages through (a dry run)."""
    query = select(*_COLUMNS).where(RecordRow.retain_until < today, RecordRow.legal_hold.is_(kept))
    if after is not None:
        query = query.where(RecordRow.id > after)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(RecordRow.id).limit(limit))
        return [ExpiredRecord(*row) for row in rows]


def delete_expired(engine: Engine, record_ids: Sequence[str], today: date) -> ExpiryBatch:
    """Delete these records if still past retention (kept or not), and the keys they leave idle.

    Kept records are passed here by the sweep only once nothing keeps them any
    more; the ``retain_until`` re-check leaves alone a record whose end moved
    meanwhile (an account reopened).
    """
    if not record_ids:
        return ExpiryBatch({}, 0)
    deleted: Counter[str] = Counter()
    keys: set[tuple[str, str]] = set()
    with write_transaction(engine) as connection:
        lock_for_erasure(connection)
        for chunk in id_chunks(record_ids, connection):
            gone = connection.execute(
                delete(RecordRow)
                .where(id_filter(RecordRow.id, chunk, connection), RecordRow.retain_until < today)
                .returning(RecordRow.id, RecordRow.kind, RecordRow.subject_id, RecordRow.key_id)
            ).all()
            if not gone:
                continue
            ids = [row.id for row in gone]
            connection.execute(
                delete(BlindIndexRow).where(id_filter(BlindIndexRow.record_id, ids, connection))
            )
            deleted.update(row.kind for row in gone)
            keys.update((row.subject_id, row.key_id) for row in gone)
        destroyed = 0
        for subject_id, key_id in sorted(keys):
            still_used = exists().where(
                RecordRow.subject_id == subject_id, RecordRow.key_id == key_id
            )
            destroyed += connection.execute(
                delete(DataKeyRow).where(
                    DataKeyRow.id == key_id,
                    # A destroyed key's tombstone (an erasure's) stays: it keeps
                    # the erased subject from silently getting a fresh key.
                    DataKeyRow.wrapped.is_not(None),
                    ~still_used,
                )
            ).rowcount
    return ExpiryBatch(dict(deleted), destroyed)


def keep_expired(engine: Engine, record_ids: Sequence[str], today: date) -> int:
    """Mark records past retention as kept (a hold or an open request); how many changed."""
    if not record_ids:
        return 0
    changed = 0
    with write_transaction(engine) as connection:
        for chunk in id_chunks(record_ids, connection):
            changed += connection.execute(
                update(RecordRow)
                .where(
                    id_filter(RecordRow.id, chunk, connection),
                    RecordRow.retain_until < today,
                    RecordRow.legal_hold.is_(False),
                )
                .values(legal_hold=True)
            ).rowcount
    return changed


def set_retention_end(
    engine: Engine, subject_id: str, ends: Mapping[str, date], *, clear_kept: bool = False
) -> int:
    """Give the subject's records of each kind in ``ends`` that end; how many rows changed.

    Closure and reopening use it for the kinds whose retention counts from the
    account's closure. With ``clear_kept`` the records are no longer marked
    kept (their end moved: the sweep decides afresh).
    """
    changed = 0
    with write_transaction(engine) as connection:
        for kind, end in sorted(ends.items()):
            values: dict[str, object] = {"retain_until": end}
            if clear_kept:
                values["legal_hold"] = False
            changed += connection.execute(
                update(RecordRow)
                .where(
                    RecordRow.subject_id == subject_id,
                    RecordRow.kind == kind,
                    RecordRow.retain_until != end,
                )
                .values(**values)
            ).rowcount
    return changed


def move_ends(engine: Engine, ends: Mapping[str, date]) -> int:
    """Give each record of ``ends`` (by id) that end, no longer marked kept; how many changed.

    For records whose stored end the policy no longer agrees with: a longer
    period, or a period that has not started (an open account).
    """
    by_end: dict[date, list[str]] = {}
    for record_id, end in ends.items():
        by_end.setdefault(end, []).append(record_id)
    changed = 0
    with write_transaction(engine) as connection:
        for end, ids in sorted(by_end.items()):
            for chunk in id_chunks(sorted(ids), connection):
                changed += connection.execute(
                    update(RecordRow)
                    .where(id_filter(RecordRow.id, chunk, connection))
                    .values(retain_until=end, legal_hold=False)
                ).rowcount
    return changed


def expired_counts(
    engine: Engine,
    today: date,
    *,
    subject_ids: Iterable[str] = (),
    org_ids: Iterable[str] = (),
    kept_only: bool = True,
) -> dict[tuple[str, str], int]:
    """Records past retention (kept ones only, by default) of these subjects or organizations,
    counted by (subject, kind): what a hold or a subject's access report lists."""
    subjects, orgs = sorted(set(subject_ids)), sorted(set(org_ids))
    if not subjects and not orgs:
        return {}
    whom = []
    if subjects:
        whom.append(RecordRow.subject_id.in_(subjects))
    if orgs:
        whom.append(RecordRow.org_id.in_(orgs))
    condition = and_(
        RecordRow.retain_until < today, whom[0] if len(whom) == 1 else whom[0] | whom[1]
    )
    if kept_only:
        condition = and_(condition, RecordRow.legal_hold.is_(True))
    query = (
        select(RecordRow.subject_id, RecordRow.kind, func.count())
        .where(condition)
        .group_by(RecordRow.subject_id, RecordRow.kind)
    )
    with engine.connect() as connection:
        return {(s, k): int(n) for s, k, n in connection.execute(query)}
