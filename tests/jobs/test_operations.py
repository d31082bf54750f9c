"""``/v1/jobs`` and ``servinfo jobs``: who may see and retry jobs; DSR processing as a job."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import func, select
from tests.rights.world import NOW, World
from typer.testing import CliRunner

from servinfo.access.errors import Forbidden
from servinfo.cli.app import app
from servinfo.jobs import Job, JobFailed, JobQueue, Worker
from servinfo.jobs.kinds import DSR_PROCESS, deployment_registry, enqueue_dsr_processing
from servinfo.rights.models import ExportRow


def _failed_job(queue: JobQueue) -> Job:
    job, _ = queue.enqueue("export_purge", max_attempts=1)
    claim = queue.claim("w", kinds=["export_purge"])
    assert claim is not None
    queue.fail(claim, JobFailed("the store was away"))
    return queue.get(job.id)


def _worker(world: World) -> Worker:
    return Worker(
        world.deployment.jobs.queue,
        deployment_registry(world.deployment),
        deployment=world.deployment,
    )


def test_the_api_shows_jobs_to_read_jobs_and_retries_for_manage_jobs(world: World) -> None:
    job = _failed_job(world.deployment.jobs.queue)
    client = world.client
    assert client.get("/v1/jobs").status_code == 401
    denied = client.get("/v1/jobs", headers=world.headers("support-eu"))
    assert denied.status_code == 403
    assert "read_jobs" in denied.json()["detail"]
    listed = client.get("/v1/jobs", params={"state": "failed"}, headers=world.headers("dpo"))
    assert listed.status_code == 200
    assert [(j["id"], j["state"], j["last_error"]) for j in listed.json()] == [
        (job.id, "failed", "the store was away")
    ]
    shown = client.get(f"/v1/jobs/{job.id}", headers=world.headers("dpo"))
    assert shown.status_code == 200
    assert shown.json()["last_error_class"] == "JobFailed"
    assert client.get("/v1/jobs/nope", headers=world.headers("dpo")).status_code == 404
    # The DPO sees jobs but does not run them.
    refused = client.post(f"/v1/jobs/{job.id}/retry", headers=world.headers("dpo"))
    assert refused.status_code == 403
    assert world.deployment.jobs.queue.get(job.id).state == "failed"
    retried = client.post(f"/v1/jobs/{job.id}/retry", headers=world.headers("admin"))
    assert retried.status_code == 200
    assert (retried.json()["state"], retried.json()["attempts"]) == ("queued", 0)
    again = client.post(f"/v1/jobs/{job.id}/retry", headers=world.headers("admin"))
    assert again.status_code == 409
    assert again.json()["error"] == "job_not_retryable"
    (entry,) = [e for e in world.deployment.audit.tail(20) if e.action == "job_retry"]
    assert (entry.actor, dict(entry.details)) == ("admin", {"job_id": job.id, "kind": job.kind})
    bad = client.get("/v1/jobs", params={"state": "lost"}, headers=world.headers("dpo"))
    assert bad.status_code == 422


def _cli(world: World, who: str, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(
        app, [*args, "--data-dir", str(world.data_dir), "--token", world.tokens[who]]
    )
    return result.exit_code, result.output, result.exception


def test_the_cli_lists_shows_and_retries_with_the_same_permissions(world: World) -> None:
    job = _failed_job(world.deployment.jobs.queue)
    code, out, _ = _cli(world, "dpo", "jobs", "list", "--json")
    assert code == 0, out
    assert [j["id"] for j in json.loads(out)] == [job.id]
    code, out, _ = _cli(world, "dpo", "jobs", "list")
    assert code == 0
    assert job.id in out
    assert "failed" in out
    code, out, _ = _cli(world, "dpo", "jobs", "show", job.id)
    assert code == 0
    assert "the store was away" in out
    code, _, error = _cli(world, "support-eu", "jobs", "list")
    assert isinstance(error, Forbidden)
    code, _, error = _cli(world, "dpo", "jobs", "retry", job.id)
    assert isinstance(error, Forbidden)
    code, out, _ = _cli(world, "admin", "jobs", "retry", job.id, "--json")
    assert code == 0, out
    assert json.loads(out)["state"] == "queued"


def test_a_request_processed_as_a_job(world: World) -> None:
    rights = world.rights
    opened = rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW)
    code, out, _ = _cli(world, "dpo", "dsr", "process", opened.request_id, "--background", "--json")
    assert code == 0, out
    job_id = json.loads(out)["job"]
    # Asked twice, queued once.
    code, out, _ = _cli(world, "dpo", "dsr", "process", opened.request_id, "--background", "--json")
    assert json.loads(out)["job"] == job_id
    assert rights.get(opened.request_id).state == "verified"
    _worker(world).run_until_idle()
    job = world.deployment.jobs.queue.get(job_id)
    assert (job.kind, job.state) == (DSR_PROCESS, "done")
    assert job.result == {"request_id": opened.request_id, "state": "completed"}
    assert rights.get(opened.request_id).state == "completed"
    # Run again (a redelivery): the answered request is left as it is.
    world.deployment.jobs.queue.enqueue(
        DSR_PROCESS, {"request_id": opened.request_id, "actor": "dpo"}
    )
    _worker(world).run_until_idle()
    with world.deployment.control.connect() as connection:
        exports = connection.scalar(
            select(func.count()).where(ExportRow.request_id == opened.request_id)
        )
    assert exports == 1


def test_a_request_left_in_progress_by_a_dead_attempt_is_finished(world: World) -> None:
    rights = world.rights
    opened = rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW)
    queue = world.deployment.jobs.queue
    job, _ = enqueue_dsr_processing(queue, opened.request_id, actor="dpo")
    # Attempt 1 claimed the job and started the request, then its worker died.
    assert queue.claim("dead-worker") is not None
    rights._change(  # what process() step (2) does before the work
        rights.get(opened.request_id), ("verified",), "start", actor="dpo", state="in_progress"
    )
    # … after it had stored an export (never the answer: the request was not completed).
    rights.exports.store(
        opened.request_id, "subj-de", "access", b"partial", dt.datetime.now(dt.UTC)
    )
    later = dt.datetime.now(dt.UTC) + queue.lease * 2
    Worker(
        queue, deployment_registry(world.deployment), deployment=world.deployment,
        clock=lambda: later,
    ).run_until_idle()  # fmt: skip
    done = queue.get(job.id)
    assert (done.state, done.attempts) == ("done", 2)
    assert rights.get(opened.request_id).state == "completed"
    with world.deployment.control.connect() as connection:
        exports = connection.scalar(
            select(func.count()).where(ExportRow.request_id == opened.request_id)
        )
    assert exports == 1
    _, archive = rights.export_archive(opened.request_id)
    assert archive != b"partial"


def test_a_failing_job_keeps_no_personal_data(world: World) -> None:
    queue = world.deployment.jobs.queue
    job, _ = enqueue_dsr_processing(queue, "subj-de-request", actor="dpo")
    _worker(world).run_until_idle()
    failed = queue.get(job.id)
    assert failed.state == "queued"  # retried after the backoff, as any domain error
    assert failed.last_error_class == "RequestNotFound"
    assert failed.last_error == "request_not_found (see the worker's log)"


def test_the_daily_retention_sweep_runs_once_a_day_per_region(tmp_path: Path) -> None:
    from tests.retention.world import build_world as retention_world

    with retention_world(tmp_path) as world:
        expired = world.ingest("subj-de", "telemetry.auth_event")
        clock = [dt.datetime(2040, 1, 2, 4, 0, tzinfo=dt.UTC)]  # past 03:00, years later
        deployment = world.deployment
        registry = deployment_registry(deployment)
        worker = Worker(
            deployment.jobs.queue, registry, deployment=deployment, clock=lambda: clock[0]
        )
        worker.run_until_idle()
        sweeps = deployment.jobs.queue.list(kind="retention_sweep")
        assert sorted(j.params["region"] for j in sweeps) == sorted(deployment.regions)
        assert {j.state for j in sweeps} == {"done"}
        (eu,) = [j for j in sweeps if j.params["region"] == "eu"]
        assert eu.result is not None
        assert eu.result["deleted"] >= 1
        assert not world.exists(expired, "subj-de")
        clock[0] = clock[0].replace(hour=23)  # the same day: no second sweep
        worker.run_until_idle()
        assert len(deployment.jobs.queue.list(kind="retention_sweep")) == len(sweeps)
