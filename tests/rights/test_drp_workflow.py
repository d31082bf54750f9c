"""DRP requests on the request workflow: each exercise, status, revoke, expiry, callbacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.rights.test_drp import Agent, Drp, drp, make_drp
from tests.rights.world import World

from servinfo.rights.drp import HttpxCallbackSender
from servinfo.rights.drp.callbacks import CallbackSender

__all__ = ["drp"]  # the fixture, re-exported for this module's tests


def _open(drp: Drp, action: str, **claims: Any) -> dict[str, Any]:
    answer = drp.post(drp.agent.sign(drp.agent.exercise(action, **claims)))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _rights_request_of(drp: Drp, drp_request_id: str) -> str:
    from servinfo.rights.drp.models import DrpRequestRow

    with drp.world.deployment.control.connect() as connection:
        found = connection.scalar(
            DrpRequestRow.__table__.select()
            .with_only_columns(DrpRequestRow.rights_request_id)
            .where(DrpRequestRow.request_id == drp_request_id)
        )
    assert isinstance(found, str)
    return found


def test_opt_out_runs_through_the_workflow_and_calls_back_once_fulfilled(drp: Drp) -> None:
    opened = _open(drp, "sale:opt-out", **{"agent-request-id": "aa-42"})
    assert opened["status"] == "in_progress"
    assert opened["agent_request_id"] == "aa-42"
    assert opened["expected_by"]
    assert opened["received_at"].startswith("2026-05-04")
    rid = _rights_request_of(drp, opened["request_id"])
    request = drp.world.rights.get(rid)
    assert (request.type, request.channel, request.state) == ("opt-out", "drp", "verified")
    assert request.opened_by.startswith("drp:CR_AA_DRP_ID_001:")
    assert drp.sender.calls == []
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    status = drp.get(opened["request_id"]).json()
    assert status["status"] == "fulfilled"
    assert "not sold or shared" in status["processing_details"]
    assert drp.sender.calls == []  # a status read sends nothing: a job does
    assert [job.state for job in drp.run_callbacks()] == ["done"]
    assert drp.sender.statuses() == ["fulfilled"]
    assert drp.sender.calls[0][0] == "https://agent.example/status"
    assert drp.sender.calls[0][1] == status
    drp.get(opened["request_id"])
    assert drp.service.sync() == 0
    assert drp.run_callbacks() == []
    assert drp.sender.statuses() == ["fulfilled"]
    assert drp.world.rights.opted_out("subj-ca")


def test_access_waits_for_the_consumer_to_confirm_then_is_fulfilled(drp: Drp) -> None:
    opened = _open(drp, "access")
    assert opened["status"] == "open"
    assert "expected_by" not in opened
    rid = _rights_request_of(drp, opened["request_id"])
    (code,) = drp.world.notices(request_id=rid, kind="verification_code")
    assert code.recipient == "subj-ca"
    drp.world.rights.verify_with_code(rid, code.payload["code"], now=drp.clock.now)
    assert drp.service.sync() == 1
    drp.run_callbacks()
    assert drp.sender.statuses() == ["in_progress"]
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    assert drp.service.sync() == 1
    drp.run_callbacks()
    assert drp.sender.statuses() == ["in_progress", "fulfilled"]
    assert "download it from us directly" in drp.sender.calls[-1][1]["processing_details"]


def test_access_categories_and_deletion_map_to_access_and_erasure(world: World) -> None:
    drp = make_drp(world, agent_verifies=("access", "access:categories", "deletion"))
    categories = _open(drp, "access:categories")
    assert categories["status"] == "in_progress"
    assert drp.world.rights.get(_rights_request_of(drp, categories["request_id"])).type == "access"
    deletion = _open(drp, "deletion")
    rid = _rights_request_of(drp, deletion["request_id"])
    assert drp.world.rights.get(rid).type == "erasure"
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    done = drp.get(deletion["request_id"]).json()
    assert done["status"] == "fulfilled"
    assert done["processing_details"].startswith("deleted 1 records")


def test_opt_in_is_fulfilled_when_not_opted_out_and_denied_once_opted_out(drp: Drp) -> None:
    first = _open(drp, "sale:opt-in")
    assert (first["status"], first["processing_details"]) == (
        "fulfilled",
        "not opted out: nothing to change",
    )
    out = _open(drp, "sale:opt-out")
    drp.world.rights.process(
        _rights_request_of(drp, out["request_id"]), actor="dpo", now=drp.clock.now
    )
    again = _open(drp, "sale:opt-in", nonce="2")
    assert (again["status"], again["reason"]) == ("denied", "other")
    assert "s. 7028" in again["processing_details"]
    assert drp.world.rights.opted_out("subj-ca")


def test_a_consumer_that_matches_no_subject_is_denied_no_match(drp: Drp) -> None:
    unknown = _open(drp, "access", subject="nobody-here")
    assert (unknown["status"], unknown["reason"]) == ("denied", "no_match")
    claims = drp.agent.exercise("deletion")
    del claims["subject_id"]
    missing = drp.post(drp.agent.sign(claims)).json()
    assert missing["reason"] == "no_match"
    assert drp.get(unknown["request_id"]).json()["status"] == "denied"
    assert drp.world.rights.list_requests() == []


def test_a_voluntary_request_names_no_regime(drp: Drp) -> None:
    claims = drp.agent.exercise("sale:opt-out")
    del claims["regime"]
    assert drp.post(drp.agent.sign(claims)).json()["status"] == "in_progress"


def test_status_is_only_for_the_agent_that_manages_the_request(drp: Drp) -> None:
    opened = _open(drp, "sale:opt-out")
    other = drp.pair(Agent("OTHER_AGENT"))
    forbidden = drp.get(opened["request_id"], other)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "403"
    missing = drp.get("00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "404"


def test_delete_revokes_an_open_request_and_only_once(drp: Drp) -> None:
    opened = _open(drp, "access")
    body = drp.agent.sign(drp.agent.revocation(opened["request_id"], "I changed my mind"))
    bad = drp.delete(
        opened["request_id"],
        drp.agent.sign(drp.agent.revocation(opened["request_id"]), Agent("X").key),
    )
    assert bad.status_code == 403
    revoked = drp.delete(opened["request_id"], body)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    drp.run_callbacks()
    assert drp.sender.statuses() == ["revoked"]
    request = drp.world.rights.get(_rights_request_of(drp, opened["request_id"]))
    assert request.state == "refused"
    assert "withdrawn by the consumer" in (request.outcome or {})["reason"]
    assert drp.get(opened["request_id"]).json()["status"] == "revoked"
    again = drp.delete(opened["request_id"], body)
    assert again.status_code == 409
    assert again.json()["code"] == "409"


def test_a_fulfilled_request_cannot_be_revoked(drp: Drp) -> None:
    opened = _open(drp, "sale:opt-out")
    drp.world.rights.process(
        _rights_request_of(drp, opened["request_id"]), actor="dpo", now=drp.clock.now
    )
    answer = drp.delete(
        opened["request_id"], drp.agent.sign(drp.agent.revocation(opened["request_id"]))
    )
    assert answer.status_code == 409


def test_an_open_request_past_expires_at_expires(drp: Drp) -> None:
    opened = _open(drp, "deletion")
    drp.clock.now += dt.timedelta(minutes=10)
    assert drp.get(opened["request_id"]).json()["status"] == "expired"
    drp.run_callbacks()
    assert drp.sender.statuses() == ["expired"]
    request = drp.world.rights.get(_rights_request_of(drp, opened["request_id"]))
    assert request.state == "refused"
    assert drp.service.sync() == 0


def test_an_in_progress_request_does_not_expire(drp: Drp) -> None:
    opened = _open(drp, "sale:opt-out")
    drp.clock.now += dt.timedelta(days=1)
    assert drp.get(opened["request_id"]).json()["status"] == "in_progress"


def test_an_operator_refusal_is_denied_with_its_reason(drp: Drp) -> None:
    opened = _open(drp, "sale:opt-out")
    rid = _rights_request_of(drp, opened["request_id"])
    drp.world.rights.refuse(rid, "duplicate of an earlier request", actor="dpo", now=drp.clock.now)
    assert drp.service.sync() == 1
    drp.run_callbacks()
    (call,) = drp.sender.calls
    assert (call[1]["status"], call[1]["reason"]) == ("denied", "other")
    assert call[1]["processing_details"] == "duplicate of an earlier request"


def test_failed_callbacks_are_retried_by_the_job_queue_with_backoff(drp: Drp) -> None:
    drp.sender.fail = 2
    opened = _open(drp, "sale:opt-out")
    drp.world.rights.process(
        _rights_request_of(drp, opened["request_id"]), actor="dpo", now=drp.clock.now
    )
    assert drp.service.sync() == 1
    (first,) = drp.run_callbacks()
    assert (first.state, first.attempts) == ("queued", 1)
    assert first.run_after > first.updated_at  # the backoff
    assert drp.run_callbacks() == []  # not due yet
    (second,) = drp.run_callbacks(later=dt.timedelta(seconds=15))
    assert (second.state, second.attempts) == ("queued", 2)
    (third,) = drp.run_callbacks(later=dt.timedelta(minutes=5))
    assert (third.state, third.attempts) == ("done", 3)
    assert drp.sender.statuses() == ["fulfilled"] * 3
    assert drp.service.sync() == 0
    assert drp.run_callbacks(later=dt.timedelta(hours=1)) == []
    assert len(drp.sender.calls) == 3


def test_senders_satisfy_the_contract() -> None:
    senders: list[CallbackSender] = [HttpxCallbackSender()]
    assert senders
