"""Consents: given, renewed under a new notice, withdrawn as easily as given, kept as events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import AlreadyInForce, ConsentTerms, InvalidLedgerInput, Ledgers, NotInForce
from servinfo.store import UnknownSubject

SUBJECT = "subject"


def test_consent_given_then_withdrawn(
    ledgers: Ledgers, audit: MemoryAuditSink, policy_version: str, now: datetime
) -> None:
    given = ledgers.give_consent(
        "subj-sg", purpose="improve_use", notice_version=policy_version, actor=SUBJECT, now=now
    )
    assert (given.state, given.scope, given.notice_version) == (
        "given",
        "improve_use",
        policy_version,
    )
    assert ledgers.consents("subj-sg") == [given]
    assert ledgers.subject_state("subj-sg").consents == {"improve_use"}

    later = now + timedelta(minutes=5)
    withdrawn = ledgers.withdraw_consent(
        "subj-sg", purpose="improve_use", notice_version=policy_version, actor=SUBJECT, now=later
    )
    assert withdrawn.state == "withdrawn"
    assert ledgers.consents("subj-sg") == []
    assert ledgers.consents("subj-sg", include_history=True) == [given, withdrawn]
    state = ledgers.subject_state("subj-sg")
    assert state.consents == frozenset()
    assert state.version == 2
    assert [(e.action, e.purpose, e.details["change"]) for e in audit.events] == [
        ("ledger_change", "improve_use", "given"),
        ("ledger_change", "improve_use", "withdrawn"),
    ]
    assert audit.events[0].details["notice_version"] == policy_version


def test_events_in_the_same_instant_keep_their_order(
    ledgers: Ledgers, policy_version: str, now: datetime
) -> None:
    for _ in range(3):
        ledgers.give_consent(
            "subj-de", purpose="improve_use", notice_version=policy_version, actor=SUBJECT, now=now
        )
        ledgers.withdraw_consent("subj-de", purpose="improve_use", actor=SUBJECT, now=now)
    ledgers.give_consent(
        "subj-de", purpose="improve_use", notice_version=policy_version, actor=SUBJECT, now=now
    )
    assert ledgers.subject_state("subj-de").consents == {"improve_use"}
    assert len(ledgers.consents("subj-de", include_history=True)) == 7


def test_withdrawal_defaults_to_the_notice_in_force(ledgers: Ledgers, policy_version: str) -> None:
    ledgers.give_consent("subj-de", recipient="acme-research", notice_version="v1", actor=SUBJECT)
    withdrawn = ledgers.withdraw_consent("subj-de", recipient="acme-research", actor=SUBJECT)
    assert withdrawn.notice_version == policy_version
    assert withdrawn.scope == "acme-research"


def test_consent_to_a_recipient_is_in_the_state(ledgers: Ledgers, policy_version: str) -> None:
    ledgers.give_consent(
        "subj-de", recipient="acme-research", notice_version=policy_version, actor=SUBJECT
    )
    state = ledgers.subject_state("subj-de")
    assert state.consents == {"acme-research"}
    # A recipient consent is not a purpose: a restriction does not let it through.
    ledgers.restrict("subj-de", "accuracy contested", "dpo")
    assert ledgers.subject_state("subj-de").restriction_allows == {"legal"}


def test_a_new_notice_version_renews_the_same_one_is_already_in_force(
    ledgers: Ledgers, audit: MemoryAuditSink, snapshot: Callable[[], Any]
) -> None:
    ledgers.give_consent("subj-de", purpose="improve_use", notice_version="v1", actor=SUBJECT)
    before = snapshot()
    with pytest.raises(AlreadyInForce, match="under notice version 'v1'"):
        ledgers.give_consent("subj-de", purpose="improve_use", notice_version="v1", actor=SUBJECT)
    assert snapshot() == before
    renewed = ledgers.give_consent(
        "subj-de", purpose="improve_use", notice_version="v2", actor=SUBJECT
    )
    assert ledgers.consents("subj-de") == [renewed]
    assert audit.events[-1].details["change"] == "renewed"


def test_double_withdrawal_is_refused_with_nothing_written(
    ledgers: Ledgers, snapshot: Callable[[], Any], policy_version: str
) -> None:
    before = snapshot()
    with pytest.raises(NotInForce, match="no consent to purpose 'improve_use' in force"):
        ledgers.withdraw_consent("subj-de", purpose="improve_use", actor=SUBJECT)
    assert snapshot() == before
    ledgers.give_consent(
        "subj-de", purpose="improve_use", notice_version=policy_version, actor=SUBJECT
    )
    ledgers.withdraw_consent("subj-de", purpose="improve_use", actor=SUBJECT)
    before = snapshot()
    with pytest.raises(NotInForce):
        ledgers.withdraw_consent("subj-de", purpose="improve_use", actor=SUBJECT)
    assert snapshot() == before


_TERMS = ConsentTerms("sha256:" + "0" * 64, "portal", "{}")


def test_a_recipient_consent_names_its_purpose_and_terms(ledgers: Ledgers) -> None:
    """Granular: a recipient and a purpose; it grants the recipient, never the purpose."""
    given = ledgers.give_consent(
        "subj-de", recipient="acme", purpose="improve_use", notice_version="v1", actor=SUBJECT,
        terms=_TERMS,
    )  # fmt: skip
    assert (given.recipient, given.purpose, given.wording_hash) == (
        "acme", "improve_use", _TERMS.wording_hash,
    )  # fmt: skip
    # the same recipient for another purpose is another consent
    ledgers.give_consent(
        "subj-de", recipient="acme", purpose="provide", notice_version="v1", actor=SUBJECT
    )
    assert ledgers.subject_state("subj-de").consents == frozenset({"acme"})
    ledgers.withdraw_consent("subj-de", recipient="acme", purpose="improve_use", actor=SUBJECT)
    in_force = ledgers.consents("subj-de")
    assert [(c.recipient, c.purpose) for c in in_force] == [("acme", "provide")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "one purpose, or one recipient \\(for a purpose\\); got neither"),
        ({"purpose": "improve_use", "terms": _TERMS}, "terms belong to a consent to a recipient"),
        ({"purpose": "marketing"}, "purpose 'marketing' is not declared in the policy"),
        ({"recipient": "legal"}, "recipient 'legal' has the id of a purpose"),
        ({"recipient": "bad recipient"}, "recipient must be an id"),
        ({"purpose": "improve_use", "notice_version": ""}, "notice version must be"),
    ],
)
def test_bad_input_is_refused(
    ledgers: Ledgers, snapshot: Callable[[], Any], kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"notice_version": "v1", "actor": SUBJECT, **kwargs}
    before = snapshot()
    with pytest.raises(InvalidLedgerInput, match=message):
        ledgers.give_consent("subj-de", **arguments)
    with pytest.raises(UnknownSubject):
        ledgers.give_consent("subj-nobody", purpose="improve_use", notice_version="v1", actor="x")
    assert snapshot() == before
