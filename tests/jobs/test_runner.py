"""The worker loop and the schedules on SQLite and PostgreSQL: no job runs twice at once,
heartbeats keep a long job, failures come back after their backoff, one job per period."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.jobs.conftest import T0

from servinfo.jobs import (
    Backoff,
    JobContext,
    JobKind,
    JobQueue,
    Registry,
    Schedule,
    Worker,
    enqueue_due,
)

SECOND = dt.timedelta(seconds=1)


class Ledger:
    """What the handlers ran, and whether two ran the same job at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.ran: list[str] = []
        self.overlaps: list[str] = []

    def handler(self, context: JobContext) -> Mapping[str, Any]:
        with self.lock:
            if context.job.id in self.running:
                self.overlaps.append(context.job.id)
            self.running.add(context.job.id)
        time.sleep(0.005)
        with self.lock:
            self.running.discard(context.job.id)
            self.ran.append(context.job.id)
        return {"n": context.params["n"]}


def test_several_workers_run_each_job_once_and_schedule_each_period_once(
    control: Engine,
) -> None:
    ledger = Ledger()
    registry = Registry(
        [JobKind("count", ledger.handler, "counts"), JobKind("tick", lambda c: None, "ticks")],
        [Schedule("hourly", "tick", every=dt.timedelta(hours=1))],
    )
    queue = JobQueue(control, lease=dt.timedelta(seconds=30))
    ids = {queue.enqueue("count", {"n": n})[0].id for n in range(40)}
    workers = [Worker(queue, registry, owner=f"w{n}") for n in range(4)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert ledger.overlaps == []
    assert sorted(ledger.ran) == sorted(ids)  # each job once, none lost
    assert {j.state for j in queue.list(kind="count", limit=100)} == {"done"}
    assert len(queue.list(kind="tick")) == 1  # four workers, one run of the period
    assert sum(w.report.done for w in workers) == 41


def test_a_heartbeat_keeps_a_long_job_from_another_worker(control: Engine) -> None:
    queue = JobQueue(control, lease=dt.timedelta(seconds=0.6))
    stolen: list[object] = []

    def long_job(context: JobContext) -> Mapping[str, Any]:
        for step in range(6):  # 1.8 s: three leases long
            context.progress(step, 6)
            stolen.append(queue.claim("thief"))
            time.sleep(0.3)
        return {"steps": 6}

    queue.enqueue("long")
    worker = Worker(queue, Registry([JobKind("long", long_job, "long")]), owner="w1")
    finished = worker.run_one()
    assert finished is not None
    assert (finished.state, finished.attempts, finished.result) == ("done", 1, {"steps": 6})
    assert stolen == [None] * 6
    assert finished.progress_done is not None  # stored by a heartbeat
    assert finished.progress_total == 6


def test_a_failing_handler_comes_back_after_its_backoff(control: Engine) -> None:
    queue = JobQueue(control, backoff=Backoff(10 * SECOND, dt.timedelta(minutes=5)))
    calls: list[int] = []

    def flaky(context: JobContext) -> Mapping[str, Any]:
        calls.append(context.job.attempts)
        if len(calls) == 1:
            raise ConnectionError("the mail relay at 203.0.113.9 refused")
        return {"ok": True}

    clock = [T0]
    worker = Worker(queue, Registry([JobKind("flaky", flaky, "")]), clock=lambda: clock[0])
    job, _ = queue.enqueue("flaky", now=T0)
    worker.run_until_idle()
    waiting = queue.get(job.id)
    assert (waiting.state, waiting.run_after) == ("queued", T0 + 10 * SECOND)
    assert waiting.last_error_class == "ConnectionError"
    assert "203.0.113.9" not in (waiting.last_error or "")
    clock[0] = T0 + 9 * SECOND
    worker.run_until_idle()
    assert calls == [1]
    clock[0] = T0 + 10 * SECOND
    worker.run_until_idle()
    assert calls == [1, 2]
    assert queue.get(job.id).state == "done"
    assert (worker.report.retried, worker.report.done) == (1, 1)


def test_a_worker_that_lost_its_lease_does_not_mark_the_job_done(control: Engine) -> None:
    queue = JobQueue(control, lease=dt.timedelta(seconds=30))
    clock = [T0]

    def overrun(context: JobContext) -> Mapping[str, Any]:
        # The worker stalls past its lease; another takes the job over meanwhile.
        taken = queue.claim("w2", now=T0 + dt.timedelta(seconds=31))
        assert taken is not None
        clock[0] = T0 + dt.timedelta(seconds=32)
        return {"by": "w1"}

    job, _ = queue.enqueue("slow", now=T0)
    worker = Worker(queue, Registry([JobKind("slow", overrun, "")]), clock=lambda: clock[0])
    worker.run_one()
    assert worker.report.lost == 1
    held = queue.get(job.id)
    assert (held.state, held.lease_owner, held.result) == ("running", "w2", None)


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (T0 + dt.timedelta(minutes=59), T0),
        (T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)),
    ],
)
def test_an_interval_schedule_counts_periods_from_the_epoch(
    now: dt.datetime, start: dt.datetime
) -> None:
    assert Schedule("s", "k", every=dt.timedelta(hours=1)).period_start(now) == start


def test_a_daily_schedule_runs_from_its_time_of_day() -> None:
    schedule = Schedule("s", "k", daily_at=dt.time(3, 0))
    three = T0.replace(hour=3, minute=0)
    assert schedule.period_start(T0.replace(hour=2)) == three - dt.timedelta(days=1)
    assert schedule.period_start(three) == three
    assert schedule.dedupe_key(T0) == "schedule:s:2026-12-07T03:00:00Z"
    with pytest.raises(ValueError, match="exactly one"):
        Schedule("s", "k")


def test_a_schedule_enqueues_each_period_once(queue: JobQueue) -> None:
    schedules = [Schedule("daily", "k", {"region": "eu"}, daily_at=dt.time(3, 0))]
    assert len(enqueue_due(queue, schedules, T0)) == 1
    assert enqueue_due(queue, schedules, T0 + dt.timedelta(hours=14)) == []
    (job,) = enqueue_due(queue, schedules, T0 + dt.timedelta(hours=15, minutes=1))
    assert job.params == {"region": "eu"}
    assert job.run_after == T0 + dt.timedelta(hours=15, minutes=1)
