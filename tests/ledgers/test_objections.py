"""Objections: placed, withdrawn, kept as history, audited, versioned; bad input refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import AlreadyInForce, InvalidLedgerInput, Ledgers, NotInForce, NotObjectable
from servinfo.store import UnknownSubject

ACTOR = "privacy-officer"


def test_object_records_audits_and_bumps_the_version(
    ledgers: Ledgers, audit: MemoryAuditSink, now: datetime
) -> None:
    before = ledgers.subject_state("subj-de").version
    entry = ledgers.object("subj-de", "improve_use", ACTOR, now=now)

    assert entry.in_force
    assert (entry.subject_id, entry.purpose, entry.objected_at, entry.actor) == (
        "subj-de",
        "improve_use",
        now,
        ACTOR,
    )
    assert ledgers.objections("subj-de") == [entry]
    state = ledgers.subject_state("subj-de")
    assert state.objections == {"improve_use"}
    assert state.version == before + 1
    [event] = audit.events
    assert event.action == "ledger_change"
    assert (event.actor, event.subject_id, event.purpose) == (ACTOR, "subj-de", "improve_use")
    assert event.details["ledger"] == "objection"
    assert event.details["change"] == "placed"
    assert event.details["version"] == state.version


def test_withdrawal_closes_the_entry_and_keeps_it(
    ledgers: Ledgers, audit: MemoryAuditSink, now: datetime
) -> None:
    placed = ledgers.object("subj-de", "provide.credit_check", ACTOR, now=now)
    later = now + timedelta(days=3)
    withdrawn = ledgers.withdraw_objection("subj-de", "provide.credit_check", "subject", now=later)

    assert withdrawn.entry_id == placed.entry_id
    assert (withdrawn.withdrawn_at, withdrawn.withdrawn_by) == (later, "subject")
    assert ledgers.objections("subj-de") == []
    assert ledgers.objections("subj-de", include_withdrawn=True) == [withdrawn]
    state = ledgers.subject_state("subj-de")
    assert state.objections == frozenset()
    assert state.version == 2
    assert [e.details["change"] for e in audit.events] == ["placed", "withdrawn"]


def test_objecting_again_after_withdrawal_adds_a_new_entry(ledgers: Ledgers, now: datetime) -> None:
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    again = ledgers.object("subj-de", "improve_use", ACTOR, now=now + timedelta(hours=1))
    history = ledgers.objections("subj-de", include_withdrawn=True)
    assert [o.in_force for o in history] == [False, True]
    assert history[-1] == again


def test_other_subjects_are_untouched(ledgers: Ledgers, now: datetime) -> None:
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    other = ledgers.subject_state("subj-gb")
    assert other.objections == frozenset()
    assert other.version == 0


@pytest.mark.parametrize(
    ("purpose", "found"),
    [("provide", "is not objectable"), ("marketing", "is not declared in the policy")],
)
def test_a_purpose_that_is_not_objectable_is_refused_naming_the_objectable_ones(
    ledgers: Ledgers, snapshot: Callable[[], Any], purpose: str, found: str
) -> None:
    before = snapshot()
    with pytest.raises(NotObjectable) as raised:
        ledgers.object("subj-de", purpose, ACTOR)
    message = str(raised.value)
    assert found in message
    assert "improve_service, improve_use, provide.credit_check" in message
    assert raised.value.http_status == 422
    assert snapshot() == before


def test_unknown_subject_is_refused_with_nothing_written(
    ledgers: Ledgers, snapshot: Callable[[], Any]
) -> None:
    before = snapshot()
    with pytest.raises(UnknownSubject):
        ledgers.object("subj-nobody", "improve_use", ACTOR)
    with pytest.raises(UnknownSubject):
        ledgers.withdraw_objection("subj-nobody", "improve_use", ACTOR)
    with pytest.raises(UnknownSubject):
        ledgers.objections("subj-nobody")
    assert snapshot() == before


def test_double_objection_and_double_withdrawal_are_refused(
    ledgers: Ledgers, snapshot: Callable[[], Any], now: datetime
) -> None:
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    before = snapshot()
    with pytest.raises(AlreadyInForce, match="already objects to purpose 'improve_use'"):
        ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    assert snapshot() == before

    ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    before = snapshot()
    with pytest.raises(NotInForce, match="no objection to purpose 'improve_use' in force"):
        ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    assert snapshot() == before


def test_bad_actor_and_naive_time_are_refused(
    ledgers: Ledgers, snapshot: Callable[[], Any]
) -> None:
    before = snapshot()
    with pytest.raises(InvalidLedgerInput, match="actor must be an id"):
        ledgers.object("subj-de", "improve_use", "")
    with pytest.raises(InvalidLedgerInput, match="naive time"):
        ledgers.object("subj-de", "improve_use", ACTOR, now=datetime(2025, 1, 1))
    assert snapshot() == before
