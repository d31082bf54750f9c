"""Candidate patterns: cheap, wide nets, one per type, scanned in one pass.

The patterns only propose; ``_validators`` decides. They are written in the
common subset of RE2 and Python ``re`` syntax (no look-around, no back
references) because they are used twice: all of them joined into one RE2
alternation that scans the text once (RE2 runs it as a DFA, in time linear in
the text, whatever the number of alternatives), and each alone with Python ``re``
on the short candidate the scan found, to tell which type it is and where the
secret part of it sits (named group ``v``).

The scan uses leftmost-longest semantics, so a candidate is the longest string
any pattern matches at the leftmost place where one matches. A pattern is
therefore kept narrow enough not to swallow its neighbours (a card number must
not eat the phone number after it), and the validators trim where the shape
allows (trailing groups of a phone number, card number or IBAN).

Each pattern is tight where logs are dense: phone numbers need a ``+``, a trunk
``0`` or a separated North-American form, because bare digit runs in logs are
ids and timestamps; IPv6 needs ``::`` next to a hex group or eight groups,
because ``HH:MM:SS`` and MAC addresses are everywhere.
"""

from __future__ import annotations

import itertools
import re
import string
from typing import Final

# (0) Building blocks.
_HEX4 = r"[0-9A-Fa-f]{1,4}"
_V4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

EMAIL: Final = rf"[A-Za-z0-9][A-Za-z0-9._%+-]*@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}\b"

_SEP = r"[ .-]"
PHONE: Final = "|".join(
    [
        # International: +CC or 00CC, an optional "(0)" or "(area)", then digit groups.
        rf"(?:\+|\b00)[1-9]\d{{0,2}}{_SEP}?(?:\(\d{{1,4}}\){_SEP}?)?\d{{1,5}}(?:{_SEP}?\d{{1,5}}){{0,5}}\b",
        # National with a trunk 0 (most of Europe, Australia, Japan, India), maybe "(0x)".
        # Digits are counted one by one (7 to 15 in all) so that the "05-17 08" of
        # every "2025-05-17 08:29:22" log timestamp is not even a candidate.
        rf"\(0\d{{1,4}}\)\s?\d{{2,5}}(?:{_SEP}?\d{{2,5}}){{0,3}}\b",
        rf"\b0[1-9](?:{_SEP}?\d){{5,13}}\b",
        # North America without +1: only separated forms, bare 10-digit runs are ids.
        r"\(\d{3}\)\s?\d{3}[ .-]\d{4}\b",
        r"\b\d{3}[.-]\d{3}[.-]\d{4}\b",
        r"\b\d{3} \d{3} \d{4}\b",
    ]
)

IPV4: Final = rf"\b{_V4}\b"

IPV6: Final = "|".join(
    [
        rf"\b{_HEX4}(?::{_HEX4}){{7}}\b",
        rf"(?:\b{_HEX4}(?::{_HEX4}){{0,6}})?::{_HEX4}(?::{_HEX4}){{0,6}}\b",
        rf"\b{_HEX4}(?::{_HEX4}){{0,6}}::",
        rf"(?:\b{_HEX4}(?::{_HEX4}){{0,5}})?::(?:{_HEX4}:){{0,5}}{_V4}\b",
    ]
)

# Every scheme accepted starts with 2-6 (ISO/IEC 7812 major industry identifiers
# for banking and travel cards); epoch milliseconds (1…) are not even candidates.
CARD: Final = "|".join(
    [
        r"\b[2-6]\d{12,18}\b",
        r"\b[2-6]\d{3}(?:[ -]\d{4}){2,4}(?:[ -]\d{1,4})?\b",
        r"\b3\d{3}[ -]\d{6}[ -]\d{4,5}\b",
    ]
)

IBAN: Final = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"

_KEYS = r"(?:password|passwd|\bpwd|client_secret|api_?key|access_token|auth_token)"
_PEM_LABEL = r"-----(?:BEGIN|END) [A-Z0-9 ]{0,20}PRIVATE KEY-----"
SECRET: Final = "|".join(
    [
        # AWS access key ids: a fixed prefix and 16 base32 characters.
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z2-7]{16}\b",
        # AWS secret access keys: 40 base64 characters, only after their name.
        r"(?i:aws_?secret_?access_?key|secret_?access_?key)[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
        r"(?P<v>[A-Za-z0-9/+]{40})",
        # Bearer tokens (the token only) and JWTs (whole).
        r"\b(?i:bearer)\s{1,3}(?P<v>[A-Za-z0-9._~+/-]{16,}=*)",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
        # user:password in a URL.
        r"\b[A-Za-z][A-Za-z0-9+.-]+://(?P<v>[^\s:/?#@\[\]<>\"']+:[^\s/?#@\[\]<>\"']+)@",
        # Private-key blocks, whole; "-" alone is allowed inside (DEK-Info) but not "--",
        # so that one block cannot run on into the next.
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'BEGIN')}(?:[A-Za-z0-9+/=\s:,.]|-[A-Za-z0-9])*"
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'END')}",
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'BEGIN')}(?:\s{{0,2}}[A-Za-z0-9+/=]{{16,}})*",
        # GitHub tokens.
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b",
        # key=value and key: value for names that always hold a secret (the value only).
        rf"(?i:{_KEYS})[\"']?\s{{0,3}}[:=]\s{{0,3}}[\"']?(?P<v>[^\s\"'&;,<>]{{6,}})",
    ]
)

#: Types in priority order: when a candidate fits several, the first that
#: validates wins (a 16-digit run is a card before it is anything else).
PRIORITY: Final = ("SECRET", "CARD", "IBAN", "EMAIL", "IPV6", "IPV4", "PHONE")

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset(string.ascii_letters)
#: The characters each type's candidates can start with.
FIRST_CHARS: Final = {
    "SECRET": _LETTERS | {"-"},
    "CARD": frozenset("23456"),
    "IBAN": frozenset(string.ascii_uppercase),
    "EMAIL": _LETTERS | _DIGITS,
    "IPV6": frozenset(string.hexdigits) | {":"},
    "IPV4": _DIGITS,
    "PHONE": _DIGITS | {"+", "("},
}

BY_TYPE: Final = {
    "SECRET": SECRET,
    "CARD": CARD,
    "IBAN": IBAN,
    "EMAIL": EMAIL,
    "IPV6": IPV6,
    "IPV4": IPV4,
    "PHONE": PHONE,
}


def _numbered(pattern: str, counter: itertools.count[int]) -> str:
    """Give each ``(?P<v>`` its own name (``v0``, ``v1`` …): neither engine allows repeats."""
    return re.sub(r"\(\?P<v>", lambda _: f"(?P<v{next(counter)}>", pattern)


def scan_pattern() -> str:
    """Every type's pattern in one alternation, for the one-pass RE2 scan.

    The scan is compiled with ``never_capture``: it only needs where a candidate
    starts and ends, which RE2's DFA finds without the slower submatch engines.
    """
    counter = itertools.count()
    return "|".join(f"(?:{_numbered(BY_TYPE[type_], counter)})" for type_ in PRIORITY)


def classifiers() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each type's pattern compiled with Python ``re``, in :data:`PRIORITY` order."""
    counter = itertools.count()
    return tuple((type_, re.compile(_numbered(BY_TYPE[type_], counter))) for type_ in PRIORITY)
