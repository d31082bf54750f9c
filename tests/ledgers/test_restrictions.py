"""Restrictions (Art. 18): what Art. 18(2) still allows, and lifting only once the subject knows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import (
    AlreadyInForce,
    InvalidLedgerInput,
    Ledgers,
    NotInForce,
    RestrictionLiftRefused,
)
from servinfo.store import UnknownSubject

ACTOR = "privacy-officer"
REASON = "accuracy contested"


def test_restrict_records_the_exceptions_and_audits(
    ledgers: Ledgers, audit: MemoryAuditSink, now: datetime
) -> None:
    entry = ledgers.restrict("subj-de", REASON, ACTOR, allows=("protect", "legal"), now=now)

    assert entry.allows == ("legal", "protect")
    assert ledgers.restriction("subj-de") == entry
    state = ledgers.subject_state("subj-de")
    assert state.restricted
    assert state.restriction_allows == {"legal", "protect"}
    assert state.version == 1
    [event] = audit.events
    assert event.action == "ledger_change"
    assert dict(event.details) == {
        "ledger": "restriction",
        "change": "placed",
        "allows": "legal,protect",
        "version": 1,
    }
    # The free-text reason may hold personal data: it stays out of the audit log.
    assert REASON not in str(event)


def test_default_exception_is_legal_claims(ledgers: Ledgers, now: datetime) -> None:
    ledgers.restrict("subj-de", REASON, ACTOR, now=now)
    assert ledgers.subject_state("subj-de").restriction_allows == {"legal"}


def test_no_exception_leaves_storage_only(ledgers: Ledgers, now: datetime) -> None:
    ledgers.restrict("subj-de", REASON, ACTOR, allows=(), now=now)
    state = ledgers.subject_state("subj-de")
    assert state.restricted
    assert state.restriction_allows == frozenset()


def test_purposes_the_subject_consents_to_stay_allowed(
    ledgers: Ledgers, policy_version: str, now: datetime
) -> None:
    ledgers.give_consent(
        "subj-de", purpose="improve_use", notice_version=policy_version, actor="subject"
    )
    ledgers.restrict("subj-de", REASON, ACTOR, now=now)
    assert ledgers.subject_state("subj-de").restriction_allows == {"legal", "improve_use"}
    ledgers.withdraw_consent("subj-de", purpose="improve_use", actor="subject")
    assert ledgers.subject_state("subj-de").restriction_allows == {"legal"}


def test_lifting_needs_the_subject_informed_and_writes_nothing_otherwise(
    ledgers: Ledgers, snapshot: Callable[[], Any], now: datetime
) -> None:
    ledgers.restrict("subj-de", REASON, ACTOR, now=now)
    before = snapshot()
    with pytest.raises(RestrictionLiftRefused) as raised:
        ledgers.lift_restriction("subj-de", ACTOR, subject_informed=False)
    assert "Art. 18(3)" in str(raised.value)
    assert "got subject_informed=False, expected True" in str(raised.value)
    assert raised.value.http_status == 409
    assert snapshot() == before
    assert ledgers.subject_state("subj-de").restricted


def test_lift_keeps_history(ledgers: Ledgers, audit: MemoryAuditSink, now: datetime) -> None:
    placed = ledgers.restrict("subj-de", REASON, ACTOR, now=now)
    later = now + timedelta(days=10)
    lifted = ledgers.lift_restriction("subj-de", "dpo", subject_informed=True, now=later)

    assert (lifted.entry_id, lifted.lifted_at, lifted.lifted_by) == (placed.entry_id, later, "dpo")
    assert ledgers.restriction("subj-de") is None
    assert ledgers.restrictions("subj-de") == [lifted]
    state = ledgers.subject_state("subj-de")
    assert not state.restricted
    assert state.restriction_allows == frozenset()
    assert state.version == 2
    assert [e.details["change"] for e in audit.events] == ["placed", "lifted"]


def test_one_restriction_at_a_time_and_nothing_to_lift(
    ledgers: Ledgers, snapshot: Callable[[], Any], now: datetime
) -> None:
    before = snapshot()
    with pytest.raises(NotInForce, match="no restriction in force"):
        ledgers.lift_restriction("subj-de", ACTOR, subject_informed=True)
    assert snapshot() == before
    ledgers.restrict("subj-de", REASON, ACTOR, now=now)
    before = snapshot()
    with pytest.raises(AlreadyInForce, match="already restricted since 2025-03-01"):
        ledgers.restrict("subj-de", "objection pending", ACTOR, now=now)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allows": ("marketing",)}, "allowed purpose 'marketing' is not declared"),
        ({"reason": "   "}, "restriction reason must be 1 to 500 characters"),
        ({"reason": "x" * 501}, "got a string of 501 characters"),
    ],
)
def test_bad_input_is_refused(
    ledgers: Ledgers, snapshot: Callable[[], Any], kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"reason": REASON, "actor": ACTOR, **kwargs}
    before = snapshot()
    with pytest.raises(InvalidLedgerInput, match=message):
        ledgers.restrict("subj-de", **arguments)
    with pytest.raises(UnknownSubject):
        ledgers.restrict("subj-nobody", REASON, ACTOR)
    assert snapshot() == before
