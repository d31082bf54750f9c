"""The queue on SQLite and PostgreSQL: claims, leases, heartbeats, retries, backoff, dedupe."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from tests.jobs.conftest import LEASE, T0

from servinfo.errors import ServinfoError
from servinfo.jobs import Backoff, JobFailed, JobNotFound, JobNotRetryable, JobQueue
from servinfo.jobs.models import JOBS_TABLES, jobs_metadata
from servinfo.store.migrations import VERSION_TABLES

SECOND = dt.timedelta(seconds=1)


def test_migrated_schema_matches_the_models(control: Engine) -> None:
    with control.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": lambda name, type_, _p: type_ != "table" or name in JOBS_TABLES,
            },
        )
        assert list(compare_metadata(context, jobs_metadata)) == []


def test_a_claim_holds_the_job_for_one_lease(queue: JobQueue) -> None:
    job, created = queue.enqueue("k", {"n": 1}, now=T0)
    assert created
    assert job.state == "queued"
    assert job.attempts == 0
    claim = queue.claim("w1", now=T0)
    assert claim is not None
    assert claim.job.id == job.id
    assert claim.job.state == "running"
    assert claim.job.attempts == 1
    assert claim.job.lease_until == T0 + LEASE
    assert claim.job.lease_owner == "w1"
    assert queue.claim("w2", now=T0 + LEASE - SECOND) is None


def test_a_job_not_yet_due_is_not_claimed(queue: JobQueue) -> None:
    queue.enqueue("k", run_after=T0 + 10 * SECOND, now=T0)
    assert queue.claim("w", now=T0 + 9 * SECOND) is None
    assert queue.claim("w", now=T0 + 10 * SECOND) is not None


def test_claims_take_only_the_kinds_asked_for(queue: JobQueue) -> None:
    queue.enqueue("a", now=T0)
    assert queue.claim("w", kinds=["b"], now=T0) is None
    assert queue.claim("w", kinds=["a", "b"], now=T0) is not None


def test_an_expired_lease_makes_the_job_claimable_and_fences_the_old_worker(
    queue: JobQueue,
) -> None:
    queue.enqueue("k", now=T0)
    first = queue.claim("w1", now=T0)
    assert first is not None
    second = queue.claim("w2", now=T0 + LEASE + SECOND)
    assert second is not None
    assert second.job.id == first.job.id
    assert second.job.attempts == 2
    assert second.job.lease_owner == "w2"
    # The first worker comes back: its heartbeat and its "done" match no row.
    assert not queue.heartbeat(first, now=T0 + LEASE + 2 * SECOND)
    assert not queue.complete(first, {"by": "w1"}, now=T0 + LEASE + 2 * SECOND)
    assert queue.fail(first, RuntimeError(), now=T0 + LEASE + 2 * SECOND) is None
    assert queue.complete(second, {"by": "w2"}, now=T0 + LEASE + 3 * SECOND)
    done = queue.get(first.job.id)
    assert done.state == "done"
    assert done.result == {"by": "w2"}


def test_a_heartbeat_renews_the_lease_and_records_progress(queue: JobQueue) -> None:
    queue.enqueue("k", now=T0)
    claim = queue.claim("w1", now=T0)
    assert claim is not None
    assert queue.heartbeat(claim, progress=(3, 10), now=T0 + 20 * SECOND)
    assert queue.claim("w2", now=T0 + LEASE + SECOND) is None
    job = queue.get(claim.job.id)
    assert job.lease_until == T0 + 20 * SECOND + LEASE
    assert (job.progress_done, job.progress_total) == (3, 10)
    assert queue.claim("w2", now=T0 + 20 * SECOND + LEASE + SECOND) is not None


def test_failures_are_retried_with_exponential_backoff_then_fail(control: Engine) -> None:
    queue = JobQueue(control, lease=LEASE, backoff=Backoff(10 * SECOND, 25 * SECOND))
    queue.enqueue("k", max_attempts=4, now=T0)
    at = T0
    waits = []
    for _attempt in range(3):
        claim = queue.claim("w", now=at)
        assert claim is not None
        assert queue.fail(claim, RuntimeError("secret sub-ada"), now=at) == "queued"
        run_after = queue.get(claim.job.id).run_after
        waits.append(run_after - at)
        assert queue.claim("w", now=run_after - SECOND) is None
        at = run_after
    assert waits == [10 * SECOND, 20 * SECOND, 25 * SECOND]  # doubled, then capped
    claim = queue.claim("w", now=at)
    assert claim is not None
    assert claim.job.attempts == 4
    assert queue.fail(claim, RuntimeError("secret sub-ada"), now=at) == "failed"
    job = queue.get(claim.job.id)
    assert job.state == "failed"
    assert job.finished_at == at
    assert job.last_error_class == "RuntimeError"
    # Only what servinfo wrote for the row: never an arbitrary exception's text.
    assert job.last_error is not None
    assert "sub-ada" not in job.last_error
    assert queue.claim("w", now=at + dt.timedelta(days=1)) is None


def test_what_a_failure_leaves_in_the_row(queue: JobQueue) -> None:
    class Refused(ServinfoError):
        code = "refused_here"

    for error, message in (
        (JobFailed("request in state completed"), "request in state completed"),
        (Refused("subject sub-ada was refused"), "refused_here (see the worker's log)"),
    ):
        job, _ = queue.enqueue("k", now=T0)
        claim = queue.claim("w", now=T0)
        assert claim is not None
        queue.fail(claim, error, now=T0)
        assert queue.get(job.id).last_error == message


def test_a_final_job_failure_is_not_retried(queue: JobQueue) -> None:
    queue.enqueue("k", now=T0)
    claim = queue.claim("w", now=T0)
    assert claim is not None
    assert queue.fail(claim, JobFailed("cannot succeed", final=True), now=T0) == "failed"


def test_a_lease_expired_on_the_last_attempt_fails_the_job(queue: JobQueue) -> None:
    job, _ = queue.enqueue("k", max_attempts=1, now=T0)
    assert queue.claim("w1", now=T0) is not None
    assert queue.claim("w2", now=T0 + LEASE + SECOND) is None
    failed = queue.get(job.id)
    assert failed.state == "failed"
    assert failed.last_error_class == "LeaseExpired"


def test_an_operator_retries_a_failed_job_only(queue: JobQueue) -> None:
    job, _ = queue.enqueue("k", max_attempts=1, now=T0)
    claim = queue.claim("w", now=T0)
    assert claim is not None
    queue.fail(claim, RuntimeError(), now=T0)
    again = queue.retry(job.id, now=T0 + SECOND)
    assert again.state == "queued"
    assert again.attempts == 0
    assert again.run_after == T0 + SECOND
    with pytest.raises(JobNotRetryable):
        queue.retry(job.id)
    with pytest.raises(JobNotFound):
        queue.retry("01NOSUCHJOB00000000000000")
    claim = queue.claim("w", now=T0 + SECOND)
    assert claim is not None
    assert queue.complete(claim, None, now=T0 + SECOND)
    assert queue.get(job.id).last_error is None


def test_a_dedupe_key_queues_one_job(queue: JobQueue) -> None:
    first, created = queue.enqueue("k", {"a": 1}, dedupe_key="once", now=T0)
    again, created_again = queue.enqueue("k", {"a": 2}, dedupe_key="once", now=T0)
    assert created
    assert not created_again
    assert again.id == first.id
    assert again.params == {"a": 1}


def test_listing_counting_and_pruning(queue: JobQueue) -> None:
    ids = [queue.enqueue(kind, now=T0)[0].id for kind in ("a", "b", "a")]
    assert [j.id for j in queue.list()] == ids[::-1]
    assert [j.id for j in queue.list(kind="a")] == [ids[2], ids[0]]
    assert [j.id for j in queue.list(before=ids[2], limit=1)] == [ids[1]]
    claim = queue.claim("w", now=T0)
    assert claim is not None
    assert queue.complete(claim, {"n": 1}, now=T0)
    assert queue.counts() == {"queued": 2, "running": 0, "failed": 0, "done": 1}
    assert queue.prune(dt.timedelta(days=7), now=T0 + dt.timedelta(days=6)) == 0
    assert queue.prune(dt.timedelta(days=7), now=T0 + dt.timedelta(days=8)) == 1
    assert len(queue.list()) == 2
