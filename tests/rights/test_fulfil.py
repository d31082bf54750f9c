"""Rectification, restriction (and its lift), objection, withdrawal and opt-out."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.rights.world import NOW, World

from servinfo.access.errors import Denied
from servinfo.crypto import BLIND_INDEX, BlindIndexer
from servinfo.rights import LiftNotAnnounced, Request


def _run(world: World, kind: str, subject: str = "subj-de", **parameters: object) -> Request:
    opened = world.rights.open(
        kind, subject, channel="cli", actor="dpo", verified=True, parameters=parameters, now=NOW
    )
    return world.rights.process(opened.request_id, actor="dpo", now=NOW)


def _key_of(world: World, record_id: str) -> tuple[str, bytes | None]:
    with world.deployment.regions["eu"].connect() as connection:
        row = connection.execute(
            text(
                "SELECT k.id, k.wrapped FROM records r JOIN data_keys k ON k.id = r.key_id "
                "WHERE r.id = :r"
            ),
            {"r": record_id},
        ).one()
    return str(row[0]), row[1]


def test_rectification_reseals_under_a_fresh_key_and_tells_recipients(world: World) -> None:
    profile = world.record_ids["profile"]
    before, _ = _key_of(world, profile)
    done = _run(world, "rectification", fields={"email": "ada.new@example.test"})
    assert done.outcome is not None
    assert done.outcome["rectified"] == [profile]
    first, first_wrapped = _key_of(world, profile)
    assert first != before
    assert first_wrapped is not None
    # A second correction destroys the first correction's own key.
    _run(world, "rectification", fields={"given_name": "Augusta"})
    second, _ = _key_of(world, profile)
    with world.deployment.regions["eu"].connect() as connection:
        gone = connection.execute(
            text("SELECT count(*) FROM data_keys WHERE id = :k"), {"k": first}
        ).scalar()
        digests = (
            connection.execute(
                text("SELECT digest FROM blind_index WHERE record_id = :r AND field = 'email'"),
                {"r": profile},
            )
            .scalars()
            .all()
        )
    assert second != first
    assert gone == 0
    indexer = BlindIndexer(world.deployment.keyring.current(BLIND_INDEX))
    assert [bytes(d) for d in digests] == [indexer.index("email", "ada.new@example.test")]
    read = world.deployment.reads.read_subject(
        world.deployment.principals.get("ada"), "provide", "subj-de", categories=["account"]
    )
    assert read.records[0].fields["email"] == "ada.new@example.test"
    assert read.records[0].fields["given_name"] == "Augusta"
    notices = world.notices(kind="rectification_notice")
    assert [n.recipient for n in notices] == ["relay_mail", "relay_mail"]
    assert notices[0].payload["fields"] == ["email"]
    assert "ada.new@example.test" not in str(notices[0].payload)


def test_restriction_lift_needs_the_subject_told_first(world: World) -> None:
    done = _run(world, "restriction", ground="accuracy_contested", allows=["legal"])
    assert done.state == "completed"
    support = world.deployment.principals.get("support-eu")
    with pytest.raises(Denied):
        world.deployment.reads.read_subject(support, "provide", "subj-de")
    rights = world.rights
    with pytest.raises(LiftNotAnnounced, match=r"Art\. 18"):
        rights.lift_restriction("subj-de", actor="dpo")
    notice = rights.announce_restriction_lift("subj-de", "accuracy verified", actor="dpo")
    with pytest.raises(LiftNotAnnounced):  # queued is not told: it must be delivered
        rights.lift_restriction("subj-de", actor="dpo")
    world.outbox.mark_sent(notice, now=NOW)
    lifted = rights.lift_restriction("subj-de", actor="dpo")
    assert lifted["notice"] == notice
    assert world.deployment.reads.read_subject(support, "provide", "subj-de").records


def test_objection_blocks_the_pre_credit_check_from_then_on(world: World) -> None:
    billing = world.deployment.principal_service.add(
        "billing-eu", kind="employee", role="billing_ops", region="eu", actor="admin"
    ).principal
    reads = world.deployment.reads
    assert reads.read_subject(billing, "provide.credit_check", "subj-de").records
    done = _run(world, "objection", purpose="provide.credit_check")
    assert done.outcome is not None
    assert done.outcome["objected"] == ["provide.credit_check"]
    with pytest.raises(Denied):
        reads.read_subject(billing, "provide.credit_check", "subj-de")
    everything = _run(world, "objection")
    assert everything.outcome is not None
    assert "provide.credit_check" in everything.outcome["already_in_force"]
    assert "improve_use" in everything.outcome["objected"]


def test_objection_to_a_purpose_that_is_not_objectable_is_refused_with_the_ground(
    world: World,
) -> None:
    done = _run(world, "objection", purpose="protect")
    assert done.state == "refused"
    assert done.outcome is not None
    assert "compelling legitimate grounds" in done.outcome["reason"]
    assert "complaint" in done.outcome


def test_withdrawal_is_the_same_call_as_giving(world: World) -> None:
    ledgers = world.deployment.ledgers
    policy = world.deployment.policy
    ledgers.give_consent(
        "subj-de", recipient="acme_ads", notice_version=policy.version, actor="ada"
    )
    done = _run(world, "withdraw-consent", recipient="acme_ads")
    assert done.outcome is not None
    assert done.outcome["withdrawn"] == ["acme_ads"]
    assert ledgers.consents("subj-de") == []
    none_left = _run(world, "withdraw-consent")
    assert none_left.outcome is not None
    assert "note" in none_left.outcome


def test_opt_out_is_recorded_and_withdraws_third_party_consents(world: World) -> None:
    ledgers = world.deployment.ledgers
    version = world.deployment.policy.version
    ledgers.give_consent("subj-ca", recipient="acme_ads", notice_version=version, actor="x")
    assert not world.rights.opted_out("subj-ca")
    done = _run(world, "opt-out", subject="subj-ca")
    assert (done.right, done.voluntary, done.state) == ("ccpa:opt_out", False, "completed")
    assert world.rights.opted_out("subj-ca")
    assert done.outcome is not None
    assert done.outcome["consents_withdrawn"] == ["acme_ads"]
    gdpr = _run(world, "opt-out", subject="subj-de")
    assert gdpr.voluntary
    assert gdpr.outcome is not None
    assert "voluntary" in gdpr.outcome
