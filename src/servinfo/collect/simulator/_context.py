"""What every generator is handed: the day being simulated, the world and the run's state."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from servinfo.collect.simulator import _geo
from servinfo.collect.simulator.fields import RecordShaper, Timeline
from servinfo.collect.simulator.world import Org, Person, Resource, World


@dataclass
class Scenarios:
    """Notable events every run contains, so that a short demo shows each of them once.

    Keys are day indexes; random events of the same sorts happen on top.
    """

    stuffing: dict[int, str] = field(default_factory=dict)  # day -> org id
    travel: dict[int, str] = field(default_factory=dict)  # day -> person id
    moves: dict[int, str] = field(default_factory=dict)  # day -> person id
    failed_invoice: dict[int, str] = field(default_factory=dict)  # day -> org id
    declined_credit: dict[int, str] = field(default_factory=dict)  # day -> org id


@dataclass
class Retry:
    """A failed payment to try again."""

    invoice_id: str
    amount: str
    method: str
    day: int
    attempts: int


@dataclass
class Run:
    """State that lives across the simulated days."""

    world: World
    shaper: RecordShaper
    intensity: float
    scenarios: Scenarios
    retries: dict[str, Retry] = field(default_factory=dict)  # org id -> pending retry
    counters: dict[str, int] = field(default_factory=dict)

    def next_number(self, name: str, first: int = 1000) -> int:
        self.counters[name] = self.counters.get(name, first) + 1
        return self.counters[name]

    def org(self, org_id: str) -> Org:
        return next(o for o in self.world.orgs if o.id == org_id)

    def person(self, person_id: str) -> Person:
        return next(p for p in self.world.people if p.id == person_id)


@dataclass
class Day:
    index: int
    start: dt.datetime
    timeline: Timeline
    run: Run

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=1)

    @property
    def weekend(self) -> bool:
        return self.start.weekday() >= 5

    def active(self, person: Person) -> bool:
        """Whether the person has signed up by the end of this day."""
        return person.joined is None or person.joined < self.end

    def since(self, person: Person) -> dt.datetime:
        """The first moment of this day at which the person exists."""
        if person.joined is None or person.joined < self.start:
            return self.start
        return person.joined + dt.timedelta(seconds=30)

    def members(self, org: Org) -> list[Person]:
        return [p for p in self.run.world.members(org.id) if self.active(p)]

    def resources(self, org: Org) -> list[Resource]:
        return [
            r
            for r in self.run.world.resources
            if r.org_id == org.id and (r.created is None or r.created < self.end)
        ]

    def count(self, rng: random.Random, rate: float) -> int:
        """How many times something with ``rate`` expected occurrences a day happens today."""
        expected = rate * self.run.intensity
        whole = int(expected)
        return whole + (1 if rng.random() < expected - whole else 0)

    def chance(self, rng: random.Random, probability: float) -> bool:
        return rng.random() < min(1.0, probability * self.run.intensity)

    def local(
        self, rng: random.Random, person: Person, first_hour: float = 8, last_hour: float = 19
    ) -> dt.datetime:
        """A time in the person's office hours, as UTC, within this day and after sign-up.

        Office hours that fall outside this UTC day wrap round into it.
        """
        local_minute = rng.uniform(first_hour * 60, last_hour * 60)
        minute = (local_minute - _geo.place(person.jurisdiction).utc_offset) % 1440
        at = self.start + dt.timedelta(minutes=minute)
        since = self.since(person)
        if at < since:
            at = since + dt.timedelta(
                seconds=rng.randrange(max(1, int((self.end - since).total_seconds() * 0.9)))
            )
        return at.replace(microsecond=0)

    def anytime(self, rng: random.Random, after: dt.datetime | None = None) -> dt.datetime:
        begin = after if after is not None and after > self.start else self.start
        span = max(1, int((self.end - begin).total_seconds()) - 1)
        return begin + dt.timedelta(seconds=rng.randrange(span))
