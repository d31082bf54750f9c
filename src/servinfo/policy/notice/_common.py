"""What the notice builders share: ids, paths, the region → regime rule, and small constructors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from servinfo.policy.model import Policy
from servinfo.policy.notice._document import Block, Link, Paragraph, Section, Statement

#: The legal areas whose law the seed's "European Privacy Standards and the GDPR"
#: section covers: the EEA, the United Kingdom and Switzerland. Their regions'
#: regimes form that section, and transfers out of their regions are listed there.
EUROPEAN_LEGAL_AREAS = ("eea", "uk", "ch")

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip

#: Links the notice publishes: web pages, e-mail addresses and its own anchors. A policy
#: URL of any other scheme (``javascript:`` …) is shown as text, never made a link.
_SAFE_HREF = re.compile(r"^(https?://|mailto:|#)[^\s<>\"]+$", re.IGNORECASE)


def pointer(*parts: str | int) -> str:
    """The RFC 6901 JSON pointer of a policy element: ``/purposes/provide.credit_check``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def slug(element_id: str) -> str:
    """An id as an HTML id fragment: lower case, ``.`` → ``--``, anything else odd → ``_``.

    Policy ids never contain ``-``, so ``-`` can separate the parts of an anchor
    and ``--`` can stand for the dot of a dotted id without ambiguity.
    """
    return re.sub(r"[^a-z0-9_.]", "_", element_id.lower()).replace(".", "--")


def element_id(prefix: str, *ids: str) -> str:
    """``element_id("purpose", "provide.credit_check")`` → ``purpose-provide--credit_check``."""
    return "-".join([prefix, *(slug(i) for i in ids)])


def regime_of_region(policy: Policy, region_id: str) -> str:
    """The regime a region's variant renders.

    (1) the regime whose jurisdictions name the region's country (DE → gdpr);
    (2) else a regime whose jurisdictions name a subdivision of it (US → US-CA → ccpa);
    (3) else the policy's default regime.
    """
    country = policy.regions[region_id].country
    for regime_id, regime in policy.regimes.items():
        if country in regime.jurisdictions:
            return regime_id
    for regime_id, regime in policy.regimes.items():
        if any(j.startswith(f"{country}-") for j in regime.jurisdictions):
            return regime_id
    return policy.default_regime


@dataclass(frozen=True)
class Context:
    """The policy and the choices every section builder needs."""

    policy: Policy
    #: The region whose variant is rendered, and the regime it selects (None: general notice).
    region: str | None
    chosen: str | None
    european_regions: tuple[str, ...]
    european_regimes: tuple[str, ...]
    other_regimes: tuple[str, ...]

    @classmethod
    def of(cls, policy: Policy, region: str | None) -> Context:
        european_regions = tuple(
            rid for rid, r in policy.regions.items() if r.legal_area in EUROPEAN_LEGAL_AREAS
        )
        european = {regime_of_region(policy, rid) for rid in european_regions}
        return cls(
            policy=policy,
            region=region,
            chosen=regime_of_region(policy, region) if region else None,
            european_regions=european_regions,
            european_regimes=tuple(r for r in policy.regimes if r in european),
            other_regimes=tuple(r for r in policy.regimes if r not in european),
        )


def item(
    id_: str,
    path: str,
    *text: str | Link,
    term: str | None = None,
    children: tuple[Statement, ...] = (),
    requires: frozenset[str] = frozenset(),
) -> Statement:
    return Statement(id_, path, tuple(text), term=term, children=children, requires=requires)


def paragraph(
    id_: str,
    path: str,
    *text: str | Link,
    term: str | None = None,
    requires: frozenset[str] = frozenset(),
) -> Paragraph:
    return Paragraph(item(id_, path, *text, term=term, requires=requires))


def notice_paragraph(policy: Policy, name: str, index: int | None = None) -> Paragraph:
    """A statement of ``organization.notice``: ``notice-<name>[-<index>]``."""
    value = getattr(policy.organization.notice, name)
    if index is None:
        return paragraph(element_id("notice", name), pointer("organization", "notice", name), value)
    return paragraph(
        element_id("notice", name, str(index)),
        pointer("organization", "notice", name, index),
        value[index],
    )


def section(
    id_: str,
    title: str,
    level: int,
    *blocks: Block,
    path: str | None = None,
    applies: bool = False,
) -> Section:
    return Section(id_, path, title, level, blocks, applies=applies)


def link(href: str, label: str | None = None) -> str | Link:
    text = label if label is not None else href
    return Link(text, href) if _SAFE_HREF.match(href) else text


def join_names(names: list[str], last: str = "and") -> str:
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def long_date(day: dt.date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
