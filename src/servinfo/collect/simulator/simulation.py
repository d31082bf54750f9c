"""``simulate``: the whole stream of objects, in the order ``servinfo ingest`` needs them.

Organizations come first (partners before their customers), then the subjects
that exist when the simulated days begin, then the records in time order, with
the ``subject`` objects of sign-ups and moves at their moment. Everything is
drawn from generators derived from the seed: the same arguments give the same
objects, byte for byte once written; the wall clock is never read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from servinfo.collect.simulator.events import child_rng, simulate_days, subject_object
from servinfo.collect.simulator.fields import RecordShaper
from servinfo.collect.simulator.world import build_world
from servinfo.errors import ServinfoError
from servinfo.policy.model import Policy

#: The default last simulated day is this date plus a few days drawn from the seed.
_UNTIL_BASE = dt.date(2026, 11, 2)


class SimulationError(ServinfoError):
    """The simulation was asked for something it cannot produce."""

    code = "simulation_error"


def default_until(seed: int) -> dt.date:
    """The last simulated day when none is given: fixed by the seed, never the wall clock."""
    return _UNTIL_BASE + dt.timedelta(days=child_rng(seed, "until").randrange(28))


def simulate(
    policy: Policy,
    customers: int,
    days: int,
    seed: int,
    until: dt.date | None = None,
    intensity: float = 1.0,
    shaper: RecordShaper | None = None,
) -> Iterator[dict[str, Any]]:
    """Organizations, subjects and records of ``customers`` organizations over ``days`` days.

    The days end with ``until`` (default: :func:`default_until`). ``intensity``
    scales how much happens per organization and day (1.0: roughly 50 to 200
    records per customer-day). Pass a ``shaper`` to learn what the policy made
    the simulator leave out or fill in.
    """
    # Checked now, not at the first object: a generator would check too late.
    if customers < 1:
        raise SimulationError(f"--customers must be at least 1, got {customers}")
    if days < 1:
        raise SimulationError(f"--days must be at least 1, got {days}")
    if not intensity > 0:
        raise SimulationError(f"--intensity must be greater than 0, got {intensity}")
    last = until or default_until(seed)
    start = dt.datetime.combine(last - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    return _objects(policy, customers, days, seed, start, intensity, shaper or RecordShaper(policy))


def _objects(
    policy: Policy,
    customers: int,
    days: int,
    seed: int,
    start: dt.datetime,
    intensity: float,
    shaper: RecordShaper,
) -> Iterator[dict[str, Any]]:
    world = build_world(policy, customers, child_rng(seed, "world"), start, days)
    for org in world.orgs:
        yield {
            "type": "organization",
            "id": org.id,
            "name": org.name,
            "home_region": org.home_region,
            "parent": org.parent,
        }
    for person in world.people:
        if person.joined is None:
            yield subject_object(person)
    yield from simulate_days(world, shaper, seed, start, days, intensity)


def dumps(obj: dict[str, Any]) -> str:
    """One NDJSON line, without its newline: compact, UTF-8 text, keys in insertion order."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_ndjson(objects: Iterable[dict[str, Any]], fp: TextIO) -> int:
    """Write one object per line; return how many were written."""
    written = 0
    for obj in objects:
        fp.write(dumps(obj) + "\n")
        written += 1
    return written


@dataclass
class Tally:
    """How many objects of each type, and records of each kind, went by."""

    types: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    def count(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind = obj.get("type", "record")
        self.types[kind] += 1
        if kind == "record":
            self.kinds[str(obj.get("kind"))] += 1
        return obj

    def through(self, objects: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for obj in objects:
            yield self.count(obj)

    def summary(self) -> str:
        types = ", ".join(f"{n} {t}s" for t, n in sorted(self.types.items()))
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        return f"{types} ({kinds})" if kinds else types
