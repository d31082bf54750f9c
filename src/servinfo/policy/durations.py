"""Durations as the policy writes them: ``30 days``, ``10 business days``, ``1 month``.

Deadlines and retention periods stay in the units the law uses (a GDPR month is a
calendar month, not 30 days), so a duration is kept as an amount and a unit and
added to a date by :func:`add_duration`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Unit = Literal["days", "business_days", "weeks", "months", "years"]

_PATTERN = re.compile(
    r"^\s*(?P<amount>\d{1,4})\s+(?P<unit>business\s+days?|days?|weeks?|months?|years?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        unit = self.unit.replace("_", " ")
        return f"{self.amount} {unit[:-1] if self.amount == 1 else unit}"


class DurationSyntaxError(ValueError):
    """The text is not ``<number> <unit>``."""


def parse_duration(text: str) -> Duration:
    match = _PATTERN.match(text)
    if match is None:
        raise DurationSyntaxError(
            f"cannot parse duration {text!r}: expected '<number> <unit>' with unit "
            "days, business days, weeks, months or years"
        )
    unit_text = re.sub(r"\s+", "_", match["unit"].lower())
    if not unit_text.endswith("s"):
        unit_text += "s"
    unit: Unit = unit_text  # type: ignore[assignment]  # the pattern admits only these
    return Duration(int(match["amount"]), unit)


def add_duration(start: dt.date, duration: Duration) -> dt.date:
    """The date ``duration`` after ``start``; business days skip Saturdays and Sundays."""
    if duration.unit == "days":
        return start + dt.timedelta(days=duration.amount)
    if duration.unit == "weeks":
        return start + dt.timedelta(weeks=duration.amount)
    if duration.unit == "business_days":
        day, left = start, duration.amount
        while left:
            day += dt.timedelta(days=1)
            if day.weekday() < 5:
                left -= 1
        return day
    months = duration.amount * (12 if duration.unit == "years" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    # A month later than 31 January is the last day of February (the GDPR reading).
    day_of_month = min(start.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day_of_month)
