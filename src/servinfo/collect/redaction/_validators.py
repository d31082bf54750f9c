"""Confirmation of candidates, one validator per type.

A candidate pattern only says "this has the shape of"; a validator says "this
is". Each one takes the whole text and the candidate's ``[start, end)`` (context
matters: ``1.2.3.4`` in ``1.2.3.4.5`` is part of a version) and returns the
span to redact, possibly narrower than the candidate (a trailing group trimmed,
the value after ``password=``), or ``None``.

The checks come from maintained libraries, not from home-grown tables where a
library exists: Luhn and IBAN (mod 97-10 and each country's BBAN format) from
``python-stdnum``; phone numbers from ``phonenumbers`` (Google's libphonenumber
metadata); addresses from ``ipaddress``. Card-scheme prefixes (ISO/IEC 7812
issuer ranges) are a short table because no maintained package publishes them.

Cheap checks run first (lengths, context characters), so that the expensive
library calls see few candidates; the engine caches verdicts, so a value that
recurs (a host's address, a support number) is validated once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.iso7064 import mod_97_10

Validator = Callable[[str, int, int, "re.Match[str]"], tuple[int, int] | None]

#: Regions tried for a phone number written nationally with a trunk ``0``.
DEFAULT_PHONE_REGIONS = ("GB", "DE", "FR", "AU", "CH", "NL", "AT", "BE", "IE", "SE", "JP", "IN")

# --- e-mail ---------------------------------------------------------------------------

# File extensions that are not top-level domains: ``icon@2x.png`` is an asset.
_NOT_TLDS = frozenset(
    str.split(
        "png jpg jpeg gif svg webp ico bmp tif tiff js mjs css json yaml yml xml txt log java html "
        "htm php csv zip gz tgz tar exe dll jar toml ini conf cfg pem crt lock tsx jsx"
    )
)


def email(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    candidate = text[start:end]
    local, _, domain = candidate.rpartition("@")
    if local.endswith(".") or ".." in local or domain.rsplit(".", 1)[-1].lower() in _NOT_TLDS:
        return None
    return start, end


# --- IP addresses ---------------------------------------------------------------------


def _in_version(text: str, start: int, end: int) -> bool:
    """``1.2.3.4`` followed by ``.5`` or preceded by ``7.``: a longer dotted number."""
    after = text[end : end + 2]
    before = text[max(0, start - 2) : start]
    return (len(after) == 2 and after[0] == "." and after[1].isdigit()) or (
        len(before) == 2 and before[1] == "." and before[0].isalnum()
    )


def ipv4(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    if _in_version(text, start, end):
        return None
    try:
        ipaddress.IPv4Address(text[start:end])  # refuses parts > 255 and leading zeros
    except ValueError:
        return None
    return start, end


def ipv6(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    candidate = text[start:end]
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before in ":._" or after.isalnum() or after in ":_":
        return None
    # "::", "::1", "a::" carry no personal data and collide with C++ names ("Cache::Add").
    if "." not in candidate and sum(1 for g in candidate.split(":") if g) < 2:
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return start, end


# --- payment cards --------------------------------------------------------------------

# ISO/IEC 7812 issuer prefixes of the schemes that matter, with their lengths.
_SCHEMES: tuple[tuple[tuple[int, int], int, tuple[int, ...]], ...] = (
    ((4, 4), 1, (13, 16, 19)),  # Visa
    ((51, 55), 2, (16,)),  # Mastercard
    ((2221, 2720), 4, (16,)),  # Mastercard 2-series
    ((34, 34), 2, (15,)),
    ((37, 37), 2, (15,)),  # American Express
    ((6011, 6011), 4, (16, 17, 18, 19)),
    ((644, 649), 3, (16, 17, 18, 19)),  # Discover
    ((65, 65), 2, (16, 17, 18, 19)),
    ((3528, 3589), 4, (16, 17, 18, 19)),  # JCB
    ((300, 305), 3, (14, 15, 16, 17, 18, 19)),
    ((36, 36), 2, (14, 15, 16, 17, 18, 19)),  # Diners
    ((38, 39), 2, (16, 17, 18, 19)),
    ((62, 62), 2, (16, 17, 18, 19)),  # UnionPay
    ((2200, 2204), 4, (16, 17, 18, 19)),  # Mir
)


def _is_card(digits: str) -> bool:
    for (low, high), width, lengths in _SCHEMES:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return luhn.is_valid(digits)
    return False


_GROUP = re.compile(r"\d+")


def card(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    groups = [
        (m.start() + start, m.end() + start, m.group()) for m in _GROUP.finditer(match.group())
    ]
    # The whole candidate first, then shorter runs of whole groups (a card number
    # written next to another number makes one candidate of both).
    for size in range(len(groups), 0, -1):
        for first in range(len(groups) - size + 1):
            run = groups[first : first + size]
            digits = "".join(g[2] for g in run)
            if 13 <= len(digits) <= 19 and _is_card(digits):
                return run[0][0], run[-1][1]
    return None


# --- IBAN -----------------------------------------------------------------------------


def iban(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    candidate = match.group()
    while len(candidate) >= 15:
        compact = candidate.replace(" ", "")
        # mod 97-10 first (cheap), then the country's length and BBAN format.
        if mod_97_10.is_valid(compact[4:] + compact[:4]) and std_iban.is_valid(compact):
            return start, start + len(candidate)
        if " " not in candidate:
            return None
        candidate = candidate.rsplit(" ", 1)[0]  # drop a trailing group and retry
    return None


# --- phone numbers --------------------------------------------------------------------

_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_TRAILING_GROUP = re.compile(r"[ .-]\(?\d+\)?$")


class PhoneChecker:
    """Validates phone candidates against ``phonenumbers``; see the module docstring."""

    def __init__(self, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        unknown = [r for r in regions if phonenumbers.country_code_for_region(r) == 0]
        if unknown:
            raise ValueError(f"phone regions {unknown}: expected ISO 3166-1 alpha-2 codes")
        self._trunk_codes = tuple(
            dict.fromkeys(phonenumbers.country_code_for_region(r) for r in regions)
        )

    def __call__(
        self, text: str, start: int, end: int, match: re.Match[str]
    ) -> tuple[int, int] | None:
        before = text[max(0, start - 2) : start].rjust(2)
        if before[1].isalnum() or before[1] in "._/" or (before[1] == "-" and before[0].isalnum()):
            return None  # inside a longer token: a UUID's last group, a path, a version
        candidate = match.group()
        for _ in range(4):
            if self._check(candidate, text, start + len(candidate)):
                return start, start + len(candidate)
            trimmed = _TRAILING_GROUP.sub("", candidate)
            if trimmed == candidate:
                break
            candidate = trimmed
        return None

    def _check(self, candidate: str, text: str, end: int) -> bool:
        after = text[end : end + 2]
        if len(after) == 2 and after[0] in ".-" and after[1].isdigit():
            return False  # part of a longer dotted or dashed number
        if _DATE.fullmatch(candidate):
            return False
        digits = "".join(c for c in candidate if c.isdigit())
        if not 7 <= len(digits) <= 17:
            return False
        head = candidate.lstrip("(")
        if head.startswith("+"):
            return self._valid("+", digits, "(0)" in candidate)
        if head.startswith("00"):
            # The international prefix in a bare digit run is more often a padded id.
            return any(c in candidate for c in " .-") and self._valid("+", digits[2:], False)
        if head.startswith("0"):
            return self._valid("0", digits[1:], False)
        return self._valid("1", digits, False)

    def _valid(self, form: str, digits: str, trunk_zero: bool) -> bool:
        if form == "+":
            for width in (1, 2, 3):
                code = int(digits[:width])
                if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                    national = digits[width:]
                    if trunk_zero and national.startswith("0"):
                        national = national[1:]  # "+44 (0)20 …": the (0) is not dialled
                    return _valid_number(code, national)
            return False
        if form == "0":
            return any(_valid_number(code, digits) for code in self._trunk_codes)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return len(digits) == 10 and _valid_number(1, digits)


def _valid_number(country_code: int, national: str) -> bool:
    if not national or not national.isdigit() or national.startswith("0"):
        return False
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return bool(phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number))


# --- secrets --------------------------------------------------------------------------

_PLACEHOLDER_VALUES = frozenset(
    str.split(
        "null none nil undefined redacted hidden masked secret password changeme true false example"
    )
)
# Masked or templated values: ****, xxxx, ${VAR}, $VAR, %VAR%, {{ var }}, <var>.
_TEMPLATED = re.compile(r"[*xX.•]+|\$\{.*\}|\$[A-Z_][A-Z0-9_]*|%\w+%|\{\{.*\}\}|<.*>")


def secret(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    value_group = next((name for name, v in match.groupdict().items() if v is not None), None)
    if value_group is None:
        return start, end  # key ids, JWTs, key blocks, GitHub tokens: the whole match
    v_start, v_end = match.span(value_group)
    value = match.group(value_group)
    password = value.rsplit(":", 1)[-1]  # for user:password, judge the password
    if (
        _TEMPLATED.fullmatch(password)
        or password.lower() in _PLACEHOLDER_VALUES
        or len(set(password)) < 3
    ):
        return None
    return start + v_start, start + v_end


VALIDATORS: dict[str, Validator] = {
    "EMAIL": email,
    "IPV4": ipv4,
    "IPV6": ipv6,
    "CARD": card,
    "IBAN": iban,
    "SECRET": secret,
}
