"""The operations behind ``servinfo jobs`` and ``/v1/jobs``: permission-checked, retries audited.

Seeing jobs needs ``read_jobs`` (jobs carry request ids and counts, nothing
more); retrying a failed one needs ``manage_jobs`` and is an audit entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from servinfo.jobs.errors import JobError
from servinfo.jobs.queue import STATES, Job, JobQueue

if TYPE_CHECKING:
    from servinfo.access.principals import PrincipalService
    from servinfo.audit import AuditSink
    from servinfo.store import Principal

__all__ = ["LIST_LIMIT", "InvalidJobQuery", "JobService"]

#: The most jobs one call lists; page on with ``before``.
LIST_LIMIT = 1000


class InvalidJobQuery(JobError):
    code = "invalid_request"
    http_status = 400


class JobService:
    def __init__(self, queue: JobQueue, principals: PrincipalService, audit: AuditSink) -> None:
        self.queue = queue
        self._principals = principals
        self._audit = audit

    def list(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        kind: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first."""
        self._principals.require_permission(principal, "read_jobs")
        if state is not None and state not in STATES:
            raise InvalidJobQuery(f"state: got {state!r}, expected one of {', '.join(STATES)}")
        if not 1 <= limit <= LIST_LIMIT:
            raise InvalidJobQuery(f"limit: got {limit}, expected 1 to {LIST_LIMIT}")
        return self.queue.list(state=state, kind=kind, before=before, limit=limit)

    def show(self, principal: Principal, job_id: str) -> Job:
        self._principals.require_permission(principal, "read_jobs")
        return self.queue.get(job_id)

    def retry(self, principal: Principal, job_id: str) -> Job:
        """A failed job queued again, with a fresh count of attempts; audited."""
        self._principals.require_permission(principal, "manage_jobs")
        job = self.queue.retry(job_id)
        self._audit.record(
            "job_retry",
            actor=principal.name,
            outcome="queued",
            details={"job_id": job.id, "kind": job.kind},
        )
        return job
