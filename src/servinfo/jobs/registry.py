"""Job kinds and the context a handler runs in.

A job kind is a name, a handler and how often to try it. The handler is
called with a :class:`JobContext` and returns a small JSON-ready mapping
(counts, ids — no personal data), kept as the job's result. The contract a
handler keeps is in docs/jobs.md: it may run more than once for one job, so
its effects are keyed and a rerun changes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from servinfo.jobs.errors import JobError, LeaseLost, UnknownJobKind
from servinfo.jobs.queue import Job
from servinfo.jobs.schedules import Schedule

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = ["Clock", "Handler", "JobContext", "JobKind", "Registry"]

Clock = Callable[[], dt.datetime]
Handler = Callable[["JobContext"], Mapping[str, Any] | None]


class JobContext:
    """What a running handler may use: its job, the deployment, the clock, progress."""

    def __init__(self, job: Job, deployment: Deployment | None, clock: Clock) -> None:
        self.job = job
        self._deployment = deployment
        self._clock = clock
        self.lease_lost = threading.Event()
        self._progress: tuple[int, int] | None = None

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            raise JobError(f"job kind {self.job.kind!r} needs a deployment; this worker has none")
        return self._deployment

    def now(self) -> dt.datetime:
        return self._clock()

    def progress(self, done: int, total: int) -> None:
        """Report progress; the next heartbeat stores it in the job's row."""
        self._progress = (done, total)

    @property
    def last_progress(self) -> tuple[int, int] | None:
        return self._progress

    def check(self) -> None:
        """Raise :class:`LeaseLost` when another worker took the job: stop early."""
        if self.lease_lost.is_set():
            raise LeaseLost(self.job.id)


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    description: str
    max_attempts: int = 5


class Registry:
    """The job kinds a worker knows, and the schedules it keeps."""

    def __init__(self, kinds: Iterable[JobKind] = (), schedules: Iterable[Schedule] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        self._schedules: list[Schedule] = []
        for kind in kinds:
            self.add(kind)
        for schedule in schedules:
            self.schedule(schedule)

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind

    def schedule(self, schedule: Schedule) -> None:
        self.get(schedule.kind)  # a schedule of an unknown kind fails here, not at run time
        self._schedules.append(schedule)

    def get(self, name: str) -> JobKind:
        kind = self._kinds.get(name)
        if kind is None:
            raise UnknownJobKind(name, self._kinds)
        return kind

    @property
    def kinds(self) -> Mapping[str, JobKind]:
        return dict(self._kinds)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return tuple(self._schedules)
