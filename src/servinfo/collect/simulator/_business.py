"""Support conversations, and the money: invoices, payments, failures and credit checks."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from servinfo.collect.simulator import _names, _platform
from servinfo.collect.simulator._context import Day, Retry
from servinfo.collect.simulator._text import free_text
from servinfo.collect.simulator.fields import money
from servinfo.collect.simulator.world import Org, Person
from servinfo.policy.model import Policy

TICKET = "communications.support_ticket"
CHARGE = "payments.charge"
PAYMENT = "payments.payment"
ISSUE = "payments.billing_issue"
CREDIT = "payments.credit_check"

SUBJECT_LINES: tuple[str, ...] = (
    "Instance unreachable after maintenance", "API returns 503", "Raise database IOPS limit",
    "Cannot attach volume", "Question about egress charges", "SSO login loop",
)  # fmt: skip
TOPICS: tuple[str, ...] = ("console", "billing", "documentation", "performance", "support")
FAILURES: tuple[str, ...] = (
    "card_declined", "insufficient_funds", "expired_card", "authentication_required",
    "bank_account_closed",
)  # fmt: skip
CREDIT_REASONS: tuple[str, ...] = (
    "payment_history", "company_age", "registered_capital", "recent_defaults", "sector_risk",
)  # fmt: skip
CREDIT_PURPOSE = "provide.credit_check"
CARD_BRANDS: tuple[str, ...] = ("visa", "mastercard", "amex")
_PLAN_BASE = {"starter": 40.0, "business": 400.0, "enterprise": 3000.0}


def simulate(day: Day, rng: random.Random, org: Org) -> None:
    members = day.members(org)
    if not members:
        return
    if day.index == 0:
        _billing_details(day, rng, org, day.start + dt.timedelta(minutes=50))
    if day.chance(rng, 0.12):
        _ticket(day, rng, org, rng.choice(members))
    if day.chance(rng, 0.06):
        person = rng.choice(members)
        fields: dict[str, Any] = {
            "channel": _channel(day, rng, org, "communications.question", "console"),
            "subject_line": rng.choice(SUBJECT_LINES),
            "message": free_text(rng, "communications.question", "message"),
        }
        day.timeline.record(
            rng, person.id, "communications.question", day.local(rng, person), fields
        )
    if day.chance(rng, 0.08):
        person = rng.choice(members)
        fields = {
            "channel": _channel(day, rng, org, "communications.feedback", "survey"),
            "rating": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)),
            "topic": rng.choice(TOPICS),
            "message": free_text(rng, "communications.feedback", "message"),
        }
        day.timeline.record(
            rng, person.id, "communications.feedback", day.local(rng, person), fields
        )
    _money(day, rng, org)


def _channel(day: Day, rng: random.Random, org: Org, kind: str, usual: str) -> str | None:
    """A partner's customers often talk to the partner, who passes it on."""
    wanted = "partner" if org.parent is not None and rng.random() < 0.5 else usual
    if rng.random() < 0.3:
        wanted = "email"
    return day.run.shaper.enum(rng, kind, "channel", wanted)


def _ticket(day: Day, rng: random.Random, org: Org, person: Person) -> None:
    """A ticket: the customer's request, then replies until it is solved or waits."""
    shaper = day.run.shaper
    ticket_id = f"TCK-{day.run.next_number('ticket', 210_000)}"
    at = day.local(rng, person)
    resources = day.resources(org)
    resource = rng.choice(resources).id if resources and rng.random() < 0.6 else None
    subject_line = rng.choice(SUBJECT_LINES)
    severity = shaper.enum(rng, TICKET, "severity", rng.choice(("low", "normal", "normal", "high")))
    if rng.random() < 0.05:
        severity = shaper.enum(rng, TICKET, "severity", "critical")
    for status in (
        "open",
        *rng.choice((("pending",), ("pending", "solved"), ("solved", "closed"))),
    ):
        fields = {
            "ticket_id": ticket_id,
            "severity": severity,
            "subject_line": subject_line,
            "message": free_text(rng, TICKET, "message"),
            "status": shaper.enum(rng, TICKET, "status", status),
            "resource_id": resource,
        }
        day.timeline.record(rng, person.id, TICKET, at, fields, "support")
        if status == "open" and rng.random() < 0.2:  # the customer attached a crash dump
            _platform.crash(day, rng, org, "support")
        at += dt.timedelta(minutes=rng.randrange(20, 300))


def _billing_contact(day: Day, org: Org) -> Person:
    members = day.run.world.members(org.id)
    return next((p for p in members if p.role == "billing"), members[0])


def _billing_details(day: Day, rng: random.Random, org: Org, at: dt.datetime) -> None:
    contact = _billing_contact(day, org)
    fields = {
        "billing_name": org.name,
        "billing_email": f"billing@{org.domain}",
        "billing_address": f"{rng.choice(_names.STREETS)} {rng.randrange(1, 120)}, {org.country}",
        "vat_id": f"{org.country}{rng.randrange(10**8, 10**9)}",
        "tax_country": org.country,
    }
    day.timeline.record(rng, contact.id, "payments.billing_details", at, fields, "platform")


def _money(day: Day, rng: random.Random, org: Org) -> None:
    run = day.run
    contact = _billing_contact(day, org)
    if not day.active(contact):
        return
    today = day.start.date()
    forced_failure = run.scenarios.failed_invoice.get(day.index) == org.id
    retry = run.retries.get(org.id)
    if retry is not None and retry.day <= day.index:
        _retry(day, rng, org, contact, retry)
    elif today.day == org.billing_day or forced_failure:
        _invoice(day, rng, org, contact, forced_failure)
    elif day.chance(rng, 0.02):  # a prepaid top-up by card
        _payment(day, rng, org, contact, day.local(rng, contact), None, _amount(rng, org) / 4,
                 "card", failed=rng.random() < 0.1)  # fmt: skip
    if run.scenarios.declined_credit.get(day.index) == org.id or day.chance(rng, 0.02):
        _credit_check(
            day, rng, org, contact, declined=run.scenarios.declined_credit.get(day.index) == org.id
        )
    if day.chance(rng, 0.01):
        _billing_details(day, rng, org, day.local(rng, contact))


def _amount(rng: random.Random, org: Org) -> float:
    return _PLAN_BASE[org.plan] * rng.lognormvariate(0, 0.35)


def _method(rng: random.Random, org: Org) -> str:
    if org.plan == "enterprise":
        return rng.choice(("invoice", "bank_transfer"))
    if org.currency == "EUR":
        return rng.choice(("sepa_debit", "card"))
    return "card"


def _invoice(day: Day, rng: random.Random, org: Org, contact: Person, fail: bool) -> None:
    """The monthly invoice for last month, and the payment collected for it."""
    shaper = day.run.shaper
    today = day.start.date()
    end = today.replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    invoice_id = f"INV-{today:%Y%m}-{day.run.next_number('invoice', 5000)}"
    amount = _amount(rng, org)
    at = day.start + dt.timedelta(hours=2, minutes=rng.randrange(60))
    fields = {
        "invoice_id": invoice_id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "amount": money(amount),
        "currency": org.currency,
        "status": shaper.enum(rng, CHARGE, "status", "issued"),
    }
    day.timeline.record(rng, contact.id, CHARGE, at, fields, "platform")
    method = _method(rng, org)
    failed = fail or rng.random() < 0.12
    _payment(day, rng, org, contact, at + dt.timedelta(hours=rng.randrange(1, 6)), invoice_id,
             amount, method, failed)  # fmt: skip
    if failed:
        day.run.retries[org.id] = Retry(invoice_id, money(amount), method, day.index + 2, 1)


def _payment(
    day: Day,
    rng: random.Random,
    org: Org,
    contact: Person,
    at: dt.datetime,
    invoice_id: str | None,
    amount: float,
    method: str,
    failed: bool,
) -> None:
    shaper = day.run.shaper
    card = method == "card"
    reason = rng.choice(FAILURES if card else ("bank_account_closed", "insufficient_funds"))
    fields = {
        "payment_id": f"PAY-{day.run.next_number('payment', 80_000)}",
        "invoice_id": invoice_id,
        "amount": money(amount),
        "currency": org.currency,
        "method": shaper.enum(rng, PAYMENT, "method", method),
        "card_brand": rng.choice(CARD_BRANDS) if card else None,
        "card_last4": f"{rng.randrange(10_000):04d}" if card else None,
        "status": shaper.enum(rng, PAYMENT, "status", "failed" if failed else "succeeded"),
        "failure_reason": reason if failed else None,
    }
    day.timeline.record(rng, contact.id, PAYMENT, at, fields, "platform")
    if failed and invoice_id is not None:
        issue = {
            "issue_id": f"BIL-{day.run.next_number('issue', 3000)}",
            "invoice_id": invoice_id,
            "description": free_text(rng, ISSUE, "description"),
            "status": shaper.enum(rng, ISSUE, "status", "open"),
        }
        day.timeline.record(rng, contact.id, ISSUE, at + dt.timedelta(minutes=2), issue, "platform")


def _retry(day: Day, rng: random.Random, org: Org, contact: Person, retry: Retry) -> None:
    shaper = day.run.shaper
    at = day.start + dt.timedelta(hours=3, minutes=rng.randrange(60))
    failed = rng.random() < 0.3
    _payment(
        day, rng, org, contact, at, retry.invoice_id, float(retry.amount), retry.method, failed
    )
    status = "overdue" if failed else "paid"
    if failed and retry.attempts >= 2:
        status = "overdue"
        del day.run.retries[org.id]
    elif failed:
        retry.attempts += 1
        retry.day = day.index + 3
    else:
        del day.run.retries[org.id]
    fields = {
        "invoice_id": retry.invoice_id,
        "amount": retry.amount,
        "currency": org.currency,
        "status": shaper.enum(rng, CHARGE, "status", status),
    }
    day.timeline.record(rng, contact.id, CHARGE, at + dt.timedelta(minutes=5), fields, "platform")


def credit_agencies(policy: Policy, region: str) -> list[str]:
    """Processors the policy registers for pre-credit checks on data of ``region``."""
    return [
        processor.name
        for processor in policy.processors.values()
        if CREDIT_PURPOSE in processor.purposes and region in processor.regions
    ]


def _credit_check(day: Day, rng: random.Random, org: Org, contact: Person, declined: bool) -> None:
    """An automated pre-credit check, by a credit agency the policy registers for the region."""
    policy = day.run.shaper.policy
    agencies = credit_agencies(policy, org.home_region)
    if not agencies:
        return  # no registered agency may receive this organization's data
    score = rng.randrange(300, 540) if declined else rng.randrange(480, 850)
    decision = "approve" if score >= 650 else "review" if score >= 540 else "decline"
    fields = {
        "check_id": f"CRD-{day.run.next_number('credit', 7000)}",
        "provider": agencies[0],
        "score": score,
        "decision": day.run.shaper.enum(rng, CREDIT, "decision", decision),
        "reasons": rng.sample(CREDIT_REASONS, 1 + rng.randrange(3)),
    }
    day.timeline.record(rng, contact.id, CREDIT, day.local(rng, contact), fields, "platform")
