"""Where people are: jurisdictions, their continent, locale, time zone, telephone and IP ranges.

IP addresses are drawn from the documentation ranges (RFC 5737, RFC 3849) and
from prefixes that the regional registries allocated to each continent, so that
a detector can tell Europe from Asia; the host part is random, never a known host.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class Place:
    """What the simulator knows about a jurisdiction."""

    continent: str
    locale: str
    #: Offset of local time from UTC, in minutes (standard time; close enough for office hours).
    utc_offset: int
    #: Telephone template: each ``d`` is replaced by a random digit.
    phone: str
    currency: str


PLACES: dict[str, Place] = {
    "DE": Place("europe", "de-DE", 60, "+4930dddddddd", "EUR"),
    "FR": Place("europe", "fr-FR", 60, "+336dddddddd", "EUR"),
    "NL": Place("europe", "nl-NL", 60, "+3120ddddddd", "EUR"),
    "AT": Place("europe", "de-AT", 60, "+431dddddd", "EUR"),
    "ES": Place("europe", "es-ES", 60, "+3491ddddddd", "EUR"),
    "IT": Place("europe", "it-IT", 60, "+3902dddddddd", "EUR"),
    "PL": Place("europe", "pl-PL", 60, "+4822ddddddd", "PLN"),
    "SE": Place("europe", "sv-SE", 60, "+468dddddddd", "SEK"),
    "IE": Place("europe", "en-IE", 0, "+3531ddddddd", "EUR"),
    "GB": Place("europe", "en-GB", 0, "+442079460ddd", "GBP"),
    "CH": Place("europe", "de-CH", 60, "+4144ddddddd", "CHF"),
    "US-CA": Place("north_america", "en-US", -480, "+141555501dd", "USD"),
    "US-WA": Place("north_america", "en-US", -480, "+120655501dd", "USD"),
    "US-NY": Place("north_america", "en-US", -300, "+121255501dd", "USD"),
    "US-VA": Place("north_america", "en-US", -300, "+170355501dd", "USD"),
    "US-TX": Place("north_america", "es-US", -360, "+151255501dd", "USD"),
    "US": Place("north_america", "en-US", -300, "+120255501dd", "USD"),
    "CA": Place("north_america", "en-CA", -300, "+141655501dd", "CAD"),
    "SG": Place("asia", "en-SG", 480, "+656ddddddd", "SGD"),
    "JP": Place("asia", "ja-JP", 540, "+813dddddddd", "JPY"),
    "IN": Place("asia", "en-IN", 330, "+9198dddddddd", "INR"),
    "AU": Place("oceania", "en-AU", 600, "+612dddddddd", "AUD"),
}

_UNKNOWN = Place("unknown", "en", 0, "+442079460ddd", "USD")

#: Where the members of an organization are, by the home country of its region.
#: Mostly the home country; people also work from neighbours, relocate and travel.
MEMBERS_BY_HOME: dict[str, tuple[tuple[str, int], ...]] = {
    "DE": (
        ("DE", 40), ("FR", 15), ("NL", 12), ("AT", 6), ("ES", 6), ("IT", 6), ("PL", 5),
        ("SE", 4), ("IE", 3), ("GB", 2), ("US-CA", 1),
    ),
    "GB": (("GB", 80), ("IE", 8), ("DE", 4), ("FR", 3), ("US-NY", 3), ("IN", 2)),
    "CH": (("CH", 70), ("DE", 15), ("FR", 8), ("IT", 5), ("GB", 2)),
    "US": (
        ("US-CA", 30), ("US-NY", 20), ("US-TX", 15), ("US-WA", 12), ("US-VA", 10), ("CA", 6),
        ("GB", 4), ("DE", 3),
    ),
    "SG": (("SG", 45), ("AU", 20), ("JP", 15), ("IN", 15), ("US-CA", 5)),
}  # fmt: skip

#: IPv4 /16 prefixes allocated to each continent's registry (RIPE, ARIN, APNIC, LACNIC).
_IPV4: dict[str, tuple[str, ...]] = {
    "europe": ("31.16", "46.114", "77.20", "85.214", "91.64", "188.40", "212.58", "93.184"),
    "north_america": ("24.48", "50.116", "67.160", "71.190", "98.207", "173.70", "108.28"),
    "asia": ("1.32", "27.104", "101.99", "110.33", "116.88", "175.41", "180.150"),
    "oceania": ("49.176", "101.160", "120.16", "144.130"),
    "south_america": ("177.12", "179.104", "186.200", "190.210"),
}
_IPV6: dict[str, tuple[str, ...]] = {
    "europe": ("2a02:8108", "2a01:c22", "2001:16b8"),
    "north_america": ("2600:1700", "2601:640", "2607:fb90"),
    "asia": ("2400:4050", "2401:7400", "240b:10"),
    "oceania": ("2001:8003", "2403:5800"),
    "south_america": ("2804:14c", "2800:810"),
}
#: Documentation ranges: RFC 5737 (IPv4) and RFC 3849 (IPv6); no country can be derived.
_DOC_V4 = ("192.0.2", "198.51.100", "203.0.113")
_DOC_V6 = "2001:db8"

#: Countries an address of a continent is attributed to, for attackers and travellers.
COUNTRIES_OF: dict[str, tuple[str, ...]] = {
    "europe": ("NL", "DE", "RO", "FR", "GB"),
    "north_america": ("US", "CA"),
    "asia": ("VN", "IN", "SG", "KR", "JP"),
    "oceania": ("AU", "NZ"),
    "south_america": ("BR", "AR", "CL"),
}
CONTINENTS: tuple[str, ...] = tuple(_IPV4)


def place(jurisdiction: str) -> Place:
    """The place of a jurisdiction; a subdivision falls back to its country."""
    return PLACES.get(jurisdiction) or PLACES.get(jurisdiction.split("-", 1)[0]) or _UNKNOWN


def country_of(jurisdiction: str) -> str:
    """The ISO 3166-1 alpha-2 country of a jurisdiction (``US-CA`` → ``US``)."""
    return jurisdiction.split("-", 1)[0]


def members_distribution(home_country: str) -> tuple[tuple[str, int], ...]:
    return MEMBERS_BY_HOME.get(home_country, ((home_country, 1),))


def weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    values = [value for value, _ in options]
    weights = [weight for _, weight in options]
    return rng.choices(values, weights)[0]


def phone_number(rng: random.Random, jurisdiction: str) -> str:
    """A well-formed E.164 number of the jurisdiction (fictional ranges where one exists)."""
    template = place(jurisdiction).phone
    candidate = template
    for _ in range(20):
        candidate = "".join(str(rng.randrange(10)) if c == "d" else c for c in template)
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            break
    return candidate


def ipv4(rng: random.Random, continent: str) -> str:
    prefixes = _IPV4.get(continent)
    if prefixes is None:
        return f"{rng.choice(_DOC_V4)}.{rng.randrange(1, 255)}"
    return f"{rng.choice(prefixes)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def ipv6(rng: random.Random, continent: str) -> str:
    prefix = rng.choice(_IPV6.get(continent, (_DOC_V6,)))
    groups = ":".join(f"{rng.getrandbits(16):x}" for _ in range(4))
    return str(ipaddress.IPv6Address(f"{prefix}:{rng.getrandbits(16):x}::{groups}"))


def documentation_ip(rng: random.Random) -> str:
    if rng.random() < 0.75:
        return f"{rng.choice(_DOC_V4)}.{rng.randrange(1, 255)}"
    return str(ipaddress.IPv6Address(f"{_DOC_V6}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"))


def is_documentation_ip(address: str) -> bool:
    return address.startswith(_DOC_V6 + ":") or any(
        address.startswith(prefix + ".") for prefix in _DOC_V4
    )
