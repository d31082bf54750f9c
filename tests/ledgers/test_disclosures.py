"""The disclosure register: registered only on a ground that holds, and audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import DisclosureRefused, InvalidLedgerInput, Ledgers
from servinfo.store import UnknownSubject

OFFICER = "privacy-officer"


def _to_processor(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "recipient": "relay_mail",
        "recipient_kind": "processor",
        "basis": "processor",
        "subject_id": "subj-de",
        "categories": ["account"],
        "purpose": "provide",
        "record_count": 3,
        "actor": OFFICER,
    }
    values.update(overrides)
    return values


def test_processor_disclosure_uses_the_contract_reference(
    ledgers: Ledgers, audit: MemoryAuditSink, now: datetime
) -> None:
    entry = ledgers.register_disclosure(**_to_processor(now=now))
    assert entry.reference == "DPA-2025-014"
    assert entry.categories == ("account",)
    assert ledgers.disclosures(subject_id="subj-de") == [entry]
    assert ledgers.disclosures(recipient="relay_mail") == [entry]
    assert ledgers.disclosures(recipient="crediva") == []
    [event] = audit.events
    assert (event.action, event.subject_id, event.purpose) == ("disclosure", "subj-de", "provide")
    assert event.details["recipient"] == "relay_mail"
    assert event.details["basis"] == "processor"
    assert event.details["record_count"] == 3
    # A disclosure is evidence, not state: decisions need not be recomputed.
    assert ledgers.subject_state("subj-de").version == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recipient": "acme"}, "'acme' is not a processor of the policy"),
        ({"categories": ["payments"]}, "covers categories account, communications, not payments"),
        ({"purpose": "legal"}, "covers purposes provide, not 'legal'"),
        (
            {"recipient": "sahaya_support", "categories": ["account"]},
            "runs from 2026-03-01 to 2029-02-28, not on 2025-03-01",
        ),
        (
            {"recipient": "crediva", "purpose": "provide.credit_check", "subject_id": "subj-ca"},
            "not the subject's home region 'us'",
        ),
        ({"reference": "DPA-0000-000"}, "expected 'DPA-2025-014'"),
        ({"recipient_kind": "third_party"}, "goes to processor, got recipient kind 'third_party'"),
    ],
)
def test_processor_ground_must_hold(
    ledgers: Ledgers,
    snapshot: Callable[[], Any],
    now: datetime,
    overrides: dict[str, Any],
    message: str,
) -> None:
    before = snapshot()
    with pytest.raises(DisclosureRefused, match=message):
        ledgers.register_disclosure(**_to_processor(now=now, **overrides))
    assert snapshot() == before


def test_consent_disclosure_needs_consent_in_force(
    ledgers: Ledgers, snapshot: Callable[[], Any], policy_version: str, now: datetime
) -> None:
    arguments = _to_processor(
        recipient="acme-research", recipient_kind="third_party", basis="consent", now=now
    )
    before = snapshot()
    with pytest.raises(DisclosureRefused, match="no consent in force to disclosure to"):
        ledgers.register_disclosure(**arguments)
    assert snapshot() == before

    consent = ledgers.give_consent(
        "subj-de", recipient="acme-research", notice_version=policy_version, actor="subject"
    )
    entry = ledgers.register_disclosure(**arguments)
    assert entry.reference == consent.entry_id
    with pytest.raises(DisclosureRefused, match=f"expected {consent.entry_id!r}"):
        ledgers.register_disclosure(**arguments, reference="some-other-consent")

    ledgers.withdraw_consent("subj-de", recipient="acme-research", actor="subject")
    with pytest.raises(DisclosureRefused, match="no consent in force"):
        ledgers.register_disclosure(**arguments)
    assert ledgers.disclosures(subject_id="subj-de") == [entry]


def test_legal_requirement_needs_a_reference(ledgers: Ledgers, snapshot: Callable[[], Any]) -> None:
    arguments = _to_processor(
        recipient="bka", recipient_kind="authority", basis="legal_requirement", purpose="legal"
    )
    before = snapshot()
    with pytest.raises(InvalidLedgerInput, match="needs the legal request's reference"):
        ledgers.register_disclosure(**arguments)
    assert snapshot() == before
    entry = ledgers.register_disclosure(**arguments, reference="court-order-2025-17")
    assert (entry.basis, entry.reference) == ("legal_requirement", "court-order-2025-17")
    assert entry.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"basis": "sale"}, "disclosure ground 'sale' is not declared in the policy"),
        ({"recipient_kind": "friend"}, "recipient kind 'friend' is unknown"),
        ({"categories": []}, "at least one category"),
        ({"categories": ["content"]}, "category 'content' is not declared"),
        ({"purpose": "marketing"}, "purpose 'marketing' is not declared"),
        ({"record_count": -1}, "record count must be a whole number"),
    ],
)
def test_bad_input_is_refused(
    ledgers: Ledgers, snapshot: Callable[[], Any], overrides: dict[str, Any], message: str
) -> None:
    before = snapshot()
    with pytest.raises(InvalidLedgerInput, match=message):
        ledgers.register_disclosure(**_to_processor(**overrides))
    with pytest.raises(UnknownSubject):
        ledgers.register_disclosure(**_to_processor(subject_id="subj-nobody"))
    assert snapshot() == before
