"""The job queue's table, in the control database: ``jobs_queue``.

One row per job. ``state`` is what an operator sees (``queued``, ``running``,
``failed``, ``done``); ``run_after`` is when a queued job may start (a retry
waits out its backoff there); a running job holds a lease (``lease_token``,
``lease_until``) that its worker's heartbeat renews, and a lease that ran out
makes the job claimable again. ``dedupe_key`` is unique: a schedule enqueues
each period's run under one key, so several workers never enqueue it twice,
and one piece of work (a request's processing, a region's re-wrap to one KEK
version) is queued once however often it is asked for.

``params`` and ``result`` are JSON text and carry ids and counts, never
personal data; ``last_error`` is the class of the last failure and a short
message written by servinfo's own code (see :mod:`servinfo.jobs.queue`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = ["JOBS_TABLES", "JobRow", "JobsBase", "jobs_metadata"]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class JobsBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class JobRow(JobsBase):
    """One job: what to run, its state, its lease and its last failure."""

    __tablename__ = "jobs_queue"
    __table_args__ = (Index(None, "state", "run_after"), Index(None, "state", "lease_until"))

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text())
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer())
    max_attempts: Mapped[int] = mapped_column(Integer())
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A random token per claim: only the worker holding it may renew, finish or fail the job.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    #: Which worker holds the lease (host and process id), for operators.
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress_done: Mapped[int | None] = mapped_column(Integer())
    progress_total: Mapped[int | None] = mapped_column(Integer())
    last_error_class: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(String(300))
    result: Mapped[str | None] = mapped_column(Text())


jobs_metadata = JobsBase.metadata
JOBS_TABLES = frozenset(jobs_metadata.tables)
