"""Background work as jobs: a queue table with leases and heartbeats, on SQLite and PostgreSQL.

Modules::

    models     the ``jobs_queue`` table; ``migrations/`` its Alembic branch (JOBS_MIGRATIONS)
    queue      enqueue, claim under a lease, heartbeat, done/failed, retry with backoff
    schedules  every N seconds or daily at a time, one job per period (dedupe keys)
    registry   job kinds and the context a handler runs in
    runner     the worker loop (``servinfo worker``, and the one ``servinfo serve`` starts)
    kinds      servinfo's own job kinds and schedules (export purge, KEK re-wrap, DSR …)
    service    the permission-checked, audited operations behind the CLI and the API
    cli        ``servinfo worker`` and ``servinfo jobs list|show|retry``
    routes     ``/v1/jobs``

Why servinfo keeps its own queue rather than a PostgreSQL job library, and the
contract every handler keeps, are in docs/jobs.md.
"""

from __future__ import annotations

from servinfo.jobs.errors import (
    JobError,
    JobFailed,
    JobNotFound,
    JobNotRetryable,
    LeaseLost,
    UnknownJobKind,
)
from servinfo.jobs.migrations import JOBS_MIGRATIONS
from servinfo.jobs.queue import Backoff, Claim, Job, JobQueue
from servinfo.jobs.registry import JobContext, JobKind, Registry
from servinfo.jobs.runner import Worker, WorkerReport
from servinfo.jobs.schedules import Schedule, enqueue_due

__all__ = [
    "JOBS_MIGRATIONS",
    "Backoff",
    "Claim",
    "Job",
    "JobContext",
    "JobError",
    "JobFailed",
    "JobKind",
    "JobNotFound",
    "JobNotRetryable",
    "JobQueue",
    "LeaseLost",
    "Registry",
    "Schedule",
    "UnknownJobKind",
    "Worker",
    "WorkerReport",
    "enqueue_due",
]
