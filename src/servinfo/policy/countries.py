"""The English names of the countries a policy can name, for what servinfo publishes.

The notice and the access report name countries (a processor's, a transfer's
destination) for people to read: ``India``, not ``IN``. This is a table of the
countries the policy states (every regime's jurisdictions, the group's companies,
its regions and its processors' countries), not a full ISO 3166-1 list: none
of servinfo's dependencies carries short names in a form fit to load with every
policy. A policy that names a country missing here fails ``servinfo policy check``
(:func:`servinfo.policy.validate.validate_policy`), and the fix is one line here.
"""

from __future__ import annotations

__all__ = ["COUNTRY_NAMES", "country_name"]

#: ISO 3166-1 alpha-2 code → the country's short English name.
COUNTRY_NAMES: dict[str, str] = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CH": "Switzerland",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IN": "India",
    "IS": "Iceland",
    "IT": "Italy",
    "LI": "Liechtenstein",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MT": "Malta",
    "NL": "Netherlands",
    "NO": "Norway",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SE": "Sweden",
    "SG": "Singapore",
    "SI": "Slovenia",
    "SK": "Slovakia",
    "US": "United States",
}


def country_name(code: str) -> str:
    """``IN`` → ``India``; ``US-CA`` → ``United States``. KeyError for a country not listed."""
    return COUNTRY_NAMES[code.split("-", 1)[0]]
