"""``/v1/requests``: subjects act on their own requests, operators need ``handle_requests``."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import func, select
from tests.rights.world import NOW, World

from servinfo.audit import reference
from servinfo.jobs import Registry, Worker
from servinfo.jobs.kinds import DSR_PROCESS, servinfo_registry
from servinfo.rights.models import ExportRow


def run_jobs(world: World) -> None:
    """What a worker does with the queued requests (no schedules: the world's clock is fixed)."""
    registry = Registry([servinfo_registry([]).get(DSR_PROCESS)])
    Worker(world.deployment.jobs.queue, registry, deployment=world.deployment).run_until_idle()


def test_a_subject_opens_its_own_request_verified_and_downloads_the_export(world: World) -> None:
    client = world.client
    opened = client.post("/v1/requests", json={"type": "access"}, headers=world.headers("ada"))
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["state"], body["subject"], body["verified_by"]) == ("verified", "subj-de", "ada")
    request_id = body["id"]
    refused = client.post(
        f"/v1/requests/{request_id}/process", json={}, headers=world.headers("ada")
    )
    assert refused.status_code == 403
    queued = client.post(
        f"/v1/requests/{request_id}/process", json={}, headers=world.headers("dpo")
    )
    assert queued.status_code == 202, queued.text
    run_jobs(world)
    assert client.get(queued.headers["Location"], headers=world.headers("dpo")).json()["state"] == (
        "done"
    )
    assert (
        client.get(f"/v1/requests/{request_id}", headers=world.headers("ada")).json()["state"]
        == "completed"
    )
    download = client.get(f"/v1/requests/{request_id}/export", headers=world.headers("ada"))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert "data.json" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    # Not 403: to another subject, someone's request answers as one that does not exist
    # (that a request exists is something about its subject; tests/access/test_subject_privacy.py).
    other = client.get(f"/v1/requests/{request_id}/export", headers=world.headers("bob"))
    assert other.status_code == 404
    assert other.json()["error"] == "request_not_found"
    assert client.get(f"/v1/requests/{request_id}", headers=world.headers("bob")).status_code == 404
    mine = client.get("/v1/requests", headers=world.headers("bob")).json()
    assert mine == []


def test_a_subject_cannot_open_for_someone_else(world: World) -> None:
    answer = world.client.post(
        "/v1/requests", json={"type": "erasure", "subject": "subj-fr"}, headers=world.headers("ada")
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"


def test_operator_flow_with_a_code_extension_and_refusal(world: World) -> None:
    client, dpo = world.client, world.headers("dpo")
    opened = client.post(
        "/v1/requests", json={"type": "erasure", "subject": "subj-fr"}, headers=dpo
    ).json()
    assert opened["state"] == "received"
    rid = opened["id"]
    assert client.post(f"/v1/requests/{rid}/send-code", headers=dpo).status_code == 202
    # The operator sees that a code was sent, never the code.
    sent = client.get("/v1/outbox", params={"pending": False}, headers=dpo).json()
    (code_notice,) = [n for n in sent if n["kind"] == "verification_code"]
    assert set(code_notice["payload"]) == {"request_id", "channel", "expires_at"}
    assert code_notice["sent_at"] is not None
    wrong = client.post(f"/v1/requests/{rid}/verify", json={"code": "NOPE"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "verification_failed"
    verified = client.post(f"/v1/requests/{rid}/verify", json={"code": world.code_for(rid)})
    assert verified.json()["state"] == "verified"
    extended = client.post(f"/v1/requests/{rid}/extend", json={"reason": "complex"}, headers=dpo)
    assert extended.status_code == 200
    assert extended.json()["extended_due_at"]
    again = client.post(f"/v1/requests/{rid}/extend", json={"reason": "again"}, headers=dpo)
    assert again.status_code == 409
    assert again.json()["error"] == "extension_refused"
    refused = client.post(f"/v1/requests/{rid}/refuse", json={"reason": "duplicate"}, headers=dpo)
    assert refused.json()["outcome"]["complaint"]["url"] == "https://datenschutz.hessen.de"
    assert client.get("/v1/requests?overdue=true", headers=dpo).json() == []
    assert client.get("/v1/requests/NOPE", headers=dpo).status_code == 404


def test_staff_without_the_permission_cannot_handle_requests(world: World) -> None:
    answer = world.client.get("/v1/requests", headers=world.headers("support-eu"))
    assert answer.status_code == 403


def test_processing_is_queued_as_a_job_and_asking_again_changes_nothing(world: World) -> None:
    client, dpo = world.client, world.headers("dpo")
    opened = world.rights.open("access", "subj-de", channel="api", actor="dpo", verified=True)
    rid = opened.request_id
    queued = client.post(f"/v1/requests/{rid}/process", json={}, headers=dpo)
    assert queued.status_code == 202, queued.text
    body = queued.json()
    job_id = body["job"]["id"]
    assert body["job"]["state"] == "queued"
    assert body["links"] == {"job": f"/v1/jobs/{job_id}", "request": f"/v1/requests/{rid}"}
    assert queued.headers["Location"] == f"/v1/jobs/{job_id}"
    # Queued, not done: the request waits for a worker, and says so where it is shown.
    assert body["request"]["state"] == "verified"
    assert client.get(f"/v1/requests/{rid}", headers=dpo).json()["state"] == "verified"
    job = client.get(f"/v1/jobs/{job_id}", headers=dpo).json()
    assert (job["kind"], job["state"], job["params"]["actor"]) == ("dsr_process", "queued", "dpo")
    # Asked again before the worker ran: the same job.
    again = client.post(f"/v1/requests/{rid}/process", json={}, headers=dpo)
    assert (again.status_code, again.json()["job"]["id"]) == (202, job_id)
    run_jobs(world)
    assert client.get(f"/v1/jobs/{job_id}", headers=dpo).json()["state"] == "done"
    assert client.get(f"/v1/requests/{rid}", headers=dpo).json()["state"] == "completed"
    # Asked once more after it was answered: the same job, done; nothing is processed again.
    late = client.post(f"/v1/requests/{rid}/process", json={}, headers=dpo)
    assert (late.status_code, late.json()["job"]["id"]) == (202, job_id)
    assert late.json()["job"]["state"] == "done"
    assert late.json()["request"]["state"] == "completed"
    run_jobs(world)
    with world.deployment.control.connect() as connection:
        exports = connection.scalar(select(func.count()).where(ExportRow.request_id == rid))
    assert exports == 1
    # The audit names the operator who asked, as when the route processed inline; the
    # request's id is there as the subject's reference.
    history = world.deployment.audit.subject_history("subj-de")
    assert history is not None
    request_ref = reference(history.reference_key, rid)
    changes = [
        (e.details["change"], e.actor)
        for e in world.deployment.audit.tail(200)
        if e.action == "request_change" and e.links.get("request_id") == request_ref
    ]
    assert changes == [("opened", "dpo"), ("start", "dpo"), ("complete", "dpo")]


def test_a_request_not_ready_is_refused_at_once_and_queues_nothing(world: World) -> None:
    client, dpo = world.client, world.headers("dpo")
    received = world.rights.open("erasure", "subj-fr", channel="api", actor="dpo")
    wrong = client.post(f"/v1/requests/{received.request_id}/process", json={}, headers=dpo)
    assert wrong.status_code == 409
    assert wrong.json()["error"] == "wrong_state"
    for _ in range(2):
        world.rights.open("access", "subj-fr", channel="api", actor="dpo", verified=True, now=NOW)
    third = world.rights.open(
        "access", "subj-fr", channel="api", actor="dpo", verified=True, now=NOW
    )
    assert third.flagged
    flagged = client.post(f"/v1/requests/{third.request_id}/process", json={}, headers=dpo)
    assert flagged.status_code == 409
    assert flagged.json()["error"] == "flagged_request"
    assert world.deployment.jobs.queue.list(kind=DSR_PROCESS, limit=10) == []
    decided = client.post(
        f"/v1/requests/{third.request_id}/process", json={"proceed_flagged": True}, headers=dpo
    )
    assert decided.status_code == 202
    run_jobs(world)
    shown = client.get(f"/v1/requests/{third.request_id}", headers=dpo).json()
    assert shown["state"] == "completed"
    assert client.post("/v1/requests/NOPE/process", json={}, headers=dpo).status_code == 404
