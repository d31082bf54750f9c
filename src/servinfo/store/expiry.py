"""Deleting what has expired, by predicate, without reading a record.

The retention sweep (:mod:`servinfo.retention.sweep`) decides; this module
only touches plaintext columns (id, subject, organization, kind, the end of
retention, the hold flag) and never decrypts: only ``servinfo.access`` reads
records out of the store.

A record *expired* when ``retain_until < today`` and nothing keeps it
(``legal_hold`` false). The sweep works a batch at a time, in write
transactions that hold the region's writers off (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL the erasure lock, which waits for writers in flight):

(1) :class:`ExpiryWalk` — the fast path: one statement finds and
    deletes the expired records of a physical window of the table (rowids,
    heap blocks) by predicate alone (:class:`Deletable`: kinds and collection
    cutoffs, subjects and organizations to skip), then their blind indexes;
    on SQLite several windows share a transaction, committed as soon as a
    writer queues (ingest still waits at most a window).
    On PostgreSQL, :func:`drop_expired_partition` first drops each month
    partition (:mod:`servinfo.store.partitions`) in which that predicate
    holds for every record; the others are walked.
(2) :func:`expired_batch` — up to a batch of expired records not yet kept, for
    a decision record by record (a batch handled leaves no row for the next
    one to find again: each is deleted, marked kept, or given a later end);
    :func:`delete_expired` deletes those chosen (the statement re-checks that
    each is still past its end), :func:`keep_expired` marks those a hold or an
    open request keeps (``legal_hold``), :func:`move_ends` moves the others'
    ends; :func:`kept_batch` pages through the kept ones on later sweeps.
(3) :func:`destroy_idle_keys` — every live data key no record is sealed under
    any more is deleted (crypto-shredding; see there).
(4) :func:`checkpoint` (from ``engines``), once per sweep, pushes the freed
    pages out of SQLite's WAL; on PostgreSQL it vacuums ``data_keys``.

Every step is idempotent: a batch interrupted before its commit deletes
nothing, and the next sweep finds the same records, and idle keys, again.
Given a :class:`~servinfo.store.sweep_progress.SweepTally`, each step adds what
it did to the sweep's counts in its own transaction (see there).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, cast

from sqlalchemy import Connection, Engine, and_, exc, func, select, update

from servinfo.store._bulk import date_value, fetch_for_ids, id_chunks, id_filter, time_value
from servinfo.store.engines import (
    is_sqlite,
    lock_for_erasure,
    write_transaction,
    writers_waiting,
)
from servinfo.store.models import RecordRow
from servinfo.store.partitions import forget_partition, is_partition
from servinfo.store.sweep_progress import KEYS_DESTROYED, SweepTally

__all__ = [
    "EXPIRY_TABLES",
    "Deletable",
    "ExpiredRecord",
    "ExpiryBatch",
    "ExpiryWalk",
    "delete_expired",
    "destroy_idle_keys",
    "drop_expired_partition",
    "expired_batch",
    "expired_counts",
    "expired_page",
    "has_expired",
    "keep_expired",
    "kept_batch",
    "move_ends",
    "physical_extent",
    "set_retention_end",
]

#: What :func:`~servinfo.store.engines.checkpoint` vacuums on PostgreSQL after a sweep,
#: as after an erasure: the table of the destroyed keys. The dead versions of deleted
#: records are left to autovacuum — those whose keys were destroyed can no longer be
#: opened; vacuuming ``records`` itself would cost a sweep more than its deletes.
EXPIRY_TABLES = ("data_keys",)


@dataclass(frozen=True, slots=True)
class ExpiredRecord:
    """A record past its retention, by its plaintext columns only."""

    record_id: str
    subject_id: str
    org_id: str
    kind: str
    #: The (UTC) day it was collected: where a period counted from collection starts.
    collected_on: date
    retain_until: date
    key_id: str
    #: Where the row is: its rowid on SQLite (the fastest way back to it), else its id.
    row: int | str


@dataclass(frozen=True)
class ExpiryBatch:
    """What a batch deleted: records by kind."""

    deleted: Mapping[str, int]
    #: Seconds spent waiting for the region's writers, and then holding them off:
    #: the sweep paces itself by them so that ingest keeps the lock most of the time.
    waited: float = 0.0
    held: float = 0.0


# The sweep's statements go to the driver as written (as ingest's do, see ``_bulk``):
# a batch is thousands of rows, and SQLAlchemy's per-row result processing and
# per-statement IN-list expansion cost more than SQLite spends deleting them.
# ``{row}`` is rowid on SQLite, id on PostgreSQL; ``{p}`` a placeholder.
_SELECT = (
    "SELECT id, subject_id, org_id, kind, collected_at, retain_until, key_id, {row} "
    "FROM records WHERE retain_until < {p} AND {kept}legal_hold"
)
_EXPIRED = _SELECT + " ORDER BY retain_until LIMIT {p}"
_PAGE = _SELECT + " AND id > {p} ORDER BY id LIMIT {p}"
_ANY_EXPIRED = (
    "SELECT 1 FROM records WHERE retain_until < {p} AND {kept}legal_hold "
    "ORDER BY retain_until LIMIT 1"
)
_DELETE_RECORDS = "DELETE FROM records WHERE retain_until < {p} AND {row} {ids} RETURNING id"
_DELETE_INDEXES = "DELETE FROM blind_index WHERE record_id {ids} RETURNING record_id"
# A key whose row is a tombstone (an erasure's, without key material) stays: it
# keeps the erased subject from silently getting a fresh key.
# A scalar subquery rather than NOT EXISTS: PostgreSQL turns NOT EXISTS into an
# anti-join that reads the whole records table each batch; this one is a probe of
# the subject's records, by index, for each key.
_DESTROY_IDLE_KEYS = (
    "DELETE FROM data_keys WHERE wrapped IS NOT NULL AND ("
    "SELECT records.id FROM records WHERE records.subject_id = data_keys.subject_id "
    "AND records.key_id = data_keys.id LIMIT 1) IS NULL AND id {ids} RETURNING id"
)


# The candidates, found without holding the writers off: one set-based query (on
# PostgreSQL a hash anti-join, one pass over records, cheaper than a probe per key,
# in one process: see ``_one_process_anti_join``); each is checked again by
# ``_DESTROY_IDLE_KEYS`` under the lock before it goes.
_IDLE_KEYS = (
    "SELECT id FROM data_keys WHERE wrapped IS NOT NULL AND NOT EXISTS ("
    "SELECT 1 FROM records WHERE records.subject_id = data_keys.subject_id "
    "AND records.key_id = data_keys.id) ORDER BY id"
)


def _probe_by_index(connection: Connection) -> None:
    """On PostgreSQL, make the idle-key probe an index scan that stops at the first
    record (a bitmap scan reads every record of the subject), without JIT, which
    costs more than a batch's probes gain from it. For this transaction only."""
    _set_local(connection, enable_bitmapscan="off", jit="off")


def _one_process_anti_join(connection: Connection) -> None:
    """On PostgreSQL, run ``_IDLE_KEYS`` as a hash anti-join in this backend alone,
    for this transaction only. PostgreSQL's own plan is a parallel hash anti-join:
    its leader and a worker read every live record on two cores and leave none to
    the writers ingesting meanwhile. Without parallel workers it would pick a merge
    anti-join instead, whose sort of every live record spills to disk and takes
    four times as long; hence merge joins off too. JIT costs more than it gains on
    this single pass."""
    _set_local(connection, max_parallel_workers_per_gather="0", enable_mergejoin="off", jit="off")


def _set_local(connection: Connection, **settings: str) -> None:
    """Set PostgreSQL's planner ``settings`` for this transaction only (none on SQLite).
    Names and values are this module's constants, never input."""
    if not is_sqlite(connection.engine):
        for name, value in settings.items():
            connection.exec_driver_sql(f"SET LOCAL {name} = {value}")


def _sql(engine: Engine, template: str, *, kept: bool = False) -> str:
    sqlite = is_sqlite(engine)
    return template.format(
        row="rowid" if sqlite else "id",
        p="?" if sqlite else "%s",
        kept="" if kept else "NOT ",
        ids="{ids}",
    )


def _expired(
    connection: Connection, statement: str, params: tuple[Any, ...]
) -> list[ExpiredRecord]:
    sqlite = is_sqlite(connection.engine)
    rows = connection.exec_driver_sql(statement, params).all()
    if sqlite:  # dates and times come back as the text the dialect stored
        return [
            ExpiredRecord(i, s, o, k, date.fromisoformat(c[:10]), date.fromisoformat(r), key, row)
            for i, s, o, k, c, r, key, row in rows
        ]
    return [
        ExpiredRecord(i, s, o, k, c.astimezone(UTC).date(), r, key, row)
        for i, s, o, k, c, r, key, row in rows
    ]


def expired_batch(engine: Engine, today: date, limit: int) -> list[ExpiredRecord]:
    """Up to ``limit`` records past their retention that nothing keeps yet."""
    with engine.connect() as connection:
        as_date = date_value(connection)(today)
        if not _any_expired(connection, as_date, kept=False):
            return []
        return _expired(connection, _sql(engine, _EXPIRED), (as_date, limit))


def _any_expired(connection: Connection, as_date: Any, *, kept: bool) -> bool:
    """Whether any record past its end is (or is not) kept. Most sweeps find none after
    the walk: one probe of the ``retain_until`` index says so, where PostgreSQL, its
    statistics stale after a bulk load, may plan a page's query as a read of the whole
    table (or of every partition's ``id`` index)."""
    statement = _sql(connection.engine, _ANY_EXPIRED, kept=kept)
    return connection.exec_driver_sql(statement, (as_date,)).first() is not None


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
    with engine.connect() as connection:
        as_date = date_value(connection)(today)
        if not _any_expired(connection, as_date, kept=kept):
            return []
        return _expired(connection, _sql(engine, _PAGE, kept=kept), (as_date, after or "", limit))


def delete_expired(
    engine: Engine,
    records: Sequence[ExpiredRecord],
    today: date,
    *,
    tally: SweepTally | None = None,
) -> ExpiryBatch:
    """Delete these records, and their blind indexes, if still past retention (kept or not).

    Kept records are passed here by the sweep only once nothing keeps them any
    more; the ``retain_until`` re-check leaves alone a record whose end moved
    meanwhile (an account reopened).

    The commit does not wait for the disk (``commit="unsynced"``): a deletion a
    power cut undoes is done again by the next sweep, and the sweep's last step
    (:func:`~servinfo.store.engines.checkpoint`) makes every batch durable.
    """
    if not records:
        return ExpiryBatch({})
    by_id = {r.record_id: r for r in records}
    # Row keys are rowids (integers) on SQLite: the driver binds them as they are.
    rows = cast(list[str], [r.row for r in records])
    with write_transaction(engine, commit="unsynced") as connection:
        lock_for_erasure(connection)
        as_date = date_value(connection)(today)
        gone = [
            record_id
            for (record_id,) in fetch_for_ids(
                connection, _sql(engine, _DELETE_RECORDS), rows, (as_date,)
            )
        ]
        fetch_for_ids(connection, _sql(engine, _DELETE_INDEXES), gone)  # (the driver wants rows)
        deleted = Counter(by_id[record_id].kind for record_id in gone)
        if tally is not None:
            tally.add(connection, "deleted", deleted)
    return ExpiryBatch(dict(deleted))


def physical_extent(engine: Engine, table: str = "records") -> int:
    """Where ``table`` (``records`` or one of its partitions) ends, in the unit of
    :meth:`ExpiryWalk.delete`'s ``window``: one past the largest rowid on SQLite,
    the number of heap blocks (plus one) on PostgreSQL."""
    sqlite = is_sqlite(engine)
    _check_table(table)
    query = (
        f"SELECT coalesce(max(rowid), 0) + 1 FROM {table}"  # noqa: S608
        if sqlite
        else f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int + 1"
    )
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(query).scalar_one())


def has_expired(engine: Engine, today: date, table: str = "records") -> bool:
    """Whether ``table`` holds a record past its stored end (kept or not): one probe of
    the ``retain_until`` index, so that the sweep skips a partition of live records
    instead of walking it. (In index order: without it, PostgreSQL with statistics
    stale after a bulk load may plan a read of the whole partition.)"""
    _check_table(table)
    p = "?" if is_sqlite(engine) else "%s"
    with engine.connect() as connection:
        return (
            connection.exec_driver_sql(
                f"SELECT 1 FROM {table} WHERE retain_until < {p} "  # noqa: S608
                "ORDER BY retain_until LIMIT 1",
                (date_value(connection)(today),),
            ).first()
            is not None
        )


def _check_table(table: str) -> None:
    # Table names are interpolated: only records and its partitions' names pass.
    if table != "records" and not is_partition(table):
        raise ValueError(f"not a table of records: {table!r}")


@dataclass(frozen=True)
class Deletable:
    """Which records past their stored end the sweep deletes by predicate alone.

    A record goes if it is past its stored end, not kept, of a kind in
    ``cutoffs`` and collected before that kind's cutoff (the caller computed
    it so that no regime keeps such a record longer), and neither its subject
    nor its organization is skipped (held, or asked for by an open request).
    """

    today: date
    cutoffs: Mapping[str, datetime]
    skip_subjects: Collection[str] = ()
    skip_orgs: Collection[str] = ()
    #: Kinds with blind indexes (None: any kind may have some).
    indexed_kinds: frozenset[str] | None = None

    def condition(self, connection: Connection) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters (``cutoffs`` must not be empty)."""
        p = "?" if is_sqlite(connection.engine) else "%s"
        as_date, as_time = date_value(connection), time_value(connection)
        kinds = sorted(self.cutoffs)
        which = " OR ".join(f"(kind = {p} AND collected_at < {p})" for _ in kinds)
        params: list[Any] = [as_date(self.today)]
        for kind in kinds:
            params += [kind, as_time(self.cutoffs[kind])]
        skips = ""
        for column, values in (("subject_id", self.skip_subjects), ("org_id", self.skip_orgs)):
            if values:
                skips += f" AND {column} NOT IN ({', '.join(p for _ in values)})"
                params += sorted(values)
        return f"retain_until < {p} AND NOT legal_hold AND ({which}){skips}", params

    def indexed(self, kinds: Iterable[str]) -> bool:
        """Whether records of ``kinds`` may have blind indexes to delete with them."""
        return self.indexed_kinds is None or not self.indexed_kinds.isdisjoint(kinds)


#: On SQLite, the windows one transaction of the walk runs at most, and how long (seconds)
#: it holds the writers off at most (see :class:`ExpiryWalk`).
_WINDOWS_PER_TRANSACTION = 64
_TRANSACTION_HOLD = 0.5
#: How long, after a commit for a waiting writer, the walk waits for it to take the lock.
_LET_IN = 1.0


class ExpiryWalk:
    """The sweep's fast path: :meth:`delete` deletes the records ``which`` chooses in a
    physical window of a table, by predicate alone, a window at a time.

    A context manager: leaving it commits the windows not yet committed; an
    exception rolls them back (their progress with them: see ``tally`` below).

    On PostgreSQL every window is one transaction. On SQLite several windows
    share one: a commit costs about as much as a window's deletes (the WAL
    frames of the table and index pages it rewrote, which the next windows
    rewrite again), so fewer commits make the walk faster. Ingest still waits at
    most one window: after each window the walk asks whether a writer is queued
    for the database (:func:`~servinfo.store.engines.writers_waiting`) and if so
    commits at once, then waits until that writer has the lock (so that the walk
    does not take it back first). The transaction also commits after
    :data:`_WINDOWS_PER_TRANSACTION` windows or once it has held the writers off
    for :data:`_TRANSACTION_HOLD` seconds, so that a writer the queue does not
    show (another tool), and the work a crash undoes, stay bounded.

    Given a ``tally``, each window adds its counts to the sweep's progress in the
    transaction that deletes them: the counts are durable exactly when the
    deletions are.
    """

    def __init__(self, engine: Engine, *, tally: SweepTally | None = None) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._tally = tally
        self._open: AbstractContextManager[Connection] | None = None
        self._connection: Connection | None = None
        self._windows = 0
        self._began = 0.0

    def __enter__(self) -> ExpiryWalk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end(exc_type, exc, tb)

    def delete(
        self, which: Deletable, window: tuple[int, int], limit: int, *, table: str = "records"
    ) -> ExpiryBatch:
        """Delete up to ``limit`` records that ``which`` chooses in ``window`` of ``table``,
        and their blind indexes.

        ``window`` is a physical range ``[start, end)`` of the table: rowids on
        SQLite, heap blocks on PostgreSQL (a TID range scan; ``table`` is then one
        of the partitions, whose blocks are its own). The sweep walks the
        table once in physical order, so each page is read and rewritten once,
        instead of finding each batch through the ``retain_until`` index among
        records scattered over every page (and, on PostgreSQL, walking past the
        previous batches' dead index entries and sorting what is left every batch).
        A record this walk misses (written behind it meanwhile) is found by the
        sweep's record-by-record pass. A window that deleted ``limit`` records may
        have left some: the caller goes over it again.
        """
        if not which.cutoffs:
            return ExpiryBatch({})
        _check_table(table)
        asked = time.perf_counter()
        connection = self._connection
        if connection is None:
            self._open = write_transaction(self._engine, commit="unsynced")
            self._connection = connection = self._open.__enter__()
            if not self._sqlite:  # the wait for writers is the LOCK's (SQLite's, the BEGIN's)
                asked = time.perf_counter()
            lock_for_erasure(connection)
            self._began, self._windows = time.perf_counter(), 0
        got = time.perf_counter()
        deleted = _delete_window(connection, which, window, limit, table)
        if self._tally is not None:
            self._tally.add(connection, "deleted", deleted)
        self._windows += 1
        full = self._windows >= _WINDOWS_PER_TRANSACTION or (
            time.perf_counter() - self._began >= _TRANSACTION_HOLD
        )
        if not self._sqlite or full:
            self._end()
        elif writers_waiting(connection):
            self._end()
            self._let_in()
        done = time.perf_counter()
        return ExpiryBatch(dict(deleted), got - asked, done - got)

    def commit(self) -> None:
        """Commit the windows not yet committed (before the caller rests: never rest
        holding the writers off)."""
        self._end()

    def _end(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        """Commit the open transaction (roll it back when given an exception)."""
        transaction, self._open, self._connection = self._open, None, None
        if transaction is not None:
            transaction.__exit__(exc_type, exc, tb)

    def _let_in(self) -> None:
        """Wait (up to :data:`_LET_IN`) until no writer is queued any more, i.e. the one
        the walk committed for has the lock: the walk's next transaction queues behind it."""
        deadline = time.perf_counter() + _LET_IN
        with self._engine.connect() as connection:
            while writers_waiting(connection) and time.perf_counter() < deadline:
                time.sleep(0.0005)


def _delete_window(
    connection: Connection, which: Deletable, window: tuple[int, int], limit: int, table: str
) -> Counter[str]:
    """:meth:`ExpiryWalk.delete`'s statements, in ``connection``'s transaction."""
    engine = connection.engine
    sqlite = is_sqlite(engine)
    p = "?" if sqlite else "%s"
    start, end = window
    # The row's physical address: a row updated since the subquery saw it has
    # another one on PostgreSQL, and is left for the next batch.
    row = "rowid" if sqlite else "ctid"
    if sqlite:
        where = "rowid >= ? AND rowid < ?"
        params: list[Any] = [start, end]
    else:
        where = "ctid >= %s::tid AND ctid < %s::tid"
        params = [f"({start},0)", f"({end},0)"]
    condition, condition_params = which.condition(connection)
    params += condition_params
    # Names and placeholders only: every value is a parameter.
    # (On PostgreSQL ``= ANY(ARRAY(…))`` is a TID scan of the rows found;
    # ``IN (…)`` would hash them first.)
    chosen = "IN (" if sqlite else "= ANY(ARRAY("
    doomed = (
        f"DELETE FROM {table} WHERE {row} {chosen}SELECT {row} FROM {table} "  # noqa: S608
        f"WHERE {where} AND {condition} "
        f"LIMIT {p}){'' if sqlite else ')'} RETURNING id, kind"
    )
    params.append(limit)
    deleted: Counter[str] = Counter()
    if sqlite:
        gone = connection.exec_driver_sql(doomed, tuple(params)).all()
        deleted.update(kind for _, kind in gone)
        if which.indexed(deleted):
            ids = [record_id for record_id, _ in gone]
            fetch_for_ids(connection, _sql(engine, _DELETE_INDEXES), ids)
        return deleted
    # One statement deletes the records and their blind indexes and returns
    # the counts per kind alone: no row of the batch travels to Python.
    indexes = (
        ", indexes AS (DELETE FROM blind_index WHERE record_id IN (SELECT id FROM gone))"
        if which.indexed(which.cutoffs)
        else ""
    )
    statement = (
        f"WITH gone AS ({doomed}){indexes} "  # noqa: S608
        "SELECT kind, count(*) FROM gone GROUP BY kind"
    )
    for kind, count in connection.exec_driver_sql(statement, tuple(params)):
        deleted[kind] = int(count)
    return deleted


#: How long a partition's drop waits for readers and writers of its parent, a try.
_DROP_LOCK_TIMEOUT = "200ms"
#: Tries at the drop (each after a rest as long as its wait) before the partition is
#: left to the row-by-row path.
_DROP_TRIES = 5
#: How long the proof waits for writers in flight into the partition.
_PROOF_LOCK_TIMEOUT = "2s"


def drop_expired_partition(
    engine: Engine, partition: str, which: Deletable, *, tally: SweepTally | None = None
) -> ExpiryBatch | None:
    """Drop ``partition`` (PostgreSQL) if every record in it is one ``which`` deletes;
    what it held, by kind, or None if that is not proved (the caller deletes row by row).

    The proof is the fast path's own predicate (:class:`Deletable`): the same
    decision the sweep makes for each record of the partition. Steps, in one
    transaction:

    (1) a look at the newest end in the partition through the ``retain_until``
        index: a partition with a record not past its end is left at once;
    (2) ``SHARE`` lock on the partition alone — writers into it wait (and the
        proof waits for those in flight), ingest into other months does not;
    (3) one pass over the partition counts its records per kind and checks
        that the predicate holds for every one (a held or asked-for subject, a
        record kept by the sweep, a kind counted from closure … fails it);
    (4) the records' blind indexes, if their kinds may have some;
    (5) ``DROP TABLE``, which needs the parent for a moment with no reader or
        writer in it: each try gives up after :data:`_DROP_LOCK_TIMEOUT`, so
        that readers and ingest queued behind it wait no longer than that;
    (6) the counts added to the sweep's progress; one commit.

    The records' data keys are left to :func:`destroy_idle_keys`, as after any
    deletion.
    """
    _check_table(partition)
    if not which.cutoffs or is_sqlite(engine):
        return None
    with engine.connect() as connection:  # (1)
        newest = connection.exec_driver_sql(
            f"SELECT max(retain_until) FROM {partition}"  # noqa: S608
        ).scalar()
    if newest is not None and newest >= which.today:
        return None
    try:
        with write_transaction(engine, commit="unsynced") as connection:
            held = _prove_and_drop(connection, partition, which)
            if tally is not None:  # (6)
                tally.add(connection, "deleted", held)
    except _NotDropped:
        return None
    forget_partition(engine, partition)
    return ExpiryBatch(dict(held))


class _NotDropped(Exception):
    """The partition stays: its transaction is rolled back."""


def _prove_and_drop(connection: Connection, partition: str, which: Deletable) -> Counter[str]:
    """Steps (2)–(5) of :func:`drop_expired_partition`; raises :class:`_NotDropped`."""
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_PROOF_LOCK_TIMEOUT}'")
    try:  # (2)
        connection.exec_driver_sql(f"LOCK TABLE {partition} IN SHARE MODE")
    except exc.OperationalError:
        raise _NotDropped from None
    condition, params = which.condition(connection)
    held: Counter[str] = Counter()
    proved = True
    for kind, count, deletable in connection.exec_driver_sql(  # (3)
        f"SELECT kind, count(*), bool_and({condition}) FROM {partition} "  # noqa: S608
        "GROUP BY kind",
        tuple(params),
    ):
        held[kind] = int(count)
        proved = proved and bool(deletable)
    if not proved:
        raise _NotDropped
    if held and which.indexed(held):  # (4)
        connection.exec_driver_sql(
            f"DELETE FROM blind_index WHERE record_id IN (SELECT id FROM {partition})"  # noqa: S608
        )
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_DROP_LOCK_TIMEOUT}'")
    for attempt in range(_DROP_TRIES):  # (5)
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(f"DROP TABLE {partition}")
            return held
        except exc.OperationalError:
            time.sleep(0.2 * (attempt + 1))
    raise _NotDropped


def destroy_idle_keys(
    engine: Engine,
    limit: int,
    *,
    tally: SweepTally | None = None,
    on_destroyed: Callable[[list[str]], None] | None = None,
) -> int:
    """Destroy every live data key of the region that no record is sealed under; how many.

    Run by the sweep after its deletions, over all the region's live keys (one
    per subject and retention class, far fewer than records) rather than those
    of the records it deleted: a sweep that crashed after deleting a key's last
    record leaves that key for this pass of the next sweep. The row is deleted
    (SQLite's ``secure_delete`` zeroes it), so a backup's copies of the records
    it sealed can no longer be opened; a subject that sends a record of that
    class again gets a fresh key. An erasure's tombstones (no key material)
    stay. The idle keys are found first without holding the writers off, then
    destroyed a page at a time, each page one transaction that holds the
    region's writers off and checks each key again (a writer inserts a new key
    together with the records it seals, so no key is idle in between; a key
    that got a record since it was found stays). ``on_destroyed`` is given the ids of
    each page's destroyed keys once its transaction committed (the shred ledger).
    """
    destroyed = 0
    with engine.connect() as connection, connection.begin():
        _one_process_anti_join(connection)
        idle = [key_id for (key_id,) in connection.exec_driver_sql(_IDLE_KEYS)]
    for start in range(0, len(idle), limit):
        with write_transaction(engine, commit="unsynced") as connection:
            lock_for_erasure(connection)
            _probe_by_index(connection)
            page = idle[start : start + limit]
            gone_ids = [
                str(key_id)
                for (key_id,) in fetch_for_ids(connection, _sql(engine, _DESTROY_IDLE_KEYS), page)
            ]
            gone = len(gone_ids)
            if tally is not None:
                tally.add(connection, KEYS_DESTROYED, {"": gone})
            destroyed += gone
        if on_destroyed is not None and gone_ids:  # committed: the shred ledger keeps them
            on_destroyed(gone_ids)
    return destroyed


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


def move_ends(
    engine: Engine,
    ends: Mapping[str, date],
    *,
    tally: SweepTally | None = None,
    counts: Mapping[str, Mapping[str, int]] | None = None,
) -> int:
    """Give each record of ``ends`` (by id) that end, no longer marked kept; how many changed.

    For records whose stored end the policy no longer agrees with: a longer
    period, or a period that has not started (an open account). ``counts`` (by
    outcome, then kind) are added to ``tally`` in the same transaction.
    """
    if not ends:
        return 0
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
        if tally is not None:
            for outcome, by_kind in sorted((counts or {}).items()):
                tally.add(connection, outcome, by_kind)
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
