"""``/v1/requests``: subjects act on their own requests, operators need ``handle_requests``."""

from __future__ import annotations

import io
import zipfile

from tests.rights.world import World


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
    done = client.post(f"/v1/requests/{request_id}/process", json={}, headers=world.headers("dpo"))
    assert done.status_code == 200
    assert done.json()["state"] == "completed"
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
    pending = client.get("/v1/outbox", headers=dpo).json()
    (code_notice,) = [n for n in pending if n["kind"] == "verification_code"]
    wrong = client.post(f"/v1/requests/{rid}/verify", json={"code": "NOPE"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "verification_failed"
    verified = client.post(
        f"/v1/requests/{rid}/verify", json={"code": code_notice["payload"]["code"]}
    )
    assert verified.json()["state"] == "verified"
    sent = client.post(f"/v1/outbox/{code_notice['id']}/sent", headers=dpo).json()
    assert "code" not in sent["payload"]
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
