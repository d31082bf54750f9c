"""Legal holds: on a subject or an organization, reaching subjects through their partner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import HoldNotFound, InvalidHoldTarget, Ledgers, NotInForce
from servinfo.store import UnknownOrganization, UnknownSubject

COUNSEL = "legal-counsel"


def test_hold_on_a_subject(ledgers: Ledgers, audit: MemoryAuditSink, now: datetime) -> None:
    hold = ledgers.place_hold(subject_id="subj-de", reason="litigation 42", actor=COUNSEL, now=now)
    assert (hold.subject_id, hold.org_id, hold.placed_at, hold.in_force) == (
        "subj-de",
        None,
        now,
        True,
    )
    assert ledgers.holds_for("subj-de") == [hold]
    assert ledgers.holds_for("subj-gb") == []
    [event] = audit.events
    assert (event.action, event.subject_id) == ("ledger_change", "subj-de")
    assert event.details["ledger"] == "legal_hold"
    assert event.details["change"] == "placed"
    assert event.linked == {"hold_id": hold.hold_id}  # keyed with the subject's salt
    assert "litigation" not in str(event)
    # Holds do not change what decisions see, but they count as a ledger change.
    assert ledgers.subject_state("subj-de").version == 0
    assert ledgers.global_version() == 1


def test_hold_on_an_organization_and_on_its_partner(ledgers: Ledgers, now: datetime) -> None:
    on_org = ledgers.place_hold(org_id="org-eu", reason="audit", actor=COUNSEL, now=now)
    on_partner = ledgers.place_hold(
        org_id="partner-1", reason="dispute", actor=COUNSEL, now=now + timedelta(seconds=1)
    )
    assert ledgers.holds_for("subj-de") == [on_org, on_partner]
    assert ledgers.holds_for("subj-gb") == [on_org, on_partner]
    assert ledgers.holds_for("subj-ca") == [on_partner]
    assert ledgers.holds_for("subj-sg") == []
    assert ledgers.holds(org_id="org-eu") == [on_org]
    assert ledgers.holds() == [on_org, on_partner]


def test_release_keeps_the_hold_as_history(
    ledgers: Ledgers, audit: MemoryAuditSink, snapshot: Callable[[], Any], now: datetime
) -> None:
    hold = ledgers.place_hold(org_id="org-us", reason="audit", actor=COUNSEL, now=now)
    later = now + timedelta(days=30)
    released = ledgers.release_hold(hold.hold_id, "dpo", now=later)
    assert (released.released_at, released.released_by, released.in_force) == (
        later,
        "dpo",
        False,
    )
    assert ledgers.holds_for("subj-ca") == []
    assert ledgers.holds_for("subj-ca", include_released=True) == [released]
    assert [e.details["change"] for e in audit.events] == ["placed", "released"]

    before = snapshot()
    with pytest.raises(NotInForce, match="was released at 2025-03-31"):
        ledgers.release_hold(hold.hold_id, "dpo")
    with pytest.raises(HoldNotFound, match="no legal hold with id '01NOSUCHHOLD'"):
        ledgers.release_hold("01NOSUCHHOLD", "dpo")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("target", "found"),
    [({"subject_id": "subj-de", "org_id": "org-eu"}, "both"), ({}, "neither")],
)
def test_a_hold_names_exactly_one_target(
    ledgers: Ledgers, snapshot: Callable[[], Any], target: dict[str, Any], found: str
) -> None:
    before = snapshot()
    with pytest.raises(InvalidHoldTarget, match=f"got {found}"):
        ledgers.place_hold(reason="x", actor=COUNSEL, **target)
    assert snapshot() == before


def test_unknown_targets_are_refused(ledgers: Ledgers, snapshot: Callable[[], Any]) -> None:
    before = snapshot()
    with pytest.raises(UnknownSubject):
        ledgers.place_hold(subject_id="subj-nobody", reason="x", actor=COUNSEL)
    with pytest.raises(UnknownOrganization):
        ledgers.place_hold(org_id="org-nobody", reason="x", actor=COUNSEL)
    with pytest.raises(UnknownSubject):
        ledgers.holds_for("subj-nobody")
    assert snapshot() == before
