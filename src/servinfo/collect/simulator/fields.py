"""Records the policy accepts, whatever the generators meant.

The generators say what happened (a failed login, an invoice); :class:`RecordShaper`
turns that into a record of the policy: the kind must exist and some service
must report it, enum values come from the policy, undeclared fields are left
out, required fields the generators do not know are filled with a value of the
declared type, and a value of the wrong type is replaced. So a changed policy
changes the data, and never makes it invalid.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servinfo.policy.model import FieldSpec, Kind, Policy

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


def rfc3339(at: dt.datetime) -> str:
    """``2026-11-20T08:15:02Z``: seconds, UTC."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: float) -> str:
    """An amount of money as a decimal string with two places (exact, unlike a float)."""
    return f"{amount:.2f}"


def conforms(spec: FieldSpec, value: Any) -> bool:
    """Whether ``value`` is a value of the field's declared type."""
    kind = spec.type
    if kind in ("string", "text"):
        ok = isinstance(value, str)
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "enum":
        ok = isinstance(value, str) and value in (spec.values or [])
    elif kind == "list":
        ok = isinstance(value, list)
    elif kind == "object":
        ok = isinstance(value, dict)
    elif not isinstance(value, str):
        ok = False
    elif kind in ("date", "datetime", "ip_address"):
        ok = _parses(kind, value)
    else:
        pattern = {
            "email": _EMAIL,
            "phone": _PHONE,
            "country": _COUNTRY,
            "currency": _CURRENCY,
            "money": _MONEY,
        }[kind]
        ok = pattern.match(value) is not None
    if ok and isinstance(value, str) and spec.max_length is not None:
        ok = len(value) <= spec.max_length
    return ok


def _parses(kind: str, value: str) -> bool:
    try:
        if kind == "date":
            dt.date.fromisoformat(value)
        elif kind == "datetime":
            return dt.datetime.fromisoformat(value).tzinfo is not None
        else:
            ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def generic_value(rng: random.Random, name: str, spec: FieldSpec, at: dt.datetime) -> Any:
    """A plausible value of the declared type, for a field the generators do not know."""
    kind = spec.type
    simple: dict[str, Callable[[], Any]] = {
        "integer": lambda: rng.randrange(100),
        "number": lambda: round(rng.uniform(0, 100), 2),
        "boolean": lambda: rng.random() < 0.5,
        "datetime": lambda: rfc3339(at),
        "date": lambda: at.date().isoformat(),
        "email": lambda: f"user{rng.randrange(10_000)}@example.com",
        "phone": lambda: f"+44207946{rng.randrange(1000):04d}",
        "ip_address": lambda: f"192.0.2.{rng.randrange(1, 255)}",
        "country": lambda: "DE",
        "currency": lambda: "EUR",
        "money": lambda: money(rng.uniform(1, 500)),
        "list": list,
        "object": dict,
    }
    if kind in simple:
        return simple[kind]()
    if kind == "enum":
        return rng.choice(spec.values or [""])
    if kind == "text":
        return f"No further details recorded for {name.replace('_', ' ')}."
    value = f"{name}-{rng.getrandbits(24):06x}"
    return value[: spec.max_length] if spec.max_length else value


@dataclass
class RecordShaper:
    """Builds valid records of ``policy``; counts what it had to leave out or fill in."""

    policy: Policy
    #: Records not produced because the policy has no such kind or no service reports it.
    skipped: Counter[str] = field(default_factory=Counter)
    #: Fields left out because the kind does not declare them, by ``kind.field``.
    dropped: Counter[str] = field(default_factory=Counter)
    #: Fields replaced or filled with a generic value, by ``kind.field``.
    filled: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._kinds: dict[str, Kind] = self.policy.kinds()
        self._sources: dict[str, list[str]] = {}
        for service_id, service in self.policy.services.items():
            for kind_id in service.kinds:
                self._sources.setdefault(kind_id, []).append(service_id)

    def has(self, kind: str) -> bool:
        return kind in self._kinds and bool(self._sources.get(kind))

    def sources(self, kind: str) -> list[str]:
        return list(self._sources.get(kind, []))

    def values(self, kind: str, name: str) -> list[str]:
        """The enum values the policy declares for a field (empty for other fields)."""
        spec = self._kinds[kind].fields.get(name) if kind in self._kinds else None
        return list(spec.values or []) if spec is not None and spec.type == "enum" else []

    def enum(self, rng: random.Random, kind: str, name: str, wanted: str) -> str | None:
        """``wanted`` when the policy allows it, else one of the allowed values (None: none)."""
        allowed = self.values(kind, name)
        if wanted in allowed:
            return wanted
        return rng.choice(allowed) if allowed else None

    def record(
        self,
        rng: random.Random,
        subject: str,
        kind: str,
        at: dt.datetime,
        fields: dict[str, Any],
        source: str | None = None,
    ) -> dict[str, Any] | None:
        """The record object, or None when the policy has no place for it."""
        if not self.has(kind):
            self.skipped[kind] += 1
            return None
        sources = self._sources[kind]
        declared = self._kinds[kind].fields
        shaped: dict[str, Any] = {}
        for name, value in fields.items():
            spec = declared.get(name)
            if spec is None:
                self.dropped[f"{kind}.{name}"] += 1
                continue
            if value is None:
                continue
            if isinstance(value, str) and spec.max_length and spec.type in ("string", "text"):
                value = value[: spec.max_length]
            if not conforms(spec, value):
                self.filled[f"{kind}.{name}"] += 1
                value = generic_value(rng, name, spec, at)
            shaped[name] = value
        for name, spec in declared.items():
            if spec.required and name not in shaped:
                self.filled[f"{kind}.{name}"] += 1
                shaped[name] = generic_value(rng, name, spec, at)
        return {
            "type": "record",
            "subject": subject,
            "kind": kind,
            "source": source if source in sources else sources[0],
            "collected_at": rfc3339(at),
            "fields": shaped,
        }


@dataclass
class Timeline:
    """One simulated day's objects, put in time order when the day is done.

    Times are clamped into the day, and objects at the same second keep the
    order in which they were added, so a sequence (challenge, then success)
    never comes out reversed.
    """

    shaper: RecordShaper
    start: dt.datetime
    end: dt.datetime
    _entries: list[tuple[dt.datetime, int, dict[str, Any]]] = field(default_factory=list)

    def clamp(self, at: dt.datetime) -> dt.datetime:
        return min(max(at, self.start), self.end - dt.timedelta(seconds=1))

    def add(self, at: dt.datetime, obj: dict[str, Any]) -> None:
        self._entries.append((self.clamp(at), len(self._entries), obj))

    def record(
        self,
        rng: random.Random,
        subject: str,
        kind: str,
        at: dt.datetime,
        fields: dict[str, Any],
        source: str | None = None,
    ) -> None:
        obj = self.shaper.record(rng, subject, kind, self.clamp(at), fields, source)
        if obj is not None:
            self.add(at, obj)

    def ordered(self) -> list[dict[str, Any]]:
        return [obj for _at, _seq, obj in sorted(self._entries, key=lambda e: (e[0], e[1]))]
