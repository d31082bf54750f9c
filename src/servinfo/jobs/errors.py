"""The job queue's errors::

ServinfoError
└── JobError
    ├── JobNotFound        404  no job has that id
    ├── JobNotRetryable    409  only a failed job can be retried
    ├── UnknownJobKind     400  no handler is registered for the kind
    ├── LeaseLost          409  the worker's lease ran out and another took the job
    └── JobFailed          500  raised by a handler: a failure whose message holds no
                                personal data, kept in the job's row as it is
"""

from __future__ import annotations

from collections.abc import Iterable

from servinfo.errors import ServinfoError

__all__ = ["JobError", "JobFailed", "JobNotFound", "JobNotRetryable", "LeaseLost", "UnknownJobKind"]


class JobError(ServinfoError):
    code = "job_error"


class JobNotFound(JobError):
    code = "job_not_found"
    http_status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}: see 'servinfo jobs list'")


class JobNotRetryable(JobError):
    code = "job_not_retryable"
    http_status = 409

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} is {state}; only a failed job can be retried")


class UnknownJobKind(JobError):
    code = "unknown_job_kind"

    def __init__(self, kind: str, known: Iterable[str]) -> None:
        super().__init__(f"no job kind {kind!r}; expected one of: {', '.join(sorted(known))}")


class LeaseLost(JobError):
    code = "lease_lost"
    http_status = 409

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: the lease ran out and another worker took the job")


class JobFailed(JobError):
    """A handler's failure, with a message meant for the job's row (no personal data).

    ``final`` fails the job at once instead of retrying it: for work that can
    never succeed as asked (a request in a state that cannot be processed).
    """

    code = "job_failed"
    http_status = 500

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final
