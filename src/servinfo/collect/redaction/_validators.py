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

import datetime
import ipaddress
import math
import re
from collections.abc import Callable, Sequence
from importlib.resources import files

import phonenumbers
import re2  # type: ignore[import-untyped]
from stdnum.util import get_cc_module

from servinfo.collect.redaction import _ids

Validator = Callable[[str, int, int, "re.Match[str]"], tuple[int, int] | None]

#: Regions tried for a phone number written nationally with a trunk ``0``.
DEFAULT_PHONE_REGIONS = (
    "GB",
    "DE",
    "FR",
    "IT",
    "CH",
    "SG",
    "AU",
    "NL",
    "AT",
    "BE",
    "IE",
    "SE",
    "JP",
    "IN",
)

# --- e-mail ---------------------------------------------------------------------------

# File extensions that are not top-level domains: ``icon@2x.png`` is an asset.
_NOT_TLDS = frozenset(
    str.split(
        "png jpg jpeg gif svg webp ico bmp tif tiff js mjs css json yaml yml xml txt log java html "
        "htm php csv zip gz tgz tar exe dll jar toml ini conf cfg pem crt lock tsx jsx"
    )
)


# Top-level domains an address written out in words may end with ("jane at
# example dot com"): the words alone are everyday English otherwise.
_SPELLED_TLDS = frozenset(
    str.split(
        "com org net edu gov io co uk de fr it ch at be nl es eu sg us ca au info biz me example"
    )
)
_LAST_WORD = re.compile(r"[A-Za-z]+$")
_SPELLED_AT = re.compile(r"\s?[\[({]\s?(?i:at)\s?[\])}]\s?| (?i:at) ")


def email(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    candidate = text[start:end]
    if "@" in candidate:
        local, _, domain = candidate.rpartition("@")
    elif "%40" in candidate:
        local, _, domain = candidate.rpartition("%40")
    else:  # written out: the top-level domain must be one people spell out
        parts = _SPELLED_AT.split(candidate, maxsplit=1)
        tld = _LAST_WORD.search(candidate)
        if len(parts) != 2 or tld is None or tld.group().lower() not in _SPELLED_TLDS:
            return None
        local, domain = parts
        if local.lower() in _NOT_SPELLED_LOCAL:
            return None
    if local.endswith(".") or ".." in local or domain.rsplit(".", 1)[-1].lower() in _NOT_TLDS:
        return None
    return start, end


# Words before "at" in prose that are not an address's local part.
_NOT_SPELLED_LOCAL = frozenset(str.split("look looking me us him her them it this that one all"))


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
            return _luhn(digits)
    return False


# Luhn's doubled digits, summed: 0 2 4 6 8 1 3 5 7 9.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812-1), as ``stdnum.luhn.is_valid`` on digits, in one pass."""
    values = [ord(c) - 48 for c in reversed(digits)]
    return (sum(values[0::2]) + sum(_DOUBLED[v] for v in values[1::2])) % 10 == 0


_GROUP = re.compile(r"\d+")


def card(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    before = text[max(0, start - 2) : start].rjust(2)
    if (before[0].isdigit() and before[1] in " .-") or before[1] in "+#":
        return None  # the tail of a longer grouped number, a phone number's digits, an id
    groups = [
        (m.start() + start, m.end() + start, m.group()) for m in _GROUP.finditer(match.group())
    ]
    # The whole candidate first, then runs of whole groups one shorter (a card
    # number written next to another number makes one candidate of both); not
    # shorter still: a 22-digit parcel number in groups of four holds a
    # Luhn-valid run of four groups as often as not.
    for size in range(len(groups), max(len(groups) - 2, 0), -1):
        for first in range(len(groups) - size + 1):
            run = groups[first : first + size]
            digits = "".join(g[2] for g in run)
            if 13 <= len(digits) <= 19 and _is_card(digits):
                return run[0][0], run[-1][1]
    return None


# --- IBAN -----------------------------------------------------------------------------


_IBAN_SEPARATORS = re.compile(r"[ -]")
# ISO 13616 check digits: letters count as 10 to 35, the whole number mod 97 is 1.
_LETTER_VALUES = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})
_BBAN_CHARS = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Za-z0-9]"}


def _bban_formats() -> dict[str, re.Pattern[str]]:
    """Each country's BBAN format from the IBAN registry python-stdnum ships."""
    formats: dict[str, re.Pattern[str]] = {}
    registry = files("stdnum").joinpath("iban.dat").read_text("utf-8")
    for country, structure in re.findall(r'^([A-Z]{2}) .*?bban="([^"]*)"', registry, re.M):
        pattern = re.sub(
            r"(\d+)!([nac])", lambda m: f"{_BBAN_CHARS[m.group(2)]}{{{m.group(1)}}}", structure
        )
        formats[country] = re.compile(pattern)
    return formats


_BBAN_FORMATS = _bban_formats()
_COUNTRY_CHECKS: dict[str, object] = {}


def _is_iban(compact: str) -> bool:
    """The registry's format for the country, the check digits, then the country's own check.

    The same checks as ``stdnum.iban.is_valid``, with the format table read once
    and the checksum computed on one integer: that function looks the format up
    in its number database on every call, which cost more than the rest of IBAN
    validation together.
    """
    bban = _BBAN_FORMATS.get(compact[:2])
    if bban is None or bban.fullmatch(compact[4:]) is None:
        return False
    if int((compact[4:] + compact[:4]).translate(_LETTER_VALUES)) % 97 != 1:
        return False
    country = compact[:2]
    if country not in _COUNTRY_CHECKS:
        _COUNTRY_CHECKS[country] = get_cc_module(country.lower(), "iban")
    module = _COUNTRY_CHECKS[country]
    return module is None or bool(module.is_valid(compact))  # type: ignore[attr-defined]


def iban(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    candidate = match.group()
    while len(candidate) >= 15:
        compact = _IBAN_SEPARATORS.sub("", candidate).upper()
        # mod 97-10 first (cheap), then the country's length and BBAN format.
        if _is_iban(compact):
            return start, start + len(candidate)
        cut = max(candidate.rfind(" "), candidate.rfind("-"))
        if cut < 4:
            return None
        candidate = candidate[:cut]  # drop a trailing group and retry
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
        # Italy keeps its 0 after the country code, Singapore has no trunk prefix:
        # each is tried its own way when it is among the regions.
        self._trunk_codes = tuple(
            dict.fromkeys(
                phonenumbers.country_code_for_region(r) for r in regions if r not in ("IT", "SG")
            )
        )
        self._italy = "IT" in regions
        self._singapore = "SG" in regions

    def __call__(
        self, text: str, start: int, end: int, match: re.Match[str]
    ) -> tuple[int, int] | None:
        before = text[max(0, start - 2) : start].rjust(2)
        if (
            before[1].isalnum()
            or before[1] in "._/"
            or (before[1] == "-" and before[0].isalnum())
            or (before[1] == " " and before[0].isdigit())
        ):
            return None  # inside a longer token or number: a UUID, a path, a parcel number
        candidate = match.group()
        # Written nationally, a number needs words around it that speak of a phone
        # ("0d dddd dddd" is as often a parcel, an order or an ISSN): looked for
        # once, lazily, for the candidate and the shorter numbers tried in it.
        context: list[bool] = []

        def in_context() -> bool:
            if not context:
                context.append(_phone_context(text, start, end))
            return context[0]

        extension = _EXTENSION.search(candidate)
        if extension is not None:
            number = candidate[: extension.start()]
            if self._check(number, text, start + len(number), in_context, extension=True):
                return start, end
            candidate = number
        for _ in range(4):
            if self._check(candidate, text, start + len(candidate), in_context):
                return start, start + len(candidate)
            trimmed = _TRAILING_GROUP.sub("", candidate)
            if trimmed == candidate:
                break
            candidate = trimmed
        return None

    def _check(
        self,
        candidate: str,
        text: str,
        end: int,
        in_context: Callable[[], bool],
        *,
        extension: bool = False,
    ) -> bool:
        after = text[end : end + 2]
        if not extension and len(after) == 2 and after[0] in ".-" and after[1].isdigit():
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
        if not in_context():
            return False
        if head.startswith("0"):
            return self._valid("0", digits[1:], False)
        if len(digits) == 8:
            return self._valid("8", digits, False)
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
            return any(_valid_number(code, digits) for code in self._trunk_codes) or (
                self._italy and _valid_number(39, "0" + digits)
            )
        if form == "8":  # eight digits, no trunk prefix: Singapore
            return self._singapore and _valid_number(65, digits)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return len(digits) == 10 and _valid_number(1, digits)


def _words(pattern: str) -> Callable[[str], bool]:
    """Whether a short text holds one of ``pattern``'s words.

    RE2 runs the alternation of a few dozen case-insensitive words as one
    automaton; Python's ``re`` tries each word at each position, ten times slower.
    """
    options = re2.Options()
    options.never_capture = True
    compiled = re2.compile(pattern, options)

    def found(text: str) -> bool:
        return compiled.search(text.encode("utf-8", "replace")) is not None

    return found


_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension|#)\s?\d{1,6}$")
# Words near a nationally written number that make it a phone number, in English,
# German, French and Italian; and words that make it something else.
_PHONE_WORDS = _words(
    r"(?i:phone|\btel\b|\btel\.|tel:|telephone|call|ring|dial|mobile|\bcell|fax|sms|text me|"
    r"whatsapp|signal|hotline|helpline|number|\bno\.|reach|contact|landline|switchboard|"
    r"telefon|handy|mobil|rufnummer|nummer|erreichbar|anrufen|ruf|durchwahl|festnetz|"
    r"ansprechpartner|zentrale|\bfon\b|\bmob\b|\bmob\.|\bm:|\bt:|\bp:|\bph\b|\bph\.|"
    r"\bcel\b|\bcel\.|\btelf\b|viber|gsm|erreich|"
    r"t[ée]l[ée]phone|\bt[ée]l\b|t[ée]l\.|portable|appel|joindre|joignable|num[ée]ro|rappel|"
    r"telefono|cellulare|cell\.|chiam|richiam|numero|recapito|fisso|contattare|contattarmi)"
)
_NOT_PHONE_WORDS = _words(
    r"(?i:issn|isbn|tracking|parcel|shipment|sendung|colis|spedizione|order|bestell|commande|"
    r"ordine|invoice|rechnung|facture|fattura|ticket|case|ref\b|reference|serial|sku|"
    r"build|version|id:|id=|\bid\b)"
)
_CONTEXT_BEFORE = 64
_CONTEXT_AFTER = 24


def _phone_context(text: str, start: int, end: int) -> bool:
    """Words before (or just after) ``text[start:end]`` say it is a phone number."""
    before = text[max(0, start - _CONTEXT_BEFORE) : start]
    near = text[max(0, start - 20) : start]
    if _NOT_PHONE_WORDS(near):
        return False
    return _PHONE_WORDS(before) or _PHONE_WORDS(text[end : end + _CONTEXT_AFTER])


def _valid_number(country_code: int, national: str) -> bool:
    if not national or not national.isdigit():
        return False
    if len(national) not in _NATIONAL_LENGTHS.get(country_code, _ANY_LENGTH):
        # No region of the code has numbers this long: decided without building
        # a number and walking the metadata (most regions tried for a number
        # written nationally fail here).
        return False
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if country_code == 1:
        # The NANP's 25 regions share +1; is_valid_number tries each. The ones in
        # play are the United States and Canada.
        return phonenumbers.is_possible_number(number) and any(
            phonenumbers.is_valid_number_for_region(number, region) for region in _NANP_REGIONS
        )
    if national.startswith("0"):
        # Only Italy (and the Vatican, San Marino) dial the 0 after the country code.
        if country_code not in _LEADING_ZERO_CODES:
            return False
        number.italian_leading_zero = True
    if not phonenumbers.is_possible_number(number):
        return False
    # is_valid_number first finds the region among those sharing the code (+44:
    # GB, GG, IM, JE), matching the number against each; the main region comes
    # first in that search, so a number valid there is valid, decided in one pass.
    main = _MAIN_REGION.get(country_code)
    if main is not None and phonenumbers.is_valid_number_for_region(number, main):
        return True
    return bool(phonenumbers.is_valid_number(number))


def _national_lengths(code: int) -> frozenset[int]:
    """The lengths of valid national numbers in any region of ``code``.

    phonenumbers refuses, before any pattern, a number whose length is not among
    its region's general lengths; the union over the regions sharing the code.
    """
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        general = None if metadata is None else metadata.general_desc
        if general is None or not general.possible_length:
            return _ANY_LENGTH
        lengths.update(general.possible_length)
    return frozenset(lengths) if lengths else _ANY_LENGTH


_ANY_LENGTH = frozenset(range(1, 18))
_NATIONAL_LENGTHS = {
    code: _national_lengths(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
}
_MAIN_REGION = {
    code: regions[0]
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
    if regions and regions[0] != phonenumbers.UNKNOWN_REGION
}


_LEADING_ZERO_CODES = frozenset({39, 378})
_NANP_REGIONS = ("US", "CA")


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
    key = _KEY_NAME.search(match.group()[:v_start])
    if key is not None and key.group().lower() in _GENERIC_KEYS and not _random_looking(value):
        return None  # "token=refresh", "secret=none": a word, not a value
    return start + v_start, start + v_end


_KEY_NAME = re.compile(r"[A-Za-z_]+")
# Names whose value may be a word ("token=refresh", "secret=none"): their value
# must look random. Those that always hold a secret (password, auth_token,
# client_secret …) need only not be a placeholder.
_GENERIC_KEYS = frozenset({"token", "secret", "pass"})


def _random_looking(value: str) -> bool:
    """At least 8 characters of two classes or more, with 2.5 bits a character or more."""
    if len(value) < 8:
        return False
    classes = (str.isdigit, str.islower, str.isupper)
    if sum(any(test(c) for c in value) for test in classes) + (not value.isalnum()) < 2:
        return False
    counts = [value.count(c) for c in set(value)]
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return entropy >= 2.5


# --- national identifiers, passports, dates of birth ----------------------------------


def _value_span(match: re.Match[str]) -> tuple[int, int] | None:
    """The ``[start, end)`` of the match's value group within the candidate, if it has one."""
    name = next((n for n, v in match.groupdict().items() if v is not None), None)
    return None if name is None else match.span(name)


def national_id(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before in "-_/.#" or after in "-_/" or before.isalnum() or after.isalnum():
        return None  # part of a longer token: a path, a reference, a version
    value = _value_span(match)
    if value is None:
        return (start, end) if _ids.is_national_id(match.group(), in_context=False) else None
    written = match.group()[value[0] : value[1]]
    if not _ids.is_national_id(written, in_context=True):
        return None
    return start + value[0], start + value[1]


def passport(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    value = _value_span(match)
    if value is None:
        return None
    written = match.group()[value[0] : value[1]]
    if not any(c.isdigit() for c in written) or len(set(written)) < 4:
        return None
    return start + value[0], start + value[1]


_NUMERIC_DATE = re.compile(r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")


def date_of_birth(text: str, start: int, end: int, match: re.Match[str]) -> tuple[int, int] | None:
    value = _value_span(match)
    if value is None:
        return None
    written = match.group()[value[0] : value[1]]
    numeric = _NUMERIC_DATE.fullmatch(written)
    if numeric is not None:
        a, b, c = (int(g) for g in numeric.groups())
        year, first, second = (a, b, c) if a > 31 else (c, a, b)
        # Day-month or month-day, whichever the writer meant: both must be a date.
        if not any(_is_date(year, month, day) for month, day in ((second, first), (first, second))):
            return None
    return start + value[0], start + value[1]


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


VALIDATORS: dict[str, Validator] = {
    "NATIONAL_ID": national_id,
    "PASSPORT": passport,
    "DATE_OF_BIRTH": date_of_birth,
    "EMAIL": email,
    "IPV4": ipv4,
    "IPV6": ipv6,
    "CARD": card,
    "IBAN": iban,
    "SECRET": secret,
}
