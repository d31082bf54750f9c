"""The worker: enqueue what the schedules make due, claim a job, run it under a heartbeat.

One loop per worker process (``servinfo worker``, or the one ``servinfo
serve`` starts): (1) enqueue the schedules' current periods (deduplicated,
:mod:`servinfo.jobs.schedules`); (2) claim the next due job of a kind this
worker knows; (3) run its handler while a heartbeat thread renews the lease
every third of it and stores the handler's progress; (4) mark it done, or
record the failure (retried after the backoff, or failed for good). With no
job due it sleeps ``poll`` seconds. A stop request (SIGTERM, SIGINT) lets the
running job finish first; a killed worker leaves its lease to run out, and
the job to the next worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from servinfo.jobs.queue import Claim, Job, JobQueue
from servinfo.jobs.registry import Clock, JobContext, Registry
from servinfo.jobs.schedules import enqueue_due

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = ["DONE_KEPT_FOR", "Worker", "WorkerReport", "worker_name"]

#: How long done jobs stay visible before the worker deletes them.
DONE_KEPT_FOR = dt.timedelta(days=7)
#: How often the worker prunes done jobs.
_PRUNE_EVERY = dt.timedelta(hours=1)

_log = logging.getLogger("servinfo.jobs")


def worker_name() -> str:
    """This process, as a lease's owner: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class WorkerReport:
    """What a worker did: jobs finished by their final state."""

    done: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0

    @property
    def ran(self) -> int:
        return self.done + self.retried + self.failed + self.lost


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        registry: Registry,
        *,
        deployment: Deployment | None = None,
        owner: str | None = None,
        clock: Clock = _system_clock,
        poll: float = 1.0,
    ) -> None:
        self.queue = queue
        self.registry = registry
        self.deployment = deployment
        self.owner = owner or worker_name()
        self.clock = clock
        self.poll = poll
        self.stopping = threading.Event()
        self.report = WorkerReport()
        self._pruned_at: dt.datetime | None = None

    def tick(self) -> list[Job]:
        """(1) the schedules' due periods, and done jobs pruned now and then."""
        now = self.clock()
        created = enqueue_due(self.queue, self.registry.schedules, now)
        if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY:
            self.queue.prune(DONE_KEPT_FOR, now=now)
            self._pruned_at = now
        return created

    def run_one(self) -> Job | None:
        """(2)–(4) for one job; the job as it ended, or None when none was due."""
        claim = self.queue.claim(self.owner, kinds=self.registry.kinds, now=self.clock())
        if claim is None:
            return None
        self._run(claim)
        return self.queue.get(claim.job.id)

    def run_until_idle(self) -> WorkerReport:
        """``--once``: the due schedules, then every due job, then return."""
        self.tick()
        while not self.stopping.is_set() and self.run_one() is not None:
            pass
        return self.report

    def run_forever(self) -> WorkerReport:
        """Until :attr:`stopping` is set; a failing store is logged and tried again."""
        _log.info("worker %s started: %s", self.owner, ", ".join(sorted(self.registry.kinds)))
        while not self.stopping.is_set():
            try:
                self.tick()
                if self.run_one() is not None:
                    continue
            except Exception as error:  # the loop must outlive a store that is briefly away
                _log.warning("worker loop: %s; trying again", type(error).__name__)
            self.stopping.wait(self.poll)
        _log.info("worker %s stopped", self.owner)
        return self.report

    def _run(self, claim: Claim) -> None:
        job = claim.job
        kind = self.registry.get(job.kind)
        context = JobContext(job, self.deployment, self.clock)
        finished = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(claim, context, finished), name=f"heartbeat-{job.id}"
        )
        beat.start()
        try:
            result = kind.handler(context)
        except Exception as error:
            finished.set()
            beat.join()
            state = self.queue.fail(claim, error, now=self.clock())
            # The class only: a message may quote personal data or a driver's parameters.
            _log.warning(
                "job %s (%s) attempt %d failed: %s; now %s",
                job.id, job.kind, job.attempts, type(error).__name__, state or "lost",
            )  # fmt: skip
            self._count(state)
            return
        finished.set()
        beat.join()
        if self.queue.complete(claim, result, now=self.clock()):
            self.report.done += 1
            _log.info("job %s (%s) done", job.id, job.kind)
        else:
            self.report.lost += 1
            _log.warning("job %s (%s): lease lost before it was done", job.id, job.kind)

    def _count(self, state: str | None) -> None:
        if state == "queued":
            self.report.retried += 1
        elif state == "failed":
            self.report.failed += 1
        else:
            self.report.lost += 1

    def _heartbeat(self, claim: Claim, context: JobContext, finished: threading.Event) -> None:
        interval = self.queue.lease.total_seconds() / 3
        while not finished.wait(interval):
            try:
                alive = self.queue.heartbeat(
                    claim, progress=context.last_progress, now=self.clock()
                )
            except Exception as error:  # try again at the next beat, while the lease lasts
                _log.warning("job %s heartbeat: %s", claim.job.id, type(error).__name__)
                continue
            if not alive:
                context.lease_lost.set()
                return
