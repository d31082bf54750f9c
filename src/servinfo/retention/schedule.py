"""When a record's retention ends: the one computation ingest, closure and the sweep share.

The policy's :class:`~servinfo.policy.model.Retention` of a kind — ``period``,
``starts`` and ``by_regime`` — is what the notice's retention table and the
records of processing print, and the only input here: what the notice says is
what is enforced.

A record of a kind whose period starts at account closure is stored with the
provisional end :data:`PROVISIONAL` while the account is open: no sweep
deletes it and the read path serves it. Closing the account replaces it with
the closure date plus the period; reopening the account makes it provisional again.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache

from servinfo.policy.durations import Duration, add_duration, parse_duration
from servinfo.policy.model import Policy, Retention

__all__ = ["PROVISIONAL", "collected_cutoffs", "period_for", "retention_end"]

#: The stored end of a record whose retention has not started (an open account).
PROVISIONAL = dt.date(9999, 12, 31)


@cache
def _duration(text: str) -> Duration:
    return parse_duration(text)


def period_for(retention: Retention, regime: str) -> str:
    """The period the subject's regime sets for the kind (``by_regime``), else the kind's."""
    return retention.by_regime.get(regime, retention.period)


def retention_end(
    retention: Retention,
    regime: str,
    collected_on: dt.date,
    closed_at: dt.datetime | None,
) -> dt.date:
    """The last day a record is kept: start + period; :data:`PROVISIONAL` if not started."""
    if retention.starts == "account_closed":
        if closed_at is None:
            return PROVISIONAL
        start = closed_at.astimezone(dt.UTC).date()
    else:
        start = collected_on
    return _end(start, period_for(retention, regime))


@lru_cache(maxsize=4096)
def _end(start: dt.date, period: str) -> dt.date:
    # Ingest computes this for every record; records of a day share a handful of periods.
    return add_duration(start, _duration(period))


def collected_cutoffs(policy: Policy, today: dt.date) -> dict[str, dt.datetime]:
    """Per kind counted from collection: the UTC midnight before which every record of
    the kind is past its retention under every regime (the sweep's fast path).

    The cutoff is the first collection day whose longest end — over the kind's
    period and every regime's — is today or later; ends grow with the start
    day, so a binary search finds it.
    """
    cutoffs = {}
    for kind_id, kind in policy.kinds().items():
        rule = kind.retention
        if rule.starts != "collected":
            continue
        periods = {rule.period, *rule.by_regime.values()}

        def kept_today(day: dt.date, periods: set[str] = periods) -> bool:
            return max(_end(day, period) for period in periods) >= today

        low, high = today.toordinal() - 400 * 366, today.toordinal()
        while low < high:  # the first day that is kept today
            middle = (low + high) // 2
            if kept_today(dt.date.fromordinal(middle)):
                high = middle
            else:
                low = middle + 1
        cutoffs[kind_id] = dt.datetime.combine(dt.date.fromordinal(low), dt.time(), tzinfo=dt.UTC)
    return cutoffs
