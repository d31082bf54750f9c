"""Deadlines per regime come from the policy, in the units the law uses."""

from __future__ import annotations

import datetime as dt

import pytest

from servinfo.policy import load_policy
from servinfo.policy.model import Policy
from servinfo.rights import InvalidRequest, schedule, terms_for


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def test_gdpr_one_month_from_31_january_ends_on_the_last_day_of_february(policy: Policy) -> None:
    terms = terms_for(policy, "gdpr", "access")
    assert (terms.label, terms.voluntary) == ("gdpr:access", False)
    assert schedule(terms.right, dt.date(2026, 1, 31)).due == dt.date(2026, 2, 28)
    assert schedule(terms.right, dt.date(2028, 1, 31)).due == dt.date(2028, 2, 29)


def test_gdpr_extension_is_two_more_months_notified_within_the_first(policy: Policy) -> None:
    dates = schedule(terms_for(policy, "gdpr", "erasure").right, dt.date(2026, 1, 15))
    assert dates.due == dt.date(2026, 2, 15)
    assert dates.extended_due == dt.date(2026, 4, 15)
    assert dates.extension_notice_by == dt.date(2026, 2, 15)
    assert dates.acknowledge_by is None


def test_uk_gdpr_has_the_same_deadlines(policy: Policy) -> None:
    dates = schedule(terms_for(policy, "uk_gdpr", "rectification").right, dt.date(2026, 3, 31))
    assert (dates.due, dates.extended_due) == (dt.date(2026, 4, 30), dt.date(2026, 6, 30))


def test_ccpa_45_days_extendable_by_45_and_receipt_within_10_business_days(
    policy: Policy,
) -> None:
    received = dt.date(2026, 5, 1)  # a Friday
    dates = schedule(terms_for(policy, "ccpa", "erasure").right, received)
    assert dates.due == dt.date(2026, 6, 15)
    assert dates.extended_due == dt.date(2026, 7, 30)
    assert dates.acknowledge_by == dt.date(2026, 5, 15)


def test_ccpa_opt_out_within_15_business_days(policy: Policy) -> None:
    terms = terms_for(policy, "ccpa", "opt-out")
    assert terms.label == "ccpa:opt_out"
    dates = schedule(terms.right, dt.date(2026, 5, 1))
    assert dates.due == dt.date(2026, 5, 22)
    assert dates.extended_due is None


def test_fadp_30_days_without_extension(policy: Policy) -> None:
    dates = schedule(terms_for(policy, "fadp", "access").right, dt.date(2026, 1, 31))
    assert dates.due == dt.date(2026, 3, 2)
    assert dates.extended_due is None
    assert dates.extension_notice_by is None


def test_a_right_the_regime_lacks_is_honoured_voluntarily(policy: Policy) -> None:
    restriction = terms_for(policy, "ccpa", "restriction")
    assert (restriction.label, restriction.voluntary) == ("gdpr:restriction", True)
    opt_out = terms_for(policy, "gdpr", "opt-out")
    assert (opt_out.label, opt_out.voluntary) == ("gdpr:withdraw_consent", True)


def test_unknown_type_names_the_known_ones(policy: Policy) -> None:
    with pytest.raises(InvalidRequest, match="expected one of: access, portability"):
        terms_for(policy, "gdpr", "forget-me")
