"""DRP requests on the request workflow: each exercise, status, revoke, expiry, callbacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from httpx2 import Response
from tests.rights.test_drp import CONSUMER_EMAIL, Agent, Drp, add_consumer, drp, make_drp
from tests.rights.world import World, build_world
from tests.support import PostgresDatabases

from servinfo.rights.drp import ClaimPolicy, HttpxCallbackSender
from servinfo.rights.drp.callbacks import CallbackSender
from servinfo.rights.drp.models import DrpRequestRow

__all__ = ["drp"]  # the fixture, re-exported for this module's tests


def _open(drp: Drp, action: str, **claims: Any) -> dict[str, Any]:
    answer = drp.post(drp.agent.sign(drp.agent.exercise(action, **claims)))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _drp_row(drp: Drp, drp_request_id: str) -> Any:
    with drp.world.deployment.control.connect() as connection:
        return connection.execute(
            DrpRequestRow.__table__.select().where(DrpRequestRow.request_id == drp_request_id)
        ).one()


def _rights_request_of(drp: Drp, drp_request_id: str) -> str:
    found = _drp_row(drp, drp_request_id).rights_request_id
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


def _confirm(drp: Drp, opened: dict[str, Any], *, redirect_to: str = "") -> Response:
    """The consumer at user_verification_url: the page, then the code they received."""
    url = opened["user_verification_url"]
    assert url == f"https://127.0.0.1:8443/v1/drp/verify/{opened['request_id']}"
    path = url.removeprefix("https://127.0.0.1:8443")
    query = {"request_id": opened["request_id"], "redirect_to": redirect_to}
    page = drp.world.client.get(path, params=query)
    assert page.status_code == 200
    assert "Enter the code" in page.text
    other = drp.world.client.get(path, params={**query, "request_id": "another"})
    assert other.status_code == 404
    wrong = drp.world.client.post(path, data={"code": "WRONGCODE0"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "verification_failed"
    code = drp.world.code_for(_rights_request_of(drp, opened["request_id"]))
    return drp.world.client.post(
        path, data={"code": code, "redirect_to": redirect_to}, follow_redirects=False
    )


@pytest.mark.parametrize(
    ("action", "request_type", "details"),
    [
        ("access", "access", "download it from us directly"),
        ("deletion", "erasure", "deleted 2 records"),
    ],
)
def test_open_verify_fulfilled_with_email_and_phone_claims(
    drp: Drp, action: str, request_type: str, details: str
) -> None:
    """The agent's claims do not suffice by default (servinfo relies on no agent's
    verification): the consumer confirms with a code at user_verification_url."""
    opened = _open(drp, action)
    assert (opened["status"], opened["reason"]) == ("in_progress", "need_user_verification")
    rid = _rights_request_of(drp, opened["request_id"])
    request = drp.world.rights.get(rid)
    assert (request.subject_id, request.type, request.state) == (
        "subj-ca",
        request_type,
        "received",
    )
    assert opened["expected_by"] == request.answer_by.isoformat()
    assert drp.get(opened["request_id"]).json() == opened
    confirmed = _confirm(drp, opened, redirect_to="https://agent.example/done?r=1")
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "https://agent.example/done?r=1"
    status = drp.get(opened["request_id"]).json()
    assert status["status"] == "in_progress"
    assert "reason" not in status
    assert "user_verification_url" not in status
    assert status["expected_by"] == request.answer_by.isoformat()
    drp.run_callbacks()
    assert drp.sender.statuses() == ["in_progress"]
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    assert drp.service.sync() == 1
    drp.run_callbacks()
    assert drp.sender.statuses() == ["in_progress", "fulfilled"]
    assert details in drp.sender.calls[-1][1]["processing_details"]


def test_opt_out_needs_no_verification_even_of_unverified_claims(drp: Drp) -> None:
    opened = _open(
        drp, "sale:opt-out", email_verified=False, phone_number_verified=False, phone_number=None
    )
    assert opened["status"] == "in_progress"
    assert "reason" not in opened
    assert opened["expected_by"]
    rid = _rights_request_of(drp, opened["request_id"])
    assert drp.world.rights.get(rid).state == "verified"
    by_phone = _open(drp, "sale:opt-out", email=None, phone_number="+1 415-555-0123", nonce="2")
    assert by_phone["status"] == "in_progress"


def test_a_trusted_agent_s_verified_claims_suffice_as_the_settings_say(world: World) -> None:
    drp = make_drp(world, policy=ClaimPolicy.of({}, ["CR_AA_DRP_ID_001"]))
    deletion = _open(drp, "deletion", phone_number=None)  # one verified claim: deletion's level
    assert (deletion["status"], deletion.get("reason")) == ("in_progress", None)
    access = _open(drp, "access")  # e-mail and phone, both verified: access's level
    assert (access["status"], access.get("reason")) == ("in_progress", None)
    for claims in ({"phone_number": None}, {"phone_number_verified": False}):
        short = _open(drp, "access", **claims)
        assert short["reason"] == "need_user_verification"
    unverified = _open(drp, "deletion", email_verified=False, phone_number_verified=False)
    assert unverified["reason"] == "need_user_verification"
    states = {
        drp.world.rights.get(_rights_request_of(drp, r["request_id"])).state
        for r in (deletion, access)
    }
    assert states == {"verified"}


def test_an_untrusted_agent_s_verification_is_not_relied_on(world: World) -> None:
    drp = make_drp(world, policy=ClaimPolicy.of({}, ["SOME_OTHER_AGENT"]))
    assert _open(drp, "deletion")["reason"] == "need_user_verification"
    drp.service.matcher.policy = ClaimPolicy.of({"opt_out": "consumer"}, ["*"])
    assert _open(drp, "sale:opt-out")["reason"] == "need_user_verification"


def test_access_categories_and_deletion_map_to_access_and_erasure(world: World) -> None:
    drp = make_drp(world, policy=ClaimPolicy.of({"access": "none", "deletion": "none"}, []))
    categories = _open(drp, "access:categories")
    assert categories["status"] == "in_progress"
    assert drp.world.rights.get(_rights_request_of(drp, categories["request_id"])).type == "access"
    deletion = _open(drp, "deletion")
    rid = _rights_request_of(drp, deletion["request_id"])
    assert drp.world.rights.get(rid).type == "erasure"
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    done = drp.get(deletion["request_id"]).json()
    assert done["status"] == "fulfilled"
    assert done["processing_details"].startswith("deleted 2 records")


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


def test_claims_that_match_no_consumer_or_several_are_denied_no_match(drp: Drp) -> None:
    unknown = _open(drp, "access", email="nobody@example.test", phone_number=None)
    assert (unknown["status"], unknown["reason"]) == ("denied", "no_match")
    none = _open(drp, "deletion", email=None, phone_number=None)
    assert none["reason"] == "no_match"
    assert "no email or phone_number claim" in none["processing_details"]
    # The e-mail address of one consumer and the phone number of another.
    add_consumer(drp.world, "subj-de", "de@example.test", "+4930901820")
    mixed = _open(drp, "deletion", email="de@example.test")
    assert mixed["reason"] == "no_match"
    assert "several consumers" in mixed["processing_details"]
    # One address held by accounts in two organizations: never resolved by servinfo.
    add_consumer(drp.world, "subj-fr", CONSUMER_EMAIL)
    shared = _open(drp, "sale:opt-out", phone_number=None)
    assert shared["reason"] == "no_match"
    assert drp.get(unknown["request_id"]).json()["status"] == "denied"
    assert drp.world.rights.list_requests() == []


def test_a_malformed_identity_claim_is_refused(drp: Drp) -> None:
    for claims in ({"email": "not an address"}, {"phone_number": "12"}, {"email_verified": "yes"}):
        answer = drp.post(drp.agent.sign(drp.agent.exercise("access", **claims)))
        assert answer.status_code == 400, claims
        assert answer.json()["fatal"] is True
        assert "not an address" not in answer.json()["message"]
    assert drp.drp_request_count() == 0


def test_a_voluntary_request_names_no_regime(drp: Drp) -> None:
    claims = drp.agent.exercise("sale:opt-out")
    del claims["regime"]
    assert drp.post(drp.agent.sign(claims)).json()["status"] == "in_progress"
    voluntary = _open(drp, "sale:opt-out", regime="voluntary", nonce="2")
    assert voluntary["status"] == "in_progress"
    assert _drp_row(drp, voluntary["request_id"]).regime is None


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


def test_the_request_lives_by_the_regime_s_deadline_not_the_message_s(drp: Drp) -> None:
    opened = _open(drp, "deletion")
    answer_by = drp.world.rights.get(_rights_request_of(drp, opened["request_id"])).answer_by
    drp.clock.now += dt.timedelta(days=2)  # the message expired long ago
    assert drp.get(opened["request_id"]).json()["reason"] == "need_user_verification"
    drp.clock.now = dt.datetime.combine(answer_by, dt.time(23, 0), dt.UTC)
    assert drp.get(opened["request_id"]).json()["reason"] == "need_user_verification"
    drp.clock.now += dt.timedelta(hours=2)
    lapsed = drp.get(opened["request_id"]).json()
    assert (lapsed["status"], lapsed["reason"]) == ("denied", "insufficient_verification")
    drp.run_callbacks()
    assert drp.sender.statuses() == ["denied"]
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


@pytest.mark.postgres
def test_the_workflow_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        assert world.deployment.control.dialect.name == "postgresql"
        drp = make_drp(world)
        opened = _open(drp, "access")
        assert opened["reason"] == "need_user_verification"
        assert _confirm(drp, opened).status_code == 200
        rid = _rights_request_of(drp, opened["request_id"])
        drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
        assert drp.get(opened["request_id"]).json()["status"] == "fulfilled"
        # Two changes queued two jobs; the first told the status as it is by then.
        assert [job.state for job in drp.run_callbacks()] == ["done", "done"]
        assert drp.sender.statuses() == ["fulfilled"]
