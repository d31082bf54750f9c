"""Schedules: a job kind enqueued every N seconds or daily at a time (UTC).

Each run of a schedule belongs to a period (the interval, or the day, it
starts); it is enqueued under the dedupe key ``schedule:<name>:<period
start>``. Every worker calls :func:`enqueue_due` on each turn of its loop, and
the unique key lets exactly one insert per period succeed, whichever worker
and host makes it: several workers never run one period twice. A period
missed while no worker ran is not caught up: the next worker enqueues the
current period only (the scheduled jobs sweep whatever is due, so one run
covers the ones missed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from servinfo.jobs.queue import Job, JobQueue

__all__ = ["Schedule", "enqueue_due"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Schedule:
    """Run ``kind`` with ``params`` every ``every``, or daily at ``daily_at`` (UTC)."""

    name: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    every: dt.timedelta | None = None
    daily_at: dt.time | None = None
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if (self.every is None) == (self.daily_at is None):
            raise ValueError(f"schedule {self.name!r}: give every or daily_at, exactly one")
        if self.every is not None and self.every < dt.timedelta(seconds=1):
            raise ValueError(
                f"schedule {self.name!r}: every must be at least 1 s, got {self.every}"
            )

    def period_start(self, now: dt.datetime) -> dt.datetime:
        """The start of the period ``now`` falls in."""
        if self.every is not None:
            step = int(self.every.total_seconds())
            elapsed = int((now - _EPOCH).total_seconds())
            return _EPOCH + dt.timedelta(seconds=elapsed - elapsed % step)
        assert self.daily_at is not None
        today = dt.datetime.combine(now.astimezone(dt.UTC).date(), self.daily_at, tzinfo=dt.UTC)
        return today if now >= today else today - dt.timedelta(days=1)

    def dedupe_key(self, now: dt.datetime) -> str:
        return f"schedule:{self.name}:{self.period_start(now):%Y-%m-%dT%H:%M:%SZ}"


def enqueue_due(queue: JobQueue, schedules: Iterable[Schedule], now: dt.datetime) -> list[Job]:
    """Enqueue each schedule's current period unless some worker already did; the new jobs."""
    created = []
    for schedule in schedules:
        key = schedule.dedupe_key(now)
        if queue.by_dedupe_key(key) is not None:  # the common case: no write at all
            continue
        job, new = queue.enqueue(
            schedule.kind,
            schedule.params,
            dedupe_key=key,
            run_after=now,
            max_attempts=schedule.max_attempts,
            now=now,
        )
        if new:
            created.append(job)
    return created
