"""The job queue over SQLAlchemy: enqueue, claim under a lease, heartbeat, finish, retry.

Delivery is at least once. A worker claims a job by moving it to ``running``
with a fresh ``lease_token`` and ``lease_until = now + lease``; its heartbeat
moves ``lease_until`` forward while the handler runs. A worker that dies
(``kill -9``, a lost machine) stops renewing: once the lease has run out the
job is claimable again, by any worker, as a new attempt. So a handler may run
more than once for one job and must be idempotent (docs/jobs.md, "The handler
contract").

The claim is one statement pair in one write transaction, the same code on
both backends:

* SQLite: :func:`servinfo.store.engines.write_transaction` begins ``BEGIN
  IMMEDIATE``; one writer at a time, so the select and the update see the same
  rows and two workers cannot claim one job;
* PostgreSQL: the select takes the row ``FOR UPDATE SKIP LOCKED`` (SQLAlchemy
  renders nothing of it for SQLite), so concurrent workers skip each other's
  candidates instead of queueing behind them.

Every change a worker makes to a running job (heartbeat, done, failed) is
guarded by its ``lease_token``: a worker whose lease expired and was taken
over finds its update matching no row and learns it lost the job — a late
"done" from a zombie never overwrites the new attempt.

Failures are retried with exponential backoff (:class:`Backoff`) until
``max_attempts``; then the job is ``failed`` until an operator retries it.
What a failure leaves in the row is the exception's class and a message that
holds no personal data: a :class:`JobFailed`'s message (written for that), a
domain error's code, or "unexpected error" — never the text of an arbitrary
exception, which may quote a driver's parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, Table, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from servinfo.errors import ServinfoError
from servinfo.jobs.errors import JobFailed, JobNotFound, JobNotRetryable
from servinfo.jobs.models import JobRow
from servinfo.store._ids import new_ulid
from servinfo.store.engines import write_transaction

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "STATES",
    "Backoff",
    "Claim",
    "Job",
    "JobQueue",
    "JobState",
    "failure_of",
]

JobState = Literal["queued", "running", "failed", "done"]
STATES: tuple[JobState, ...] = ("queued", "running", "failed", "done")
#: How long a claim holds a job without a heartbeat.
DEFAULT_LEASE = dt.timedelta(seconds=30)
DEFAULT_MAX_ATTEMPTS = 5
_TABLE: Table = JobRow.__table__  # type: ignore[assignment]
#: The longest messages kept of a failure (the column's size).
_MESSAGE_LIMIT = 300


def _utc(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else now


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``base * 2**(attempt-1)``, at most ``cap``."""

    base: dt.timedelta = dt.timedelta(seconds=10)
    cap: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, attempt: int) -> dt.timedelta:
        """The wait after failed attempt number ``attempt`` (1 for the first)."""
        factor = 2 ** min(max(attempt - 1, 0), 32)  # bounded: no overflow on a long history
        delay: dt.timedelta = min(self.base * factor, self.cap)
        return delay


@dataclass(frozen=True)
class Job:
    """A job as an operator sees it."""

    id: str
    kind: str
    params: dict[str, Any]
    dedupe_key: str | None
    state: str
    attempts: int
    max_attempts: int
    run_after: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    lease_owner: str | None
    lease_until: dt.datetime | None
    heartbeat_at: dt.datetime | None
    progress_done: int | None
    progress_total: int | None
    last_error_class: str | None
    last_error: str | None
    result: dict[str, Any] | None

    @staticmethod
    def of(row: Any) -> Job:
        return Job(
            id=row.id,
            kind=row.kind,
            params=json.loads(row.params),
            dedupe_key=row.dedupe_key,
            state=row.state,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            run_after=row.run_after,
            created_at=row.created_at,
            updated_at=row.updated_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            heartbeat_at=row.heartbeat_at,
            progress_done=row.progress_done,
            progress_total=row.progress_total,
            last_error_class=row.last_error_class,
            last_error=row.last_error,
            result=None if row.result is None else json.loads(row.result),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, times in ISO 8601."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


@dataclass(frozen=True)
class Claim:
    """A job a worker holds, and the token that proves it."""

    job: Job
    token: str


def failure_of(error: BaseException) -> tuple[str, str]:
    """The class and the message a failure leaves in the row; never personal data."""
    if isinstance(error, JobFailed):
        message = error.message
    elif isinstance(error, ServinfoError):
        message = f"{error.code} (see the worker's log)"
    else:
        message = "unexpected error (see the worker's log)"
    return type(error).__name__[:128], message[:_MESSAGE_LIMIT]


def _dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))


class JobQueue:
    """The ``jobs_queue`` table of a control database, as a queue."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
        backoff: Backoff | None = None,
    ) -> None:
        if lease <= dt.timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        self.engine = engine
        self.lease = lease
        self.backoff = backoff or Backoff()

    # -- producers --------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        run_after: dt.datetime | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        now: dt.datetime | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; with ``dedupe_key``, only if no job holds that key yet.

        Returns the job and whether this call created it (False: the key's job,
        whatever its state).
        """
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        at = _utc(now)
        job_id = new_ulid()
        row = {
            "id": job_id,
            "kind": kind,
            "params": _dumps(params or {}),
            "dedupe_key": dedupe_key,
            "state": "queued",
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": run_after or at,
            "created_at": at,
            "updated_at": at,
        }
        try:
            with write_transaction(self.engine) as connection:
                connection.execute(_TABLE.insert(), row)
        except IntegrityError:
            if dedupe_key is None:
                raise
            existing = self.by_dedupe_key(dedupe_key)
            if existing is None:  # deleted between the two statements: try once more
                return self.enqueue(
                    kind, params, dedupe_key=dedupe_key, run_after=run_after,
                    max_attempts=max_attempts, now=now,
                )  # fmt: skip
            return existing, False
        return self.get(job_id), True

    # -- workers ----------------------------------------------------------------------

    def claim(
        self, owner: str, *, kinds: Collection[str] | None = None, now: dt.datetime | None = None
    ) -> Claim | None:
        """Take the next due job (queued and due, or running with an expired lease)."""
        at = _utc(now)
        claimable = or_(
            and_(JobRow.state == "queued", JobRow.run_after <= at),
            and_(JobRow.state == "running", JobRow.lease_until < at),
        )
        conditions = [claimable] if kinds is None else [claimable, JobRow.kind.in_(list(kinds))]
        token = secrets.token_hex(16)
        # A plain read first: an idle worker's poll takes no write lock (on SQLite,
        # the one every ingest waits for).
        with self.engine.connect() as connection:
            if connection.execute(select(JobRow.id).where(*conditions).limit(1)).first() is None:
                return None
        with write_transaction(self.engine) as connection:
            while True:
                candidate = connection.execute(
                    select(JobRow.id, JobRow.state, JobRow.attempts, JobRow.max_attempts)
                    .where(*conditions)
                    .order_by(JobRow.run_after, JobRow.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if candidate is None:
                    return None
                if candidate.state == "running" and candidate.attempts >= candidate.max_attempts:
                    # Its last attempt died holding the lease: no attempt is left to give.
                    connection.execute(
                        update(JobRow)
                        .where(JobRow.id == candidate.id)
                        .values(
                            state="failed",
                            finished_at=at,
                            updated_at=at,
                            lease_token=None,
                            lease_until=None,
                            last_error_class="LeaseExpired",
                            last_error="the worker stopped renewing its lease (killed or stuck)",
                        )
                    )
                    continue
                claimed = connection.execute(
                    update(JobRow)
                    .where(JobRow.id == candidate.id, *conditions)
                    .values(
                        state="running",
                        attempts=JobRow.attempts + 1,
                        lease_token=token,
                        lease_owner=owner[:128],
                        lease_until=at + self.lease,
                        heartbeat_at=at,
                        started_at=at,
                        updated_at=at,
                        finished_at=None,
                    )
                )
                if claimed.rowcount == 1:
                    row = connection.execute(select(_TABLE).where(JobRow.id == candidate.id)).one()
                    return Claim(Job.of(row), token)

    def heartbeat(
        self,
        claim: Claim,
        *,
        progress: tuple[int, int] | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Renew the lease (and record progress); False when the lease was lost."""
        at = _utc(now)
        values: dict[str, Any] = {"lease_until": at + self.lease, "heartbeat_at": at}
        if progress is not None:
            values["progress_done"], values["progress_total"] = progress
        return self._guarded(claim, values)

    def complete(
        self,
        claim: Claim,
        result: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> bool:
        """Mark the job done; False when the lease was lost meanwhile (the work may rerun)."""
        at = _utc(now)
        return self._guarded(
            claim,
            {
                "state": "done",
                "finished_at": at,
                "updated_at": at,
                "lease_token": None,
                "lease_until": None,
                "result": None if result is None else _dumps(result),
                "last_error_class": None,
                "last_error": None,
            },
        )

    def fail(
        self, claim: Claim, error: BaseException, *, now: dt.datetime | None = None
    ) -> JobState | None:
        """Record a failed attempt: queued again after the backoff, or failed for good.

        Returns the new state, or None when the lease was lost meanwhile.
        """
        at = _utc(now)
        error_class, message = failure_of(error)
        attempt = claim.job.attempts
        final = isinstance(error, JobFailed) and error.final
        values: dict[str, Any] = {
            "updated_at": at,
            "lease_token": None,
            "lease_until": None,
            "last_error_class": error_class,
            "last_error": message,
        }
        state: JobState
        if final or attempt >= claim.job.max_attempts:
            state = "failed"
            values.update(state=state, finished_at=at)
        else:
            state = "queued"
            values.update(state=state, run_after=at + self.backoff.delay(attempt))
        return state if self._guarded(claim, values) else None

    def _guarded(self, claim: Claim, values: Mapping[str, Any]) -> bool:
        with write_transaction(self.engine) as connection:
            changed = connection.execute(
                update(JobRow)
                .where(
                    JobRow.id == claim.job.id,
                    JobRow.state == "running",
                    JobRow.lease_token == claim.token,
                )
                .values(**values)
            )
            return changed.rowcount == 1

    # -- operators --------------------------------------------------------------------

    def retry(self, job_id: str, *, now: dt.datetime | None = None) -> Job:
        """A failed job queued again now, with a fresh count of attempts."""
        at = _utc(now)
        with write_transaction(self.engine) as connection:
            state = connection.scalar(select(JobRow.state).where(JobRow.id == job_id))
            if state is None:
                raise JobNotFound(job_id)
            if state != "failed":
                raise JobNotRetryable(job_id, state)
            connection.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "failed")
                .values(state="queued", attempts=0, run_after=at, updated_at=at, finished_at=None)
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self.engine.connect() as connection:
            row = connection.execute(select(_TABLE).where(JobRow.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return Job.of(row)

    def by_dedupe_key(self, key: str) -> Job | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(_TABLE).where(JobRow.dedupe_key == key)).first()
        return None if row is None else Job.of(row)

    def list(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first; ``before`` (a job id) pages on."""
        query = select(_TABLE).order_by(JobRow.id.desc()).limit(limit)
        if state is not None:
            query = query.where(JobRow.state == state)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if before is not None:
            query = query.where(JobRow.id < before)
        with self.engine.connect() as connection:
            return [Job.of(row) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        from sqlalchemy import func

        with self.engine.connect() as connection:
            rows = connection.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            found = {state: int(n) for state, n in rows}
        return {state: found.get(state, 0) for state in STATES}

    def prune(self, older_than: dt.timedelta, *, now: dt.datetime | None = None) -> int:
        """Delete the jobs done before ``now - older_than``; how many.

        Failed jobs stay until an operator retries them. A schedule's key for a
        pruned period is free again, but a schedule only enqueues its current
        period, which is never that old.
        """
        cutoff = _utc(now) - older_than
        with write_transaction(self.engine) as connection:
            deleted = connection.execute(
                delete(JobRow).where(JobRow.state == "done", JobRow.finished_at < cutoff)
            )
            return int(deleted.rowcount)
