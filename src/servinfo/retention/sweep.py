"""The retention sweep: delete, in one region, every record past its retention and nothing else.

:func:`run_sweep` is the job's body (the jobs engine schedules it daily; ``servinfo
retention run`` runs it in the foreground). Steps, in one region:

(1) Settle the account closures and reopenings reported since the last sweep
    (:func:`servinfo.retention.closure.settle_pending`).
(2) Load what keeps data past its retention: the legal holds in force (on a
    subject, or on an organization and every organization below it) and the
    open data-subject requests that need the subject's records (access,
    portability, rectification).
(3) Delete by predicate alone, walking the table once in physical order, a
    window of about a batch at a time: records past their stored
    end (``retain_until < today``), not kept, of a kind counted from
    collection and collected before the day from which some regime would
    still keep it, of subjects and organizations nothing keeps
    (:class:`servinfo.store.expiry.ExpiryWalk`: one statement a window,
    nothing read into Python, nothing decrypted; on SQLite several windows to a
    transaction, committed as soon as a writer queues). On PostgreSQL each
    past month of telemetry (a partition) is first proved to hold only such
    records and then dropped whole
    (:func:`servinfo.store.expiry.drop_expired_partition`); a month the proof
    fails for is walked like the rest. This month's and next month's
    partitions are made first (:func:`servinfo.store.partitions.ensure_months_ahead`).
(4) Then page through the rest past their stored end, and decide each from
    plaintext columns only:

    * a kind whose period counts from closure, of an account not closed: its
      end becomes provisional again (never deleted while the account is open);
    * an end the policy no longer agrees with — the period that the notice and
      the records of processing show, for the subject's regime and start event
      (:func:`servinfo.retention.schedule.retention_end`) — moves to the policy's;
    * held, or needed by an open request: marked kept (``legal_hold``);
    * otherwise deleted, with its blind indexes.

    Each batch is one transaction that holds the region's writers off only
    while it runs: ingest waits at most one batch (``retention.batch_size``),
    and a batch that had to wait for writers is followed by a rest (see
    :func:`_pace`). (Step (3)'s windows, each at most a batch, share a
    transaction on SQLite until a writer queues: it still waits one window.)
(5) Page through the records marked kept: those nothing keeps any more are
    deleted the same way; the rest are counted per hold and per request.
(6) Destroy every data key no record is sealed under any more
    (crypto-shredding: :func:`servinfo.store.expiry.destroy_idle_keys`); the
    ids of each page destroyed go to the shred ledger, which a restore replays.
(7) Purge the storage (SQLite checkpoints its WAL, where ``secure_delete``
    has zeroed the freed cells; PostgreSQL vacuums ``data_keys``), as erasure does.
(8) One audit entry for the sweep and region: counts per kind, hold and
    request ids — no subject, no record id.

Idempotent: every transaction (a batch, or step (3)'s windows) either commits
whole or not at all, and a record a batch handled is no longer one the next
batch finds. A sweep that crashed is
simply run again; it deletes nothing twice and finds what the first left.

A sweep has an identity (``sweep_id``: its job's id; a foreground run gets its
own). Each batch adds what it did (deleted, provisional, extended per kind;
keys destroyed) to the sweep's progress in the region database, in the batch's
own transaction (:mod:`servinfo.store.sweep_progress`): the audit entry of a
sweep run again under the same identity after a crash counts what every
attempt did, and how many attempts there were. The sums are sealed before the
entry is written and cleared after it: a rerun that finds them sealed writes
the entry only if the log does not hold it yet, and sweeps nothing more.
``dry_run`` decides the same way and changes nothing (the audit entry says so).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from servinfo.policy import Policy
from servinfo.policy.model import Kind
from servinfo.retention.closure import settle_pending
from servinfo.retention.ledger import KEYS_DESTROYED as LEDGER_KEYS_DESTROYED
from servinfo.retention.schedule import PROVISIONAL, collected_cutoffs, retention_end
from servinfo.store import Subject, SubjectDirectory, UnknownRegion, checkpoint
from servinfo.store._ids import new_ulid
from servinfo.store.engines import is_sqlite
from servinfo.store.expiry import (
    EXPIRY_TABLES,
    Deletable,
    ExpiredRecord,
    ExpiryBatch,
    ExpiryWalk,
    delete_expired,
    destroy_idle_keys,
    drop_expired_partition,
    expired_batch,
    expired_page,
    has_expired,
    keep_expired,
    kept_batch,
    move_ends,
    physical_extent,
)
from servinfo.store.models import RecordRow
from servinfo.store.partitions import ensure_months_ahead, record_leaves
from servinfo.store.sweep_progress import (
    ATTEMPTS,
    KEYS_DESTROYED,
    SweepTally,
    clear_sweep,
    seal_sweep,
    sealed_sweep,
    sweep_totals,
)

if TYPE_CHECKING:
    from servinfo.audit import AuditLog
    from servinfo.deployment import Deployment

__all__ = [
    "NEEDING_REQUEST_TYPES",
    "SWEEP_ACTOR",
    "Keepers",
    "Progress",
    "SweepReport",
    "batch_size_for",
    "kept_by_holds",
    "run_sweep",
    "sweep_region",
]

#: The actor the sweep's audit entries name.
SWEEP_ACTOR = "servinfo-retention"
#: Open requests of these types keep the subject's records until they are answered.
NEEDING_REQUEST_TYPES = ("access", "portability", "rectification")
#: Called as ``progress(done, total)`` after each batch (``total`` as counted at the start).
#: On SQLite it may be called inside the walk's open write transaction (step (3)): it
#: must not write to the region, and an exception it raises undoes that transaction.
Progress = Callable[[int, int], None]
_SQLITE_BATCH = 1_000
#: Subjects whose regime and closure a sweep remembers between batches.
_SUBJECTS_REMEMBERED = 100_000
_POSTGRESQL_BATCH = 10_000
#: A wait for the writers' lock longer than this means writers are at work.
_CONTENDED = 0.002
#: Under contention, rest this many times as long as a batch held the writers off.
_YIELD = 3.0
#: Rows per unit of the fast path's window (by ``is_sqlite``): a rowid is one row,
#: a PostgreSQL heap block holds some tens of records.
_ROWS_PER_UNIT = {True: 1, False: 32}
#: A window grows or shrinks at most this many times from one batch to the next.
_WIDTH_STEP = 4


@dataclass(frozen=True)
class SweepReport:
    """What one sweep of one region did (or, with ``dry_run``, would do); no personal data."""

    region: str
    today: dt.date
    dry_run: bool
    #: Records deleted, by kind.
    deleted: Mapping[str, int] = field(default_factory=dict)
    #: Records past retention kept, by hold id, then kind.
    kept_by_hold: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Records past retention kept, by open request id, then kind.
    kept_by_request: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Records of open accounts whose stored end was early: provisional again, by kind.
    provisional: Mapping[str, int] = field(default_factory=dict)
    #: Records whose end the policy sets later than the one stored, by kind.
    extended: Mapping[str, int] = field(default_factory=dict)
    keys_destroyed: int = 0
    #: Account closures and reopenings settled in step (1).
    closures_settled: int = 0
    #: False if SQLite could not truncate its WAL (a reader held it): run again.
    storage_purged: bool = True
    #: The sequence number of the sweep's audit entry.
    audit_seq: int | None = None
    #: The sweep's identity, whose progress the counts above sum (None: this run's alone).
    sweep_id: str | None = None
    #: How many attempts the counts above sum (an attempt killed mid-sweep counts).
    attempts: int = 1

    @property
    def deleted_total(self) -> int:
        return sum(self.deleted.values())

    @property
    def kept_total(self) -> int:
        return sum(
            n for kept in (self.kept_by_hold, self.kept_by_request) for c in kept.values()
            for n in c.values()
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "today": self.today.isoformat(),
            "dry_run": self.dry_run,
            "deleted": dict(sorted(self.deleted.items())),
            "kept_by_hold": {
                h: dict(sorted(c.items())) for h, c in sorted(self.kept_by_hold.items())
            },
            "kept_by_request": {
                r: dict(sorted(c.items())) for r, c in sorted(self.kept_by_request.items())
            },
            "provisional": dict(sorted(self.provisional.items())),
            "extended": dict(sorted(self.extended.items())),
            "keys_destroyed": self.keys_destroyed,
            "closures_settled": self.closures_settled,
            "storage_purged": self.storage_purged,
            "audit_seq": self.audit_seq,
            "sweep_id": self.sweep_id,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepReport:
        """The report :meth:`to_dict` gave."""
        return cls(**{**data, "today": dt.date.fromisoformat(data["today"])})


@dataclass(frozen=True)
class Keepers:
    """What keeps a subject's records past their retention, as loaded at the start of a sweep."""

    #: Hold ids by subject id (holds placed on the subject itself).
    subject_holds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Hold ids by organization id (holds on it or on an organization above it).
    org_holds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Open request ids that need the subject's records, by subject id.
    requests: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def holds_of(self, record: ExpiredRecord) -> tuple[str, ...]:
        return self.subject_holds.get(record.subject_id, ()) + self.org_holds.get(record.org_id, ())

    @classmethod
    def of_deployment(cls, deployment: Deployment) -> Keepers:
        subject_holds: dict[str, list[str]] = defaultdict(list)
        org_holds: dict[str, list[str]] = defaultdict(list)
        directory = deployment.directory
        for hold in deployment.ledgers.holds():
            if hold.subject_id is not None:
                subject_holds[hold.subject_id].append(hold.hold_id)
            elif hold.org_id is not None:
                for org_id in directory.organizations_under([hold.org_id]):
                    org_holds[org_id].append(hold.hold_id)
        requests: dict[str, list[str]] = defaultdict(list)
        for request in deployment.rights.list_requests(open_only=True):
            if request.type in NEEDING_REQUEST_TYPES:
                requests[request.subject_id].append(request.request_id)
        return cls(
            {s: tuple(h) for s, h in subject_holds.items()},
            {o: tuple(h) for o, h in org_holds.items()},
            {s: tuple(r) for s, r in requests.items()},
        )


def batch_size_for(engine: Engine, setting: int = 0) -> int:
    """``setting`` if positive, else the backend's default (SQLite small, PostgreSQL larger)."""
    if setting > 0:
        return setting
    return _SQLITE_BATCH if is_sqlite(engine) else _POSTGRESQL_BATCH


def run_sweep(
    deployment: Deployment,
    region: str,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    sweep_id: str | None = None,
) -> SweepReport:
    """Sweep ``region`` of ``deployment`` as of ``now``; see the module docstring.

    The jobs engine's entry point: a plain function, safe to run again after a
    crash at any point, and concurrently with ingest. ``sweep_id``: the sweep's
    identity (the job's id), the same for every attempt at it; without one, this
    run is a sweep of its own.
    """
    if region not in deployment.regions:
        raise UnknownRegion(region, list(deployment.regions))
    engine = deployment.regions[region]
    if not dry_run:
        sweep_id = sweep_id or f"run-{new_ulid()}"
        sealed = sealed_sweep(engine, sweep_id)
        if sealed is not None:  # crashed around its audit entry: finish that alone
            report = SweepReport.from_dict(json.loads(sealed.report))
            return _audited(deployment, engine, report, sweep_id, sealed.audit_from)
    ledgered = _LedgeredKeys(deployment, region, now)
    report = sweep_region(
        policy=deployment.runtime.refresh().policy,
        directory=deployment.directory,
        region=region,
        engine=engine,
        keepers=Keepers.of_deployment(deployment),
        now=now,
        dry_run=dry_run,
        batch_size=batch_size_for(engine, deployment.settings.retention_batch_size),
        progress=progress,
        sweep_id=sweep_id,
        on_keys_destroyed=None if dry_run else ledgered.append,
    )
    if dry_run:
        return dataclasses.replace(report, audit_seq=_record_entry(deployment.audit, report))
    assert sweep_id is not None
    # Sealed before the entry: a rerun after a crash from here on writes no second one.
    audit_from = deployment.audit.size()
    seal_sweep(engine, sweep_id, json.dumps(report.to_dict()), audit_from)
    return _audited(deployment, engine, report, sweep_id, audit_from, ledgered.mirrored())


class _LedgeredKeys:
    """Step (6)'s pages of destroyed keys, each written to the shred ledger (kept apart
    from the data: a restore of an older backup destroys them again); the sweep's audit
    entry mirrors the rows (their seqs and the last hash)."""

    def __init__(self, deployment: Deployment, region: str, now: dt.datetime) -> None:
        self._deployment, self._region, self._now = deployment, region, now
        self._rows: list[tuple[int, str]] = []

    def append(self, key_ids: list[str]) -> None:
        entry = self._deployment.shred_ledger.append(
            LEDGER_KEYS_DESTROYED,
            {"region": self._region, "keys": key_ids},
            deployment_id=self._deployment.deployment_id,
            at=self._now,
            mirror=False,
        )
        self._rows.append((entry.seq, entry.hash))

    def mirrored(self) -> dict[str, str]:
        if not self._rows:
            return {}
        first, last = self._rows[0][0], self._rows[-1]
        return {"shred_ledger": f"{first}-{last[0]}", "shred_ledger_hash": last[1]}


def _audited(
    deployment: Deployment,
    engine: Engine,
    report: SweepReport,
    sweep_id: str,
    audit_from: int,
    ledgered: Mapping[str, str] | None = None,
) -> SweepReport:
    """Steps (2) and (3) of finishing a sweep (see :mod:`servinfo.store.sweep_progress`):
    the entry, unless the log holds it from ``audit_from`` on, then the progress cleared."""
    seq = _entry_of(deployment.audit, report.region, sweep_id, audit_from)
    if seq is None:
        seq = _record_entry(deployment.audit, report, ledgered)
    clear_sweep(engine, sweep_id)
    return dataclasses.replace(report, audit_seq=seq)


def _record_entry(
    audit: AuditLog, report: SweepReport, ledgered: Mapping[str, str] | None = None
) -> int:
    return audit.record(
        "retention_sweep",
        actor=SWEEP_ACTOR,
        outcome="dry_run" if report.dry_run else "swept",
        details={**_audit_details(report), **(ledgered or {})},
    )


#: Entries the search for a sealed sweep's entry decodes at a time.
_ENTRIES_PAGE = 1_000


def _entry_of(audit: AuditLog, region: str, sweep_id: str, start: int) -> int | None:
    """The seq of the sweep's entry, if the log holds it from ``start`` on."""
    end = audit.size()
    for page in range(start, end, _ENTRIES_PAGE):
        for entry in audit.entries(page, min(page + _ENTRIES_PAGE, end)):
            details = entry.details
            if (
                entry.action == "retention_sweep"
                and details.get("sweep") == sweep_id
                and details.get("region") == region
            ):
                return entry.seq
    return None


def sweep_region(
    *,
    policy: Policy,
    directory: SubjectDirectory,
    region: str,
    engine: Engine,
    keepers: Keepers,
    now: dt.datetime,
    dry_run: bool = False,
    batch_size: int = _SQLITE_BATCH,
    progress: Progress | None = None,
    sweep_id: str | None = None,
    on_keys_destroyed: Callable[[list[str]], None] | None = None,
) -> SweepReport:
    """Steps (1)–(7) in one region, from explicit parts (tests and benchmarks call this).

    With ``sweep_id`` (and not ``dry_run``), every batch adds its counts to the
    sweep's progress, and the report gives the sums over every attempt at it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    today = now.astimezone(dt.UTC).date()
    settled = 0
    if not dry_run:  # (1)
        settled, _ = settle_pending(directory, region, engine, policy)
    sweep = _Sweep(policy, directory, keepers, today)
    tally = SweepTally(sweep_id) if sweep_id is not None and not dry_run else None
    if tally is not None:
        tally.begin_attempt(engine)
    # Counted for the progress bar alone: a sweep nobody watches does not pay for it.
    total = _count_expired(engine, today) if progress is not None else 0
    done = 0
    if dry_run:
        for batch in _pages(engine, today, batch_size, kept=False):
            sweep.decide(batch, kept_pass=True)
            done += len(batch)
            if progress is not None:
                progress(done, total)
    else:
        # (3) first by predicate alone: kinds counted from collection, past every
        # regime's period, of subjects and organizations nothing keeps.
        which = Deletable(
            today,
            collected_cutoffs(policy, today),
            skip_subjects=set(keepers.subject_holds) | set(keepers.requests),
            skip_orgs=set(keepers.org_holds),
            indexed_kinds=frozenset(
                kind_id
                for kind_id, kind in policy.kinds().items()
                if any(spec.lookup for spec in kind.fields.values())
            ),
        )
        ensure_months_ahead(engine, today)  # PostgreSQL: this month's partitions, and next
        for leaf in record_leaves(engine):
            # A month partition whose every record goes is dropped whole; any other
            # (and one that could not be proved) is walked a window at a time.
            if leaf.ends is not None and leaf.ends <= today:
                dropped = drop_expired_partition(engine, leaf.name, which, tally=tally)
                if dropped is not None:
                    sweep.deleted_batch(dropped)
                    done += sum(dropped.deleted.values())
                    if progress is not None:
                        progress(done, max(total, done))
                    continue
            done = _walk(engine, leaf.name, which, batch_size, sweep, tally, done, total, progress)
        # (4) ... then what needs a decision record by record.
        while batch := expired_batch(engine, today, batch_size):
            decided = sweep.decide(batch)
            move_ends(engine, decided.moves, tally=tally, counts=decided.moved)
            keep_expired(engine, decided.keep, today)
            sweep.deleted_batch(delete_expired(engine, decided.delete, today, tally=tally))
            done += len(batch)
            if progress is not None:
                progress(done, max(total, done))
            if not (decided.moves or decided.keep or decided.delete):
                break  # unreachable: every record is decided; never loop on one batch
        after: str | None = None  # (5)
        while kept := kept_batch(engine, today, batch_size, after):
            decided = sweep.decide(kept, kept_pass=True)
            move_ends(engine, decided.moves, tally=tally, counts=decided.moved)
            sweep.deleted_batch(delete_expired(engine, decided.delete, today, tally=tally))
            after = kept[-1].record_id
    if dry_run:
        for kept in _pages(engine, today, batch_size, kept=True):
            sweep.decide(kept, kept_pass=True)
    if not dry_run:  # (6) after every deletion, and after a crashed sweep's too
        sweep.keys_destroyed = destroy_idle_keys(
            engine, batch_size, tally=tally, on_destroyed=on_keys_destroyed
        )
    purged = True
    if not dry_run and (sweep.deleted or sweep.keys_destroyed):  # (7)
        purged = checkpoint(engine, tables=EXPIRY_TABLES)
    report = SweepReport(
        region=region,
        today=today,
        dry_run=dry_run,
        deleted=dict(sweep.would_delete if dry_run else sweep.deleted),
        kept_by_hold={h: dict(c) for h, c in sweep.kept_by_hold.items()},
        kept_by_request={r: dict(c) for r, c in sweep.kept_by_request.items()},
        provisional=dict(sweep.provisional),
        extended=dict(sweep.extended),
        keys_destroyed=sweep.keys_destroyed,
        closures_settled=settled,
        storage_purged=purged,
    )
    if tally is None:
        return report
    # What every attempt did, as its batches counted it. (The kept counts are the
    # kept pass's, which sees every kept record each attempt.)
    totals = sweep_totals(engine, tally.sweep_id)
    return dataclasses.replace(
        report,
        deleted=totals.get("deleted", {}),
        provisional=totals.get("provisional", {}),
        extended=totals.get("extended", {}),
        keys_destroyed=totals.get(KEYS_DESTROYED, {}).get("", 0),
        sweep_id=tally.sweep_id,
        attempts=totals.get(ATTEMPTS, {}).get("", 1),
    )


@dataclass
class _Decided:
    delete: list[ExpiredRecord] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    moves: dict[str, dt.date] = field(default_factory=dict)
    #: The moves counted by outcome (``provisional``, ``extended``), then kind.
    moved: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


class _Sweep:
    """The decisions of one sweep, and their counts."""

    def __init__(
        self, policy: Policy, directory: SubjectDirectory, keepers: Keepers, today: dt.date
    ) -> None:
        self._kinds: dict[str, Kind] = policy.kinds()
        self._policy = policy
        self._directory = directory
        self._keepers = keepers
        self._today = today
        self.deleted: Counter[str] = Counter()
        self.provisional: Counter[str] = Counter()
        self.extended: Counter[str] = Counter()
        self.kept_by_hold: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.kept_by_request: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.keys_destroyed = 0
        self._dry_deleted: Counter[str] = Counter()
        self._known: dict[str, tuple[str, dt.datetime | None]] = {}

    def decide(self, batch: Sequence[ExpiredRecord], *, kept_pass: bool = False) -> _Decided:
        subjects = self._subjects({r.subject_id for r in batch})
        decided = _Decided()
        for record in batch:
            end = self._policy_end(record, subjects.get(record.subject_id))
            if end == PROVISIONAL:
                decided.moves[record.record_id] = end
                decided.moved["provisional"][record.kind] += 1
                self.provisional[record.kind] += 1
                continue
            if end is not None and end >= self._today:
                decided.moves[record.record_id] = end
                decided.moved["extended"][record.kind] += 1
                self.extended[record.kind] += 1
                continue
            holds = self._keepers.holds_of(record)
            requests = () if holds else self._keepers.requests.get(record.subject_id, ())
            if holds or requests:
                # Counted in the kept pass, which sees every kept record once.
                if kept_pass:
                    for hold_id in holds:
                        self.kept_by_hold[hold_id][record.kind] += 1
                    for request_id in requests:
                        self.kept_by_request[request_id][record.kind] += 1
                else:
                    decided.keep.append(record.record_id)
                continue
            decided.delete.append(record)
            self._dry_deleted[record.kind] += 1
        return decided

    def deleted_batch(self, batch: ExpiryBatch) -> None:
        self.deleted.update(batch.deleted)

    @property
    def would_delete(self) -> Counter[str]:
        return self._dry_deleted

    def _subjects(self, subject_ids: set[str]) -> dict[str, tuple[str, dt.datetime | None]]:
        """(regime, end of the account) of each subject, from the directory once a sweep.

        A closure reported during the sweep is settled by the next one; until
        then the record keeps its stored end (see :mod:`servinfo.retention.closure`).
        """
        known = self._known
        missing = subject_ids - known.keys()
        if missing:
            for subject in self._directory.subjects(missing).values():
                known[subject.subject_id] = _standing(self._policy, subject)
            if len(known) > _SUBJECTS_REMEMBERED:
                self._known = known = {s: known[s] for s in subject_ids if s in known}
        return {s: known[s] for s in subject_ids if s in known}

    def _policy_end(
        self, record: ExpiredRecord, subject: tuple[str, dt.datetime | None] | None
    ) -> dt.date | None:
        """The end the policy sets today for the record; None if it cannot say (the stored
        end stands: a kind the policy dropped, a subject the directory lost)."""
        kind = self._kinds.get(record.kind)
        if kind is None or subject is None:
            return None
        regime, closed_at = subject
        return retention_end(kind.retention, regime, record.collected_on, closed_at)


def _standing(policy: Policy, subject: Subject) -> tuple[str, dt.datetime | None]:
    # An erased subject's account is over: its kept classes count from the erasure.
    return policy.regime_for(subject.jurisdiction.upper()), subject.closed_at or subject.erased_at


def _pace(walk: ExpiryWalk, batch: ExpiryBatch) -> None:
    """Leave the region's writers the lock for a while after a batch that had to wait for it.

    A batch that waited found writers at work (ingest): the sweep then commits
    (on SQLite the walk's transaction may hold several windows) and rests
    :data:`_YIELD` times as long as the batch held them off, so that they keep the
    lock most of the time; alone, it never waits and never rests.
    """
    if batch.waited > _CONTENDED:
        walk.commit()
        time.sleep(batch.held * _YIELD)


def _walk(
    engine: Engine,
    table: str,
    which: Deletable,
    batch_size: int,
    sweep: _Sweep,
    tally: SweepTally | None,
    done: int,
    total: int,
    progress: Progress | None,
) -> int:
    """Step (3) over one table of records (a partition on PostgreSQL): one walk in
    physical order, a window at a time, each window sized so that it deletes about
    a batch (the batch is how long ingest waits); the first guess assumes every row
    expired. What ``done`` counts after it."""
    if not has_expired(engine, which.today, table):  # a partition of live records alone
        return done
    extent = physical_extent(engine, table)
    width = max(1, batch_size // _ROWS_PER_UNIT[is_sqlite(engine)])
    start = 0
    with ExpiryWalk(engine, tally=tally) as walk:
        while start < extent:
            batch_done = walk.delete(which, (start, start + width), batch_size, table=table)
            sweep.deleted_batch(batch_done)
            count = sum(batch_done.deleted.values())
            if count < batch_size:
                start += width
                width = _next_width(width, count, batch_size)
            else:  # the window may hold more: go over it again, narrower
                width = max(1, width // 2)
            _pace(walk, batch_done)
            done += count
            if progress is not None:
                progress(done, max(total, done))
    return done


def _next_width(width: int, deleted: int, batch_size: int) -> int:
    """The next window's width: the one that would have deleted about three quarters of
    ``batch_size`` (a window that reaches the batch size is gone over again)."""
    wanted = width * (batch_size * 3 // 4 or 1) // max(deleted, 1)
    return max(1, width // _WIDTH_STEP, min(wanted, width * _WIDTH_STEP))


def _count_expired(engine: Engine, today: dt.date) -> int:
    query = select(func.count()).where(
        RecordRow.retain_until < today, RecordRow.legal_hold.is_(False)
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _pages(
    engine: Engine, today: dt.date, size: int, *, kept: bool
) -> Iterator[list[ExpiredRecord]]:
    after: str | None = None
    while page := expired_page(engine, today, size, after, kept=kept):
        yield page
        after = page[-1].record_id


def _audit_details(report: SweepReport) -> dict[str, str | int | bool | None]:
    """Counts per kind, hold and request: no subject, no record id."""
    details: dict[str, str | int | bool | None] = {
        "region": report.region,
        "today": report.today.isoformat(),
        "dry_run": report.dry_run,
        "deleted": report.deleted_total,
        "kept": report.kept_total,
        "keys_destroyed": report.keys_destroyed,
        "closures_settled": report.closures_settled,
        "storage_purged": report.storage_purged,
    }
    if report.sweep_id is not None:
        details["sweep"] = report.sweep_id
        details["attempts"] = report.attempts
    for kind, count in sorted(report.deleted.items()):
        details[f"deleted.{kind}"] = count
    for label, kept in (("hold", report.kept_by_hold), ("request", report.kept_by_request)):
        for ref, counts in sorted(kept.items()):
            for kind, count in sorted(counts.items()):
                details[f"kept.{label}.{ref}.{kind}"] = count
    for label, moved in (("provisional", report.provisional), ("extended", report.extended)):
        for kind, count in sorted(moved.items()):
            details[f"{label}.{kind}"] = count
    return details


def kept_by_holds(deployment: Deployment, *, now: dt.datetime) -> list[dict[str, Any]]:
    """Every hold in force and what it keeps past retention now, per region and kind.

    Counted from the records the sweep marked kept (plaintext columns only); a
    record of a subject held twice is listed under each hold that covers it.
    """
    from servinfo.store.expiry import expired_counts

    today = now.astimezone(dt.UTC).date()
    directory = deployment.directory
    listed = []
    for hold in deployment.ledgers.holds():
        subjects = [hold.subject_id] if hold.subject_id is not None else []
        orgs = directory.organizations_under([hold.org_id]) if hold.org_id is not None else set()
        kinds: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        for region, engine in sorted(deployment.regions.items()):
            counts = expired_counts(engine, today, subject_ids=subjects, org_ids=orgs)
            for (_, kind), count in counts.items():
                kinds[kind] += count
                regions[region] += count
        listed.append(
            {
                "hold": hold.hold_id,
                "placed_at": hold.placed_at.isoformat(),
                "on": "subject" if hold.subject_id is not None else "organization",
                "kept": dict(sorted(kinds.items())),
                "by_region": dict(sorted(regions.items())),
            }
        )
    return listed
