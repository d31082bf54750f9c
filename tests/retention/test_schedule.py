"""The end of retention, and the notice and ROPA showing the same periods the sweep enforces."""

from __future__ import annotations

import datetime as dt

import pytest

from servinfo.policy.loading import default_policy_text, load_policy_text
from servinfo.policy.model import Policy, Retention
from servinfo.policy.notice import render_notice
from servinfo.policy.ropa import ropa_records
from servinfo.retention.schedule import PROVISIONAL, collected_cutoffs, period_for, retention_end


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_text(default_policy_text())


def test_a_period_counted_from_closure_is_provisional_until_the_account_closes() -> None:
    rule = Retention(period="30 days", starts="account_closed", retention_class="standard")
    assert retention_end(rule, "gdpr", dt.date(2026, 1, 5), None) == PROVISIONAL
    # The closure's UTC date starts the period, whatever the collection date.
    closed = dt.datetime(2026, 6, 10, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert retention_end(rule, "gdpr", dt.date(2026, 1, 5), closed) == dt.date(2026, 7, 11)


def test_a_regime_s_period_overrides_the_kind_s() -> None:
    rule = Retention(
        period="10 years",
        starts="collected",
        retention_class="legal_obligation",
        by_regime={"uk_gdpr": "6 years"},
    )
    assert period_for(rule, "uk_gdpr") == "6 years"
    assert period_for(rule, "gdpr") == "10 years"
    # A calendar year from 29 February ends on 28 February.
    assert retention_end(rule, "uk_gdpr", dt.date(2028, 2, 29), None) == dt.date(2034, 2, 28)


def test_the_notice_and_the_ropa_show_the_periods_the_sweep_enforces(policy: Policy) -> None:
    notice = render_notice(policy, "md")
    limits = {limit.kind: limit for record in ropa_records(policy) for limit in record.erasure}
    for kind_id, kind in policy.kinds().items():
        rule = kind.retention
        limit = limits[kind_id]
        assert (limit.period, limit.starts) == (rule.period, rule.starts)
        for regime_id, regime in policy.regimes.items():
            enforced = period_for(rule, regime_id)
            assert dict(limit.by_regime).get(regime_id, limit.period) == enforced
            if enforced != rule.period:
                assert f"{regime.name}: {enforced}" in notice
        assert rule.period in notice


def test_the_cutoffs_leave_out_every_record_some_regime_still_keeps(policy: Policy) -> None:
    today = dt.date(2031, 3, 4)
    cutoffs = collected_cutoffs(policy, today)
    kinds = policy.kinds()
    assert set(cutoffs) == {k for k, kind in kinds.items() if kind.retention.starts == "collected"}
    for kind_id, cutoff in cutoffs.items():
        rule = kinds[kind_id].retention
        last_out, first_in = cutoff.date() - dt.timedelta(days=1), cutoff.date()
        ends = [retention_end(rule, regime, last_out, None) for regime in policy.regimes]
        assert max(ends) < today  # before the cutoff: past retention under every regime
        ends = [retention_end(rule, regime, first_in, None) for regime in policy.regimes]
        assert max(ends) >= today  # from the cutoff on: some regime still keeps it
