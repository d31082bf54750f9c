"""The life of a request: states, verification, flagging, extension, refusal, listing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from tests.rights.world import NOW, World

from servinfo.access.errors import Denied
from servinfo.deployment import open_deployment
from servinfo.rights import (
    ExtensionRefused,
    FlaggedRequest,
    InvalidRequest,
    VerificationFailed,
    WrongState,
)
from servinfo.rights.contact import Address
from servinfo.rights.errors import DeliveryUnavailable
from servinfo.rights.requests import CODE_ATTEMPTS, CODE_TTL


def test_received_verified_in_progress_completed(world: World) -> None:
    rights = world.rights
    opened = rights.open("objection", "subj-de", channel="cli", actor="dpo", now=NOW)
    assert (opened.state, opened.regime, opened.right) == ("received", "gdpr", "gdpr:objection")
    assert opened.due_at == dt.date(2026, 6, 4)
    with pytest.raises(WrongState, match="'received'; to process it must be 'verified'"):
        rights.process(opened.request_id, actor="dpo", now=NOW)
    ada = world.deployment.principals.get("ada")
    verified = rights.verify_with_principal(opened.request_id, ada, now=NOW)
    assert (verified.state, verified.verified_by) == ("verified", "ada")
    done = rights.process(opened.request_id, actor="dpo", now=NOW)
    assert done.state == "completed"
    assert done.completed_at == NOW
    with pytest.raises(WrongState):
        rights.refuse(opened.request_id, "too late", actor="dpo")
    kinds = [n.kind for n in world.notices(request_id=opened.request_id)]
    assert kinds == ["receipt_notice", "completion_notice"]


def test_another_subjects_principal_cannot_verify(world: World) -> None:
    opened = world.rights.open("access", "subj-de", channel="api", actor="dpo", now=NOW)
    bob = world.deployment.principals.get("bob")
    with pytest.raises(VerificationFailed, match="not the subject"):
        world.rights.verify_with_principal(opened.request_id, bob, now=NOW)


def test_one_time_code_reaches_the_person_and_never_the_outbox(world: World) -> None:
    rights = world.rights
    opened = rights.open("access", "subj-de", channel="api", actor="dpo", now=NOW)
    notice_id = rights.send_code(opened.request_id, now=NOW)
    # The outbox records that a code was sent, when and how: not the code, not the address.
    notice = world.outbox.notices_by_id(notice_id)
    assert (notice.kind, notice.recipient, notice.sent_at) == ("verification_code", "subj-de", NOW)
    assert notice.payload == {
        "request_id": opened.request_id,
        "channel": "email",
        "expires_at": (NOW + CODE_TTL).isoformat(),
    }
    # The code went to the address on the account record, read through the access layer.
    (message,) = world.mailbox.messages()
    assert message["To"] == "ada@example.test"
    code = world.code_for(opened.request_id)
    assert code not in repr([n.to_dict() for n in world.notices()])
    read = [e for e in world.deployment.audit.tail(20) if e.action == "read"]
    assert read[-1].actor == "servinfo-rights"
    assert read[-1].purpose == "legal"
    with pytest.raises(VerificationFailed):
        rights.verify_with_code(opened.request_id, "WRONGCODE0", now=NOW)
    verified = rights.verify_with_code(opened.request_id, code.lower(), now=NOW)
    assert (verified.state, verified.verified_by) == ("verified", "verification-code")


def test_the_contact_read_opens_the_rights_role_only_while_it_lasts(world: World) -> None:
    rights = world.rights
    assert not rights.has_open_verified_request("subj-de")
    with rights.contact_reads.opened("subj-de"):
        assert rights.has_open_verified_request("subj-de")
        assert not rights.has_open_verified_request("subj-fr")
    assert not rights.has_open_verified_request("subj-de")


def test_a_code_goes_to_a_typed_address_only_if_it_is_the_subjects(world: World) -> None:
    rights = world.rights
    opened = rights.open("erasure", "subj-de", channel="api", actor="dpo", now=NOW)
    theirs = Address("email", "ada@example.test")
    someone_elses = Address("email", "bob@example.test")  # another subject's identifier
    unknown = Address("email", "eve@example.test")
    assert rights.send_code(opened.request_id, to=someone_elses, now=NOW) == ""
    assert rights.send_code(opened.request_id, to=unknown, now=NOW) == ""
    assert world.mailbox.messages() == []
    assert world.notices(kind="verification_code") == []
    assert rights.send_code(opened.request_id, to=theirs, now=NOW)
    (message,) = world.mailbox.messages()
    assert message["To"] == "ada@example.test"


def test_a_code_that_cannot_be_delivered_is_withdrawn(world: World) -> None:
    # The same deployment, opened by a process that may send no e-mail.
    with open_deployment(world.data_dir, {"SERVINFO_NOTIFY_EMAIL": "none"}) as no_mail:
        rights = no_mail.rights
        opened = rights.open("access", "subj-de", channel="api", actor="dpo", now=NOW)
        with pytest.raises(DeliveryUnavailable, match="no e-mail sender is configured"):
            rights.send_code(opened.request_id, now=NOW)
        with no_mail.control.connect() as connection:
            live = connection.scalar(
                text(
                    "SELECT count(*) FROM rights_verification_codes "
                    "WHERE request_id = :r AND used_at IS NULL"
                ),
                {"r": opened.request_id},
            )
    assert live == 0
    assert world.notices(kind="verification_code") == []


def test_codes_expire_and_allow_few_attempts(world: World) -> None:
    rights = world.rights
    first = rights.open("access", "subj-de", channel="api", actor="dpo", now=NOW)
    rights.send_code(first.request_id, now=NOW)
    code = world.code_for(first.request_id)
    with pytest.raises(VerificationFailed, match="wrong, expired or used up"):
        rights.verify_with_code(first.request_id, code, now=NOW + CODE_TTL)
    second = rights.open("access", "subj-fr", channel="api", actor="dpo", now=NOW)
    rights.send_code(second.request_id, now=NOW)
    code = world.code_for(second.request_id)
    for _ in range(CODE_ATTEMPTS):
        with pytest.raises(VerificationFailed):
            rights.verify_with_code(second.request_id, "0000000000", now=NOW)
    with pytest.raises(VerificationFailed):  # the right code, too late: the code is used up
        rights.verify_with_code(second.request_id, code, now=NOW)


def test_a_burst_of_repeats_is_flagged_never_refused(world: World) -> None:
    rights = world.rights
    ids = [
        rights.open(
            "access",
            "subj-de",
            channel="api",
            actor="dpo",
            verified=True,
            now=NOW + dt.timedelta(days=d),
        ).request_id
        for d in (0, 5, 10)
    ]
    first, _, third = (rights.get(i) for i in ids)
    assert not first.flagged
    assert third.flagged
    assert third.state == "verified"
    assert third.flag_reason is not None
    assert "Art. 12(5)" in third.flag_reason
    with pytest.raises(FlaggedRequest, match="--proceed-flagged"):
        rights.process(third.request_id, actor="dpo", now=NOW)
    assert rights.get(third.request_id).state == "verified"
    done = rights.process(third.request_id, actor="dpo", proceed_flagged=True, now=NOW)
    assert (done.state, done.operator_decision, done.decided_by) == ("completed", "proceed", "dpo")
    later = rights.open(
        "access", "subj-de", channel="api", actor="dpo", now=NOW + dt.timedelta(days=60)
    )
    assert not later.flagged


def test_gdpr_extension_once_with_notice_and_reason(world: World) -> None:
    rights = world.rights
    opened = rights.open("erasure", "subj-de", channel="cli", actor="dpo", now=NOW)
    extended = rights.extend(
        opened.request_id, "many linked requests", actor="dpo", now=NOW + dt.timedelta(days=20)
    )
    assert extended.extended_due_at == dt.date(2026, 8, 4)
    assert extended.answer_by == dt.date(2026, 8, 4)
    assert extended.extension_notified_at == NOW + dt.timedelta(days=20)
    (notice,) = world.notices(request_id=opened.request_id, kind="extension_notice")
    assert notice.payload["reason"] == "many linked requests"
    with pytest.raises(ExtensionRefused, match="already extended"):
        rights.extend(opened.request_id, "again", actor="dpo", now=NOW)


def test_extension_too_late_or_not_granted_is_refused(world: World) -> None:
    rights = world.rights
    late = rights.open("access", "subj-de", channel="cli", actor="dpo", now=NOW)
    with pytest.raises(ExtensionRefused, match="must be notified by 2026-06-04"):
        rights.extend(late.request_id, "complex", actor="dpo", now=NOW + dt.timedelta(days=40))
    swiss = rights.open("access", "subj-ch", channel="cli", actor="dpo", now=NOW)
    assert swiss.due_at == dt.date(2026, 6, 3)
    with pytest.raises(ExtensionRefused, match="fadp:access allows no extension"):
        rights.extend(swiss.request_id, "complex", actor="dpo", now=NOW)


def test_refusal_names_the_authority_where_the_regime_requires(world: World) -> None:
    rights = world.rights
    gdpr = rights.open("access", "subj-de", channel="cli", actor="dpo", now=NOW)
    refused = rights.refuse(gdpr.request_id, "identity could not be established", actor="dpo")
    assert refused.state == "refused"
    assert refused.outcome is not None
    assert refused.outcome["reason"] == "identity could not be established"
    assert "Hessische" in refused.outcome["complaint"]["authority"]
    (notice,) = world.notices(request_id=gdpr.request_id, kind="completion_notice")
    assert notice.payload["complaint"]["url"] == "https://datenschutz.hessen.de"
    ccpa = rights.open("access", "subj-ca", channel="cli", actor="dpo", now=NOW)
    assert "complaint" not in (rights.refuse(ccpa.request_id, "no", actor="dpo").outcome or {})
    with pytest.raises(InvalidRequest, match="needs a reason"):
        rights.refuse(ccpa.request_id, " ", actor="dpo")


def test_ccpa_requests_confirm_receipt(world: World) -> None:
    opened = world.rights.open("erasure", "subj-ca", channel="api", actor="dpo", now=NOW)
    assert (opened.regime, opened.due_at) == ("ccpa", dt.date(2026, 6, 18))
    assert opened.acknowledged_due_at == dt.date(2026, 5, 18)
    assert opened.acknowledged_at == NOW
    assert world.notices(request_id=opened.request_id, kind="receipt_notice")


def test_overdue_lists_open_requests_past_their_deadline(world: World) -> None:
    rights = world.rights
    old = rights.open("access", "subj-de", channel="cli", actor="dpo", now=NOW)
    rights.open("access", "subj-fr", channel="cli", actor="dpo", now=NOW + dt.timedelta(days=30))
    later = NOW + dt.timedelta(days=35)
    assert [r.request_id for r in rights.list_requests(overdue=True, now=later)] == [old.request_id]
    assert len(rights.list_requests(now=later)) == 2


def test_the_rights_role_reads_only_for_an_open_verified_request(world: World) -> None:
    rights = world.rights
    principal = rights.rights_principal()
    with pytest.raises(Denied):
        world.deployment.reads.read_subject(principal, "legal", "subj-de")
    opened = rights.open("objection", "subj-de", channel="cli", actor="dpo", verified=True)
    with pytest.raises(Denied):  # an objection needs no read: least privilege
        world.deployment.reads.read_subject(principal, "legal", "subj-de")
    access = rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True)
    assert world.deployment.reads.read_subject(principal, "legal", "subj-de").records
    rights.refuse(access.request_id, "withdrawn by the subject", actor="dpo")
    with pytest.raises(Denied):
        world.deployment.reads.read_subject(principal, "legal", "subj-de")
    assert opened.state == "verified"


def test_bad_parameters_are_refused_when_opening(world: World) -> None:
    with pytest.raises(InvalidRequest, match="takes parameters"):
        world.rights.open("access", "subj-de", channel="api", actor="dpo", parameters={"x": 1})
    with pytest.raises(InvalidRequest, match="corrects account information"):
        world.rights.open(
            "rectification",
            "subj-de",
            channel="api",
            actor="dpo",
            parameters={"kind": "payments.credit_check", "fields": {"score": 1}},
        )
    with pytest.raises(InvalidRequest, match="'shoe_size' is not declared"):
        world.rights.open(
            "rectification",
            "subj-de",
            channel="api",
            actor="dpo",
            parameters={"fields": {"shoe_size": "44"}},
        )
    with pytest.raises(InvalidRequest, match=r"Art\. 18"):
        world.rights.open(
            "restriction", "subj-de", channel="api", actor="dpo", parameters={"allows": ["provide"]}
        )
