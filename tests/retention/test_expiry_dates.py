"""Records of each kind expire on the right date, under each regime and start event.

Every record goes in through ingest; the sweep runs with the clock passed in:
on the last day of retention the record is still there and readable, the day
after it is neither (and before the sweep has run it is already unreadable).
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.retention.world import HOME, SUBJECTS, RetentionWorld

from servinfo.access.errors import NoSuchRecord
from servinfo.retention.schedule import PROVISIONAL

CLOSED = dt.datetime(2026, 6, 10, 17, 45, tzinfo=dt.UTC)

#: (subject, kind, last day kept) for records collected on 2 March 2026.
COLLECTED_CASES = [
    ("subj-de", "telemetry.auth_event", dt.date(2027, 3, 2)),
    ("subj-de", "telemetry.status", dt.date(2026, 5, 31)),
    ("subj-de", "payments.credit_check", dt.date(2027, 3, 2)),
    ("subj-de", "communications.feedback", dt.date(2028, 3, 2)),
    ("subj-de", "payments.charge", dt.date(2036, 3, 2)),  # GDPR: 10 years
    ("subj-ca", "payments.charge", dt.date(2033, 3, 2)),  # CCPA: 7 years
    ("subj-gb", "payments.charge", dt.date(2032, 3, 2)),  # UK GDPR: 6 years
    ("subj-sg", "payments.charge", dt.date(2031, 3, 2)),  # PDPA: 5 years
    ("subj-ch", "payments.charge", dt.date(2036, 3, 2)),  # FADP: 10 years
]
#: (subject, kind, last day kept) for an account closed on 10 June 2026.
CLOSED_CASES = [
    ("subj-de", "account.profile", dt.date(2026, 7, 10)),  # 30 days
    ("subj-de", "settings.feature", dt.date(2026, 9, 8)),  # 90 days
    ("subj-de", "account.agreement", dt.date(2036, 6, 10)),  # GDPR: the kind's 10 years
    ("subj-ca", "account.agreement", dt.date(2033, 6, 10)),  # CCPA: 7 years
    ("subj-gb", "account.agreement", dt.date(2032, 6, 10)),  # UK GDPR: 6 years
    ("subj-sg", "account.agreement", dt.date(2031, 6, 10)),  # PDPA: 5 years
]


def _region(subject: str) -> str:
    return HOME[SUBJECTS[subject][0]]


def _expires_on_its_day(world: RetentionWorld, subject: str, record_id: str, last: dt.date) -> None:
    region, after = _region(subject), last + dt.timedelta(days=1)
    assert record_id in world.readable(subject, last)
    # Past its end the read path no longer serves it, before any sweep.
    assert record_id not in world.readable(subject, after)
    world.sweep(last, region)
    assert world.exists(record_id, subject)
    report = world.sweep(after, region)
    assert not world.exists(record_id, subject)
    assert report.deleted_total >= 1


@pytest.mark.parametrize(("subject", "kind", "last"), COLLECTED_CASES)
def test_a_record_counted_from_collection_expires_on_its_day(
    world: RetentionWorld, subject: str, kind: str, last: dt.date
) -> None:
    record_id = world.ingest(subject, kind)
    assert world.retain_until(record_id, subject) == last
    _expires_on_its_day(world, subject, record_id, last)


@pytest.mark.parametrize(("subject", "kind", "last"), CLOSED_CASES)
def test_a_record_counted_from_closure_expires_on_its_day(
    world: RetentionWorld, subject: str, kind: str, last: dt.date
) -> None:
    record_id = world.ingest(subject, kind)
    assert world.retain_until(record_id, subject) == PROVISIONAL
    outcome = world.report_subject(subject, closed_at=CLOSED.isoformat())
    assert outcome.status == "closed"
    # The closure is settled by the next sweep of the subject's region (or at once
    # when an operator closes the account: see test_closure).
    world.sweep(CLOSED.date(), _region(subject))
    assert world.retain_until(record_id, subject) == last
    _expires_on_its_day(world, subject, record_id, last)


def test_a_record_of_a_closed_account_ingested_later_counts_from_the_closure(
    world: RetentionWorld,
) -> None:
    world.report_subject("subj-de", closed_at=CLOSED.isoformat())
    record_id = world.ingest("subj-de", "account.profile", CLOSED + dt.timedelta(days=2))
    assert world.retain_until(record_id, "subj-de") == dt.date(2026, 7, 10)


def test_a_record_past_its_end_is_not_served_by_id_either(world: RetentionWorld) -> None:
    record_id = world.ingest("subj-de", "telemetry.status")  # last day: 31 May 2026
    last = dt.date(2026, 5, 31)
    found = world.reads(last).read_record(world.reader, "legal", record_id)
    assert [r.record_id for r in found.records] == [record_id]
    with pytest.raises(NoSuchRecord):
        world.reads(last + dt.timedelta(days=1)).read_record(world.reader, "legal", record_id)
