"""The simulated world: partners, their customers, direct customers, their members and resources.

Every organization gets a home region from the policy; its members get
jurisdictions consistent with that region but not always equal to it (an
``eu`` organization has people in DE, FR, NL … and a few in GB or US-CA).
Identifiers are opaque and drawn from the simulation's random generator, so the
same seed builds the same world.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

from servinfo.collect.simulator import _agents, _geo, _names
from servinfo.policy.model import Policy

#: How likely a region is to be an organization's home; regions not listed weigh 10.
_REGION_WEIGHT: dict[str, int] = {"eu": 35, "us": 30, "uk": 15, "apac": 12, "ch": 8}

#: Resource types: id prefix, names customers give them, and how often they occur.
RESOURCE_TYPES: dict[str, tuple[str, tuple[str, ...], int]] = {
    "virtual_machine": ("vm", ("web-01", "web-02", "worker", "bastion", "build-agent"), 30),
    "bucket": ("bkt", ("backups", "assets", "logs-archive", "exports"), 20),
    "database": ("db", ("orders-db", "analytics", "customers-pg", "cache"), 15),
    "kubernetes_cluster": ("k8s", ("prod-cluster", "staging"), 10),
    "function": ("fn", ("thumbnailer", "webhook-handler", "nightly-report"), 15),
    "load_balancer": ("lb", ("public-lb", "internal-lb"), 10),
}


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    home_region: str
    parent: str | None
    partner: bool
    domain: str
    country: str
    currency: str
    #: Day of the month on which the organization is invoiced.
    billing_day: int
    plan: str


@dataclass
class Person:
    """A member of an organization: the data subject of the records."""

    id: str
    org_id: str
    given_name: str
    family_name: str
    email: str
    phone: str
    job_title: str
    jurisdiction: str
    #: ``admin``, ``billing`` or ``member``.
    role: str
    user_agent: str
    home_ip: str
    mobile_ip: str
    #: Signs in with keys from tools rather than a browser.
    automation: bool
    #: When the person signed up; None for members who existed before the simulated days.
    joined: dt.datetime | None = None

    @property
    def username(self) -> str:
        return self.email.split("@", 1)[0]


@dataclass
class Resource:
    id: str
    org_id: str
    owner_id: str
    type: str
    name: str
    public: bool
    #: When it was created; None for resources that existed before the simulated days.
    created: dt.datetime | None = None


@dataclass
class Security:
    mfa_enabled: bool
    sso_enabled: bool
    key_rotation_days: int


@dataclass
class World:
    orgs: list[Org]
    people: list[Person]
    resources: list[Resource]
    security: dict[str, Security]
    _ids: set[str] = field(default_factory=set, repr=False)

    def members(self, org_id: str) -> list[Person]:
        return [p for p in self.people if p.org_id == org_id]

    def unique_id(self, rng: random.Random, prefix: str, bits: int) -> str:
        """A fresh opaque id: ``prefix`` and random hex, never issued twice."""
        while True:
            candidate = f"{prefix}-{rng.getrandbits(bits):0{bits // 4}x}"
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate


def build_world(
    policy: Policy, customers: int, rng: random.Random, start: dt.datetime, days: int
) -> World:
    """Partners with 1–5 customers each, direct customers, their members and resources.

    ``customers`` counts customer organizations (a partner's customers and
    direct customers); partners come on top, about one per six customers.
    Members who sign up during the ``days`` from ``start`` carry their ``joined`` time.
    """
    world = World(orgs=[], people=[], resources=[], security={})
    regions = list(policy.regions)
    # Every region is some customer's home as soon as there are enough customers.
    homes = rng.sample(regions, len(regions))[: min(customers, len(regions))]
    weights = [_REGION_WEIGHT.get(r, 10) for r in regions]
    homes += rng.choices(regions, weights, k=customers - len(homes))
    rng.shuffle(homes)

    partners = max(1, customers // 6) if customers >= 3 else 0
    under_partner = [1 + rng.randrange(5) for _ in range(partners)]
    # A partner never takes more than half of the customers.
    while sum(under_partner) > customers // 2 and max(under_partner, default=1) > 1:
        under_partner[under_partner.index(max(under_partner))] -= 1

    taken: set[str] = set()
    position = 0
    for count in under_partner:
        mine = homes[position : position + count]
        position += count
        partner = _org(policy, world, rng, mine[0], None, True, taken)
        for region in mine:
            _org(policy, world, rng, region, partner.id, False, taken)
    for region in homes[position:]:
        _org(policy, world, rng, region, None, False, taken)
    # Parents before their customers: the ingest order must respect the hierarchy.
    world.orgs.sort(key=lambda o: o.parent is not None)

    for org in list(world.orgs):
        _populate(policy, world, rng, org, start, days)
    return world


def _org(
    policy: Policy,
    world: World,
    rng: random.Random,
    region: str,
    parent: str | None,
    partner: bool,
    taken: set[str],
) -> Org:
    country = policy.regions[region].country
    seconds = _names.PARTNER_SECOND if partner else _names.COMPANY_SECOND
    attempt = 0
    while True:
        base = f"{rng.choice(_names.COMPANY_FIRST)} {rng.choice(seconds)}"
        attempt += 1
        if attempt > 20:  # the word lists are small: number the names of a large world
            base = f"{base} {attempt}"
        if base not in taken:
            taken.add(base)
            break
    name = f"{base} {_names.LEGAL_FORM.get(country, 'Ltd')}"
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    org = Org(
        id=world.unique_id(rng, "org", 32),
        name=name,
        home_region=region,
        parent=parent,
        partner=partner,
        domain=f"{slug}.example",
        country=country,
        currency=_geo.place(country).currency,
        billing_day=1 + rng.randrange(28),
        plan=rng.choice(("starter", "business", "business", "enterprise")),
    )
    world.orgs.append(org)
    rotation = rng.choice((30, 60, 90, 90, 180, 365))
    world.security[org.id] = Security(rng.random() < 0.7, rng.random() < 0.3, rotation)
    return org


def _populate(
    policy: Policy, world: World, rng: random.Random, org: Org, start: dt.datetime, days: int
) -> None:
    if org.partner:
        size = 2 + rng.randrange(4)
    elif org.parent is not None:
        size = 2 + rng.randrange(8)
    else:
        size = rng.choice((3, 5, 8, 12, 20)) + rng.randrange(4)
    distribution = _geo.members_distribution(org.country)
    used: set[str] = set()  # local parts of e-mail addresses, unique within the domain
    for index in range(size):
        role = "admin" if index == 0 else "billing" if index == 1 else "member"
        world.people.append(_person(world, rng, org, role, _geo.weighted(rng, distribution), used))
    # Sign-ups during the simulated days: about one per organization and fortnight.
    for _ in range(days):
        if rng.random() < 0.07:
            joiner = _person(world, rng, org, "member", _geo.weighted(rng, distribution), used)
            offset = rng.randrange(days * 86_400)
            joiner.joined = start + dt.timedelta(seconds=offset)
            world.people.append(joiner)

    members = [p for p in world.people if p.org_id == org.id and p.joined is None]
    for _ in range(2 + len(members) // 2 + rng.randrange(3)):
        kinds = list(RESOURCE_TYPES)
        kind = rng.choices(kinds, [RESOURCE_TYPES[k][2] for k in kinds])[0]
        prefix, names, _weight = RESOURCE_TYPES[kind]
        world.resources.append(
            Resource(
                id=world.unique_id(rng, prefix, 32),
                org_id=org.id,
                owner_id=rng.choice(members[: max(1, len(members) // 2)]).id,
                type=kind,
                name=rng.choice(names),
                public=kind in ("load_balancer", "bucket", "virtual_machine")
                and rng.random() < 0.3,
            )
        )


def _person(
    world: World, rng: random.Random, org: Org, role: str, jurisdiction: str, used: set[str]
) -> Person:
    while True:
        given = rng.choice(_names.GIVEN_NAMES)
        family = rng.choice(_names.FAMILY_NAMES)
        local = f"{given}.{family}".lower()
        if local in used:
            local = f"{local}{rng.randrange(2, 100)}"
        if local not in used:
            used.add(local)
            break
    here = _geo.place(jurisdiction)
    automation = role == "member" and rng.random() < 0.15
    agents = _agents.TOOLS if automation else _agents.BROWSERS
    return Person(
        id=world.unique_id(rng, "sub", 80),
        org_id=org.id,
        given_name=given,
        family_name=family,
        email=f"{local}@{org.domain}",
        phone=_geo.phone_number(rng, jurisdiction),
        job_title=(
            "Finance Manager"
            if role == "billing"
            else rng.choice(("CTO", "IT Administrator", "Founder"))
            if role == "admin"
            else rng.choice(_names.JOB_TITLES)
        ),
        jurisdiction=jurisdiction,
        role=role,
        user_agent=rng.choice(agents),
        home_ip=_geo.ipv4(rng, here.continent)
        if rng.random() < 0.8
        else _geo.ipv6(rng, here.continent),
        mobile_ip=_geo.ipv6(rng, here.continent),
        automation=automation,
    )
