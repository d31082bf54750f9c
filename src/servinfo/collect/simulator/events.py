"""The simulated days: what the identity service sees, and the attacks it has to see.

:func:`simulate_days` walks the days in order; for each organization and day it
draws from a random generator of its own (derived from the seed, the
organization and the day), so the output depends on the seed and nothing else.
The identity service reports sign-ups, profile changes, agreements, moves
(a later ``subject`` object with another jurisdiction) and authentication
events; :mod:`._platform` and :mod:`._business` add the other services' records.

Attacks are what a security analyst must find: credential-stuffing bursts (many
``login_failure`` events from many addresses within minutes) and impossible
travel (two successful logins from two continents minutes apart).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from servinfo.collect.simulator import _agents, _business, _geo, _platform
from servinfo.collect.simulator._context import Day, Run, Scenarios
from servinfo.collect.simulator.fields import RecordShaper, Timeline
from servinfo.collect.simulator.world import Org, Person, World
from servinfo.policy.model import Policy

AUTH = "telemetry.auth_event"
PROFILE = "account.profile"
AGREEMENT = "account.agreement"


def child_rng(seed: int, *stream: object) -> random.Random:
    """An independent generator for one stream (string seeds hash with SHA-512: stable)."""
    return random.Random(":".join(str(part) for part in (seed, *stream)))  # noqa: S311


def simulate_days(
    world: World,
    shaper: RecordShaper,
    seed: int,
    start: dt.datetime,
    days: int,
    intensity: float,
) -> Iterator[dict[str, Any]]:
    """Every record (and every later ``subject`` object) of the simulated days, in time order."""
    scenarios = _scenarios(shaper.policy, world, child_rng(seed, "scenarios"), days)
    run = Run(world, shaper, intensity, scenarios)
    for index in range(days):
        day_start = start + dt.timedelta(days=index)
        day = Day(index, day_start, Timeline(shaper, day_start, day_start + dt.timedelta(1)), run)
        for org in list(world.orgs):
            rng = child_rng(seed, "org", org.id, index)
            if index == 0:
                _snapshot(day, rng, org)
            _identity(day, rng, org)
            _logins(day, rng, org)
            _platform.simulate(day, rng, org)
            _business.simulate(day, rng, org)
        _attacks(day, child_rng(seed, "attacks", index))
        yield from day.timeline.ordered()


def _scenarios(policy: Policy, world: World, rng: random.Random, days: int) -> Scenarios:
    scenarios = Scenarios()
    orgs = [o for o in world.orgs if len(world.members(o.id)) >= 3] or world.orgs
    people = [p for p in world.people if p.joined is None and not p.automation]
    if not orgs or not people:
        return scenarios
    scenarios.stuffing[rng.randrange(days)] = rng.choice(orgs).id
    scenarios.travel[rng.randrange(days)] = rng.choice(people).id
    scenarios.failed_invoice[rng.randrange(days)] = rng.choice(world.orgs).id
    checked = [o for o in world.orgs if _business.credit_agencies(policy, o.home_region)]
    if checked:
        scenarios.declined_credit[rng.randrange(days)] = rng.choice(checked).id
    if days >= 2:
        scenarios.moves[1 + rng.randrange(days - 1)] = rng.choice(people).id
    return scenarios


def profile_fields(person: Person) -> dict[str, Any]:
    return {
        "username": person.username,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "email": person.email,
        "phone": person.phone,
        "job_title": person.job_title,
        "locale": _geo.place(person.jurisdiction).locale,
    }


def subject_object(person: Person) -> dict[str, Any]:
    return {
        "type": "subject",
        "id": person.id,
        "org": person.org_id,
        "jurisdiction": person.jurisdiction,
    }


def _snapshot(day: Day, rng: random.Random, org: Org) -> None:
    """The first day begins with the identity directory's sync of every existing member."""
    sync = day.start + dt.timedelta(minutes=5 + rng.randrange(30))
    for person in day.run.world.members(org.id):
        if person.joined is not None:
            continue
        sync += dt.timedelta(seconds=rng.randrange(1, 4))
        day.timeline.record(rng, person.id, PROFILE, sync, profile_fields(person), "identity")
        if person.role == "admin":
            signed = day.start.date() - dt.timedelta(days=30 + rng.randrange(900))
            _agreement(day, rng, org, person, sync, signed)


def _agreement(
    day: Day, rng: random.Random, org: Org, person: Person, at: dt.datetime, signed: dt.date
) -> None:
    kind = "PARTNER" if org.partner else "MSA"
    fields = {
        "agreement_id": f"{kind}-{signed.year}-{day.run.next_number('agreement', 4000)}",
        "signatory_name": f"{person.given_name} {person.family_name}",
        "signatory_role": person.job_title,
        "signed_on": signed.isoformat(),
    }
    day.timeline.record(rng, person.id, AGREEMENT, at, fields, "identity")


def _identity(day: Day, rng: random.Random, org: Org) -> None:
    timeline = day.timeline
    for person in day.run.world.members(org.id):
        if person.joined is not None and day.start <= person.joined < day.end:
            # A sign-up registers the subject, then its profile, then its first login.
            timeline.add(person.joined, subject_object(person))
            fields = profile_fields(person)
            timeline.record(rng, person.id, PROFILE, person.joined, fields, "identity")
            _session(day, rng, org, person, person.joined + dt.timedelta(seconds=40))
        elif day.active(person) and day.chance(rng, 0.012):
            change = rng.choice(("job_title", "phone", "family_name"))
            if change == "job_title":
                person.job_title = rng.choice(("Engineering Manager", "Principal Engineer", "CFO"))
            elif change == "phone":
                person.phone = _geo.phone_number(rng, person.jurisdiction)
            else:
                person.family_name = rng.choice(("Moreau-Weber", "Lindqvist", "Okafor", "Brennan"))
            at = day.local(rng, person)
            timeline.record(rng, person.id, PROFILE, at, profile_fields(person), "identity")
    moving = day.run.scenarios.moves.get(day.index)
    for person in day.members(org):
        if person.id == moving or (person.joined is None and day.chance(rng, 0.001)):
            _move(day, rng, org, person)
    admin = next(iter(day.members(org)), None)
    if admin is not None and day.chance(rng, 0.01):
        _agreement(day, rng, org, admin, day.local(rng, admin), day.start.date())


def _move(day: Day, rng: random.Random, org: Org, person: Person) -> None:
    """A relocation: a later ``subject`` object with the new jurisdiction, then new details."""
    options = [j for j, _ in _geo.members_distribution(org.country) if j != person.jurisdiction]
    if not options:
        options = [j for j in _geo.PLACES if j != person.jurisdiction]
    person.jurisdiction = rng.choice(options)
    person.phone = _geo.phone_number(rng, person.jurisdiction)
    continent = _geo.place(person.jurisdiction).continent
    person.home_ip = _geo.ipv4(rng, continent)
    person.mobile_ip = _geo.ipv6(rng, continent)
    at = day.local(rng, person, 9, 17)
    day.timeline.add(at, subject_object(person))
    fields = profile_fields(person)
    day.timeline.record(rng, person.id, PROFILE, at + dt.timedelta(seconds=5), fields, "identity")


def _auth(
    day: Day,
    rng: random.Random,
    person: Person,
    at: dt.datetime,
    event: str,
    method: str,
    ip: str,
    agent: str,
    country: str | None,
) -> None:
    shaper = day.run.shaper
    fields = {
        "event": shaper.enum(rng, AUTH, "event", event),
        "method": shaper.enum(rng, AUTH, "method", method),
        "ip_address": ip,
        "user_agent": agent,
        "country": country,
    }
    day.timeline.record(rng, person.id, AUTH, at, fields, "identity")


def _session(day: Day, rng: random.Random, org: Org, person: Person, at: dt.datetime) -> None:
    """One sign-in as the organization's settings require, token refreshes, maybe a logout."""
    security = day.run.world.security[org.id]
    ip = person.home_ip if rng.random() < 0.85 else person.mobile_ip
    country = _geo.country_of(person.jurisdiction)
    agent = person.user_agent

    def auth(event: str, method: str) -> None:
        _auth(day, rng, person, at, event, method, ip, agent, country)

    if person.automation:
        for _ in range(1 + rng.randrange(4)):
            auth("token_issued", "api_key")
            at += dt.timedelta(minutes=rng.randrange(20, 180))
        return
    if rng.random() < 0.07:  # a mistyped password
        auth("login_failure", "password")
        at += dt.timedelta(seconds=rng.randrange(5, 40))
    if security.sso_enabled:
        auth("login_success", "sso")
    elif security.mfa_enabled:
        auth("mfa_challenge", "mfa")
        at += dt.timedelta(seconds=rng.randrange(5, 50))
        auth("login_success", "mfa")
    else:
        auth("login_success", "password")
    for _ in range(rng.randrange(4)):
        at += dt.timedelta(minutes=rng.randrange(15, 70))
        auth("token_issued", "sso" if security.sso_enabled else "password")
    if rng.random() < 0.4:
        at += dt.timedelta(minutes=rng.randrange(5, 120))
        auth("logout", "sso" if security.sso_enabled else "password")


def _logins(day: Day, rng: random.Random, org: Org) -> None:
    traveller = day.run.scenarios.travel.get(day.index)
    for person in day.members(org):
        if person.joined is not None and day.start <= person.joined < day.end:
            continue  # signed in right after signing up
        if person.id == traveller or (not person.automation and day.chance(rng, 0.002)):
            _impossible_travel(day, rng, person)
        sessions = 1.2 if person.automation else 0.25 if day.weekend else 0.9
        for _ in range(day.count(rng, sessions)):
            _session(day, rng, org, person, day.local(rng, person, 7, 18))


def _impossible_travel(day: Day, rng: random.Random, person: Person) -> None:
    """Two successful logins from two continents a few minutes apart."""
    home = _geo.place(person.jurisdiction).continent
    away = rng.choice([c for c in _geo.CONTINENTS if c != home])
    first = day.local(rng, person, 8, 16)
    second = first + dt.timedelta(minutes=rng.randrange(3, 25))
    _auth(day, rng, person, first, "login_success", "password", person.home_ip,
          person.user_agent, _geo.country_of(person.jurisdiction))  # fmt: skip
    ip = _geo.ipv4(rng, away) if rng.random() < 0.7 else _geo.ipv6(rng, away)
    _auth(day, rng, person, second, "login_success", "password", ip,
          rng.choice(_agents.BROWSERS), rng.choice(_geo.COUNTRIES_OF[away]))  # fmt: skip


def _attacks(day: Day, rng: random.Random) -> None:
    """Credential stuffing against one organization's members, more on larger worlds."""
    world = day.run.world
    targets = [day.run.org(o) for o in (day.run.scenarios.stuffing.get(day.index),) if o]
    for _ in range(day.count(rng, len(world.orgs) / 40)):
        targets.append(rng.choice(world.orgs))
    for org in targets:
        start = min(day.anytime(rng), day.end - dt.timedelta(minutes=10))
        victims = [p for p in day.members(org) if day.since(p) <= start]
        if not victims:
            continue
        rng.shuffle(victims)
        victims = victims[: 1 + rng.randrange(min(4, len(victims)))]
        pool = _attack_pool(rng, 6 + rng.randrange(25))
        for victim in victims:
            failures = 12 + rng.randrange(30)
            spread = 60 + rng.randrange(180)  # seconds: the whole burst within minutes
            for step in range(failures):
                # Every address of the pool once, then at random: many sources per burst.
                ip, country = pool[step] if step < len(pool) else rng.choice(pool)
                at = start + dt.timedelta(seconds=spread * step // failures)
                _auth(day, rng, victim, at, "login_failure", "password", ip,
                      rng.choice(_agents.ATTACK), country)  # fmt: skip
            security = world.security[org.id]
            if not security.mfa_enabled and not security.sso_enabled and rng.random() < 0.2:
                ip, country = rng.choice(pool)  # the password was in the list
                at = start + dt.timedelta(seconds=spread + 5)
                _auth(day, rng, victim, at, "login_success", "password", ip,
                      rng.choice(_agents.ATTACK), country)  # fmt: skip


def _attack_pool(rng: random.Random, size: int) -> list[tuple[str, str | None]]:
    """Distinct source addresses of a botnet, on every continent and in documentation ranges."""
    pool: dict[str, str | None] = {}
    while len(pool) < size:
        if rng.random() < 0.3:
            pool.setdefault(_geo.documentation_ip(rng), None)
        else:
            continent = rng.choice(_geo.CONTINENTS)
            pool.setdefault(_geo.ipv4(rng, continent), rng.choice(_geo.COUNTRIES_OF[continent]))
    return list(pool.items())
