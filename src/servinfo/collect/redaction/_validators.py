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
from functools import lru_cache
from importlib.resources import files
from typing import Final

import phonenumbers
import re2  # type: ignore[import-untyped]
from stdnum.be import iban as be_iban
from stdnum.es import ccc as es_ccc
from stdnum.util import get_cc_module

from servinfo.collect.redaction import _ids, _patterns

#: ``(text, start, end)`` of a candidate to the span to redact, or ``None``.
Validator = Callable[[str, int, int], tuple[int, int] | None]

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


def email(text: str, start: int, end: int) -> tuple[int, int] | None:
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


def ipv4(text: str, start: int, end: int) -> tuple[int, int] | None:
    if _in_version(text, start, end):
        return None
    try:
        ipaddress.IPv4Address(text[start:end])  # refuses parts > 255 and leading zeros
    except ValueError:
        return None
    return start, end


def ipv6(text: str, start: int, end: int) -> tuple[int, int] | None:
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


def _scheme_lengths() -> dict[str, frozenset[int]]:
    """Each issuer prefix of :data:`_SCHEMES` as written (``"4"``, ``"51"`` … ``"2720"``), with
    the lengths of its schemes: one look-up per prefix width instead of a walk of the table.
    """
    lengths: dict[str, set[int]] = {}
    for (low, high), _, scheme_lengths in _SCHEMES:
        for prefix in range(low, high + 1):
            lengths.setdefault(str(prefix), set()).update(scheme_lengths)
    return {prefix: frozenset(each) for prefix, each in lengths.items()}


_SCHEME_LENGTHS = _scheme_lengths()


def _is_card(digits: str) -> bool:
    length = len(digits)
    for width in (1, 2, 3, 4):
        lengths = _SCHEME_LENGTHS.get(digits[:width])
        if lengths is not None and length in lengths:
            return _luhn(digits)
    return False


# Luhn's doubled digits, summed: 0 2 4 6 8 1 3 5 7 9.
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def _luhn(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812-1), as ``stdnum.luhn.is_valid`` on digits.

    On the digits' ASCII codes: every second digit from the right doubled (and
    its digits summed) by a translation table, each half summed in C.
    """
    codes = digits[::-1].encode("ascii")
    doubled = codes[1::2].translate(_DOUBLED)
    return (sum(codes[0::2]) + sum(doubled) - 48 * len(codes)) % 10 == 0


_GROUP = re.compile(r"\d+")
_NOT_DIGIT = re.compile(r"[^0-9]")


def card(text: str, start: int, end: int) -> tuple[int, int] | None:
    before = text[max(0, start - 2) : start].rjust(2)
    if (before[0].isdigit() and before[1] in " .-") or before[1] in "+#":
        return None  # the tail of a longer grouped number, a phone number's digits, an id
    candidate = text[start:end]
    digits = _NOT_DIGIT.sub("", candidate)
    if 13 <= len(digits) <= 19 and _is_card(digits):
        return start, end  # the whole candidate, as the first run tried below
    if candidate.isdigit():  # one group: the whole candidate or nothing
        return None
    groups = [(m.start() + start, m.end() + start, m.group()) for m in _GROUP.finditer(candidate)]
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
_COUNTRY_CHECKS: dict[str, Callable[[str], bool] | None] = {}


def _belgian(compact: str) -> bool:
    """``stdnum.be.iban``'s own checks: the national check digits, a bank code in its table."""
    return (
        compact[-2:] == be_iban._calc_check_digits(compact[4:-2])
        and compact[4:7] in _belgian_banks()
    )


@lru_cache(maxsize=1)
def _belgian_banks() -> frozenset[str]:
    """The bank codes ``stdnum.be.iban.info`` knows, each looked up once (some 20 ms)."""
    codes = (f"{code:03d}" for code in range(1000))
    return frozenset(code for code in codes if be_iban.info(f"BE00{code}"))


#: python-stdnum's country modules first repeat the checks :func:`_is_iban` has
#: made (and look the format up again, which costs more than their own check):
#: where their own check can be called alone, it is.
_OWN_CHECKS: dict[str, Callable[[str], bool]] = {
    "BE": _belgian,
    "ES": lambda compact: bool(es_ccc.is_valid(compact[4:])),  # stdnum.es.iban: the CCC
}


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
        module = get_cc_module(country.lower(), "iban")
        _COUNTRY_CHECKS[country] = _OWN_CHECKS.get(
            country, None if module is None else module.is_valid
        )
    check = _COUNTRY_CHECKS[country]
    return check is None or bool(check(compact))


def iban(text: str, start: int, end: int) -> tuple[int, int] | None:
    candidate = text[start:end]
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
# "+44 (0)20 …", "(+41) ( 0 ) 44 …": the trunk 0 written after the country code.
_TRUNK_ZERO = re.compile(r"\( ?0 ?\)")
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

    def __call__(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        before = text[max(0, start - 2) : start].rjust(2)
        if (
            before[1].isalnum()
            or before[1] in "._/"
            or (before[1] == "-" and before[0].isalnum())
            or (before[1] == " " and before[0].isdigit())
        ):
            return None  # inside a longer token or number: a UUID, a path, a parcel number
        candidate = text[start:end]
        # Written nationally, a number needs words around it that speak of a phone
        # ("0d dddd dddd" is as often a parcel, an order or an ISSN): looked for
        # once, lazily, for the candidate and the shorter numbers tried in it.
        context: list[bool] = []

        def in_context() -> bool:
            if not context:
                context.append(_phone_context(text, start, end))
            return context[0]

        # Every extension word holds "x" ("x", "ext", "extension") or is "#".
        extension = _EXTENSION.search(candidate) if "x" in candidate or "#" in candidate else None
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
        digits = _NOT_DIGIT.sub("", candidate)
        if not 7 <= len(digits) <= 17:
            return False
        head = candidate.lstrip("( ")
        if head.startswith("+"):
            trunk_zero = "(" in candidate and _TRUNK_ZERO.search(candidate) is not None
            return self._valid("+", digits, trunk_zero)
        if head.startswith("00"):
            # The international prefix in a bare digit run is more often a padded id,
            # unless words around it speak of a phone.
            return (any(c in candidate for c in " .-") or in_context()) and self._valid(
                "+", digits[2:], False
            )
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
        if self._italy and digits.startswith("3") and _valid_number(39, digits):
            return True  # an Italian mobile: no trunk 0 ("347 123 4567")
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
    # The compiled program's Match, as the engine's scans call it: the wrapper's
    # search builds a match object around it.
    match = getattr(getattr(compiled, "_regexp", None), "Match", None)
    if match is None:  # pragma: no cover - another google-re2 release

        def searched(text: str) -> bool:
            return compiled.search(text.encode("utf-8", "replace")) is not None

        return searched

    def found(text: str) -> bool:
        data = text.encode("utf-8", "replace")
        return bool(match(_UNANCHORED, data, 0, len(data))[0][0] >= 0)

    return found


_UNANCHORED = re2._Anchor.UNANCHORED


_EXTENSION = re.compile(r"\s?(?:x|[Ee]xt\.?|[Ee]xtension|#)\s?\d{1,6}$")
# Words near a nationally written number that make it a phone number, in English,
# German, French and Italian; and words that make it something else.
_PHONE_WORDS = _words(
    r"(?i:phone|\btel\b|\btel\.|tel:|telephone|call|ring|dial|mobile|\bcell|fax|sms|text me|"
    r"whatsapp|signal|hotline|helpline|number|\bno\.|reach|contact|landline|switchboard|"
    r"telefon|handy|mobil|rufnummer|nummer|erreichbar|anrufen|ruf|durchwahl|festnetz|"
    r"ansprechpartner|zentrale|\bfon\b|\bmob\b|\bmob\.|\bm:|\bt:|\bp:|\bph\b|\bph\.|"
    r"\bcel\b|\bcel\.|\btelf\b|viber|gsm|erreich|"
    r"t[ée]l[ée]phone|\bt[ée]l\b|t[ée]l\.|portable|appel|joindre|joignable|num[ée]ro|rappel|"
    r"telefono|cellulare|cell\.|chiam|richiam|numero|recapito|fisso|contatt|"
    # Swiss "Natel" (a mobile), "Kontakt", the French landline ("fixe") and direct
    # line, Italian "raggiungibile" and "mi trovate al", voicemail.
    r"natel|kontakt|\bfixe\b|ligne directe|raggiung|mi trov[ai]|voicemail|"
    # Where to ask: "Für Rückfragen", "Bei Fragen", "for questions", "any queries",
    # "pour toute question", "renseignements", "per domande", "per informazioni".
    r"r[üu]ckfrage|\bfragen|ausk[üu]nft|question|queries|enquir|inquir|renseignement|domand|"
    r"informazion)"
)
_NOT_PHONE = (
    r"(?i:issn|isbn|tracking|parcel|shipment|sendung|colis|spedizione|order|bestell|commande|"
    r"ordine|invoice|rechnung|facture|fattura|ticket|case|ref\b|reference|serial|sku|"
    r"build|version|id:|id=|\bid\b)"
)
_NOT_PHONE_WORDS = _words(_NOT_PHONE)
_NOT_PHONE_RE = re.compile(_NOT_PHONE)
# Words that name a phone whatever stands before them: nearer the number than a
# word of _NOT_PHONE ("about my order, call me on …"), they decide. Not "number"
# or "no.", which an order or a parcel has too.
_CALL_WORDS = re.compile(
    r"(?i:phone|\btel\b|\btel\.|tel:|call|\bring\b|dial|mobile|\bcell|\bfax\b|sms|whatsapp|"
    r"telefon|handy|natel|anruf|\bruf|t[ée]l[ée]phone|\bt[ée]l\b|t[ée]l\.|portable|appel|"
    r"joindre|joignable|cellulare|chiam|raggiung)"
)
_CONTEXT_BEFORE = 64
_CONTEXT_AFTER = 24


def _phone_context(text: str, start: int, end: int) -> bool:
    """Words before (or just after) ``text[start:end]`` say it is a phone number."""
    before = text[max(0, start - _CONTEXT_BEFORE) : start]
    near = text[max(0, start - 20) : start]
    if _NOT_PHONE_WORDS(near) and not _call_word_nearer(near):
        return False
    return _PHONE_WORDS(before) or _PHONE_WORDS(text[end : end + _CONTEXT_AFTER])


def _call_word_nearer(near: str) -> bool:
    """A word naming a phone ends ``near`` later than the last word naming something else."""
    calls = [m.end() for m in _CALL_WORDS.finditer(near)]
    return bool(calls) and calls[-1] > max(m.end() for m in _NOT_PHONE_RE.finditer(near))


def _valid_number(country_code: int, national: str) -> bool:
    """``phonenumbers.is_possible_number`` and ``is_valid_number`` (or, for +1, valid
    for the United States or Canada) of the national number written ``national``.

    The same decision as those functions, from the same metadata, on strings:
    they build a number object, then walk each region's ten number types with a
    pattern match each; here each region's types are one compiled pattern per
    length, built on first use (``_CallingCode``).
    """
    if not national or not national.isdigit():
        return False
    nsn = national.lstrip("0") or "0"  # the national number as an integer writes it
    if national[0] == "0":
        # Only Italy (and the Vatican, San Marino) dial the 0 after the country code.
        if country_code not in _LEADING_ZERO_CODES:
            return False
        nsn = "0" + nsn
    code = _CALLING_CODES.get(country_code)
    if code is None:
        if country_code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return False
        code = _CALLING_CODES[country_code] = _CallingCode(country_code)
    return code.valid(nsn)


#: Each desc phonenumbers' ``_number_type_helper`` tries after the general one;
#: the mobile one only where its pattern is not the fixed-line one.
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
_UNBUILT: Final = re.compile("")  # compared by identity


class _Region:
    """One region's validity rules: per length, the general pattern and any type's, in one."""

    __slots__ = ("_by_length", "_descs", "_general", "leading")

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        self.leading = (
            None if metadata.leading_digits is None else re.compile(metadata.leading_digits)
        )
        self._general = _desc(metadata.general_desc)
        names = (
            _NUMBER_TYPES
            if metadata.same_mobile_and_fixed_line_pattern
            else (*_NUMBER_TYPES, "mobile")
        )
        descs = (_desc(getattr(metadata, name)) for name in names)
        self._descs = tuple(d for d in descs if d is not None)
        self._by_length: dict[int, re.Pattern[str] | None] = {}

    def valid(self, nsn: str) -> bool:
        pattern = self._by_length.get(len(nsn), _UNBUILT)
        if pattern is _UNBUILT:
            pattern = self._by_length[len(nsn)] = self._pattern(len(nsn))
        return pattern is not None and pattern.fullmatch(nsn) is not None

    def _pattern(self, length: int) -> re.Pattern[str] | None:
        """The general pattern (a look-ahead) and any type's, for numbers of ``length``.

        A desc with possible lengths is tried only for those (phonenumbers'
        ``_is_number_matching_desc``), one without them for any.
        """
        if self._general is None or (self._general[0] and length not in self._general[0]):
            return None
        types = [p for lengths, p in self._descs if not lengths or length in lengths]
        if not types:
            return None
        alternatives = "|".join(f"(?:{p})" for p in types)
        return re.compile(rf"(?=(?:{self._general[1]})\Z)(?:{alternatives})")


def _desc(desc: phonenumbers.PhoneNumberDesc | None) -> tuple[frozenset[int], str] | None:
    if desc is None or not desc.national_number_pattern:
        return None  # phonenumbers: matches nothing
    return frozenset(desc.possible_length), desc.national_number_pattern


class _CallingCode:
    """The regions of one country calling code, in phonenumbers' order."""

    def __init__(self, code: int) -> None:
        names = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
        metadata = [
            (name, phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, name))
            for name in names
        ]
        general = None if metadata[0][1] is None else metadata[0][1].general_desc
        # is_possible_number: the main region's lengths, local-only ones included.
        self.possible: frozenset[int] = (
            frozenset()
            if general is None
            else frozenset((*general.possible_length, *general.possible_length_local_only))
        )
        self.regions = tuple((name, _Region(m)) for name, m in metadata if m is not None)
        self.single = len(names) == 1

    def valid(self, nsn: str) -> bool:
        if len(nsn) not in self.possible:
            return False
        if self.single:
            return bool(self.regions) and self.regions[0][1].valid(nsn)
        if self.regions[0][0] == "US":
            # The NANP's 25 regions share +1; is_valid_number tries each. The ones
            # in play are the United States and Canada.
            return any(region.valid(nsn) for name, region in self.regions if name in _NANP_REGIONS)
        # is_valid_number: the first region whose leading digits the number has,
        # or, for a region without them, that the number is valid for.
        for _, region in self.regions:
            if region.leading is not None:
                if region.leading.match(nsn):
                    return region.valid(nsn)
            elif region.valid(nsn):
                return True
        return False


_CALLING_CODES: dict[int, _CallingCode] = {}


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


def secret(text: str, start: int, end: int) -> tuple[int, int] | None:
    candidate = text[start:end]
    match = _SECRET.fullmatch(candidate)
    if match is None:
        return None
    value_group = match.lastgroup  # the value's group, the only group of its alternative
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
    key = _KEY_NAME.search(candidate[:v_start])
    if key is not None and key.group().lower() in _GENERIC_KEYS and not _random_looking(value):
        return None  # "token=refresh", "secret=none": a word, not a value
    return start + v_start, start + v_end


_KEY_NAME = re.compile(r"[A-Za-z_]+")
# Names whose value may be a word ("token=refresh", "secret=none"): their value
# must look random. Those that always hold a secret (password, auth_token,
# client_secret …) need only not be a placeholder.
_GENERIC_KEYS = frozenset({"token", "secret", "pass"})


@lru_cache(maxsize=4096)
def _least_entropy(length: int, distinct: int) -> float:
    """The least entropy, in bits a character, of ``length`` characters, ``distinct`` different."""
    repeated = length - distinct + 1
    return ((distinct - 1) * math.log2(length) + repeated * math.log2(length / repeated)) / length


def _random_looking(value: str) -> bool:
    """At least 8 characters of two classes or more, with 2.5 bits a character or more."""
    length = len(value)
    if length < 8:
        return False
    # map() runs the tests in C: a generator for each class cost more than the rest.
    classes = (
        any(map(str.isdigit, value)) + any(map(str.islower, value)) + any(map(str.isupper, value))
    )
    if classes + (not value.isalnum()) < 2:
        return False
    # Shannon entropy lies between its least for the number of distinct characters
    # (one character repeated, each other once) and log2 of that number: where those
    # bounds decide (by more than rounding), nothing is counted.
    distinct = len(set(value))
    if distinct < 6:
        return False  # at most log2(5) = 2.32 bits a character
    if _least_entropy(length, distinct) >= 2.5 + 1e-9:
        return True
    counts = [value.count(c) for c in set(value)]
    entropy = -sum([n / length * math.log2(n / length) for n in counts])
    return entropy >= 2.5


# --- national identifiers, passports, dates of birth ----------------------------------


# The patterns of the types whose value is a group (``v``) of the candidate, to find it.
_SECRET = _patterns.compiled("SECRET")
_NATIONAL_ID = _patterns.compiled("NATIONAL_ID")
_PASSPORT = _patterns.compiled("PASSPORT")
_DATE_OF_BIRTH = _patterns.compiled("DATE_OF_BIRTH")


def _value_span(pattern: re.Pattern[str], candidate: str) -> tuple[int, int] | None:
    """The ``[start, end)`` of the candidate's value group, if it has one.

    Each alternative of these patterns has one group at most, its value's, so
    the last group matched (``lastgroup``) is that one.
    """
    match = pattern.fullmatch(candidate)
    name = None if match is None else match.lastgroup
    return None if match is None or name is None else match.span(name)


def national_id(text: str, start: int, end: int) -> tuple[int, int] | None:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before in "-_/.#" or after in "-_/" or before.isalnum() or after.isalnum():
        return None  # part of a longer token: a path, a reference, a version
    candidate = text[start:end]
    match = _NATIONAL_ID.fullmatch(candidate)
    if match is None:
        return None
    if match.lastgroup is None:  # a shape distinctive enough alone
        return (start, end) if _ids.is_national_id(candidate, in_context=False) else None
    value = match.span(match.lastgroup)  # after its name
    written = candidate[value[0] : value[1]]
    if not _ids.is_national_id(written, in_context=True):
        return None
    return start + value[0], start + value[1]


def passport(text: str, start: int, end: int) -> tuple[int, int] | None:
    candidate = text[start:end]
    value = _value_span(_PASSPORT, candidate)
    if value is None:
        return None
    written = candidate[value[0] : value[1]]
    if not any(c.isdigit() for c in written) or len(set(written)) < 4:
        return None
    return start + value[0], start + value[1]


_NUMERIC_DATE = re.compile(r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")


def date_of_birth(text: str, start: int, end: int) -> tuple[int, int] | None:
    candidate = text[start:end]
    value = _value_span(_DATE_OF_BIRTH, candidate)
    if value is None:
        return None
    written = candidate[value[0] : value[1]]
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


#: The types whose validator reads the candidate with the type's pattern (to find
#: the value's group): the engine does not match it first.
VALUE_TYPES = frozenset({"SECRET", "NATIONAL_ID", "PASSPORT", "DATE_OF_BIRTH"})

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
