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
from collections.abc import Sequence
from importlib.resources import files
from typing import Final

# (0) Building blocks.
_HEX4 = r"[0-9A-Fa-f]{1,4}"
_V4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

# Letters beyond ASCII in local parts and domains (RFC 6531, IDNA): Latin,
# Greek, Cyrillic, CJK; not punctuation such as « or —, which ends an address.
_INTL = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff\u4e00-\u9fff"
_ULABEL = rf"[A-Za-z0-9{_INTL}](?:[A-Za-z0-9{_INTL}-]*[A-Za-z0-9{_INTL}])?"
# RFC 5322 local parts as people write them: dots, plus and percent tags, an
# apostrophe (o'brien), an ampersand; not "=", "/" or "?", which in logs and
# URLs come before an address rather than inside it.
_LOCAL = rf"[A-Za-z0-9{_INTL}_](?:[A-Za-z0-9{_INTL}._%+'&-]*[A-Za-z0-9{_INTL}_+-])?"
_DOMAIN = (
    rf"{_ULABEL}(?:\.{_ULABEL})*\.(?:[A-Za-z]{{2,24}}\b|xn--[a-z0-9-]{{2,20}}\b|[{_INTL}]{{2,12}})"
)
# A label URL-encoded: "b%C3%BCcher".
_PLABEL = r"(?:[A-Za-z0-9]|%[0-9A-Fa-f]{2})(?:[A-Za-z0-9-]|%[0-9A-Fa-f]{2})*"
# "jane at example dot com", "jane[at]example[dot]com", "jane (at) example (dot) com".
_BRACKET_AT = r"\s?[\[({]\s?(?i:at)\s?[\])}]\s?"
_DOT = r"(?:\s?[\[({]\s?(?i:dot)\s?[\])}]\s?| (?i:dot) )"
_SPELLED_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
_SPELLED_DOMAIN = rf"{_ULABEL}(?:(?:\.|{_DOT}){_ULABEL})*"
EMAIL: Final = "|".join(
    [
        rf"{_LOCAL}@{_DOMAIN}",
        # URL-encoded in a query string or a log: jane.doe%40example.com.
        rf"[A-Za-z0-9][A-Za-z0-9._+%-]*%40{_PLABEL}(?:\.{_PLABEL})*\.[A-Za-z]{{2,24}}\b",
        # With " at " the last dot is spelled too, or "me at dana.rossi" would
        # hide the "dana.rossi@example.org" it stands before.
        rf"{_SPELLED_LOCAL}{_BRACKET_AT}{_SPELLED_DOMAIN}(?:\.|{_DOT})[A-Za-z]{{2,7}}\b",
        rf"{_SPELLED_LOCAL} (?i:at) {_SPELLED_DOMAIN}{_DOT}[A-Za-z]{{2,7}}\b",
    ]
)

_SEP = r"[ .-]"
# An extension after the number: "x7", "ext. 12", "ext 1234", "#200".
# It ends the number instead of a word boundary ("8080x7" is one word).
_EXT_BODY = r"\s?(?:x|[Ee]xt\.?|[Ee]xtension|#)\s?\d{1,6}\b"
_EXT = rf"(?:\b(?:{_EXT_BODY})?|{_EXT_BODY})"
# Parentheses as written, a space inside allowed: "( 044 )" is what a no-break
# space pasted inside them becomes in the view.
_OPEN = r"\( ?"
_CLOSE = r" ?\)"
PHONE: Final = "|".join(
    [
        # International: +CC or 00CC, an optional "(0)" or "(area)", then digit groups.
        rf"(?:\+|\b00)[1-9]\d{{0,2}}{_SEP}?(?:{_OPEN}\d{{1,4}}{_CLOSE}{_SEP}?)?"
        rf"\d{{1,5}}(?:{_SEP}?\d{{1,5}}){{0,5}}{_EXT}",
        # The country code in parentheses ("(+41) 44 …", "(0041) 44 …") or before a
        # spaced dash ("+41 - 44 …"): six digits or more after it, in groups split by
        # spaces or dashes, so that "(+3) 192.168.1.10" or "+5 - 10.0.0.1" does not
        # make one candidate of a sign and the address after it.
        rf"(?:{_OPEN}(?:\+|00)[1-9]\d{{0,2}}{_CLOSE} ?|(?:\+|\b00)[1-9]\d{{0,2}} ?- ?)"
        rf"(?:{_OPEN}\d{{1,4}}{_CLOSE} ?)?\d(?:[ -]?\d){{5,13}}{_EXT}",
        # National with a trunk 0 (most of Europe, Australia, Japan, India), maybe "(0x)".
        # Digits are counted one by one (7 to 15 in all) so that the "05-17 08" of
        # every "2025-05-17 08:29:22" log timestamp is not even a candidate.
        rf"{_OPEN}0\d{{1,4}}{_CLOSE}\s?\d{{2,5}}(?:{_SEP}?\d{{2,5}}){{0,3}}{_EXT}",
        rf"\b0[1-9](?:{_SEP}?\d){{5,13}}{_EXT}",
        # German area codes before a slash: "030/1234567", "089 / 123 456".
        rf"\b0[1-9]\d{{1,4}} ?/ ?\d{{2,8}}(?:{_SEP}?\d{{1,5}}){{0,3}}{_EXT}",
        # North America without +1: only separated forms, bare 10-digit runs are ids;
        # maybe with the trunk prefix 1 (1-800-555-0199).
        rf"(?:\b1{_SEP})?{_OPEN}\d{{3}}{_CLOSE}\s?\d{{3}}[ .-]\d{{4}}{_EXT}",
        rf"(?:\b1[.-])?\b\d{{3}}[.-]\d{{3}}[.-]\d{{4}}{_EXT}",
        rf"(?:\b1 )?\b\d{{3}} \d{{3}} \d{{4}}{_EXT}",
        # Italian mobiles, written without a trunk prefix: "347 123 4567", "333-1234567";
        # ten digits only ("349 123 456" is as often an amount).
        rf"\b3\d{{2}}(?:[ .-]\d{{3}}[ .-]\d{{4}}|[ .-]\d{{7}}){_EXT}",
        # Singapore: eight digits from 6, 8 or 9, no trunk prefix.
        rf"\b[689]\d{{3}} ?\d{{4}}{_EXT}",
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
        # Groups of four with one separator throughout: space, dash or dot.
        r"\b[2-6]\d{3}(?: \d{4}){2,4}(?: \d{1,4})?\b",
        r"\b[2-6]\d{3}(?:-\d{4}){2,4}(?:-\d{1,4})?\b",
        r"\b[2-6]\d{3}(?:\.\d{4}){2,4}(?:\.\d{1,4})?\b",
        r"\b3\d{3}[ .-]\d{6}[ .-]\d{4,5}\b",
    ]
)


def _iban_countries(lower: bool) -> str:
    """The two-letter codes of the IBAN registry as python-stdnum ships it."""
    lines = files("stdnum").joinpath("iban.dat").read_text("utf-8").splitlines()
    codes = sorted({line[:2] for line in lines if re.match(r"[A-Z]{2} ", line)})
    return "|".join(c.lower() if lower else c for c in codes)


# Grouped by four with spaces or dashes, or not at all; in upper or in lower case
# (one case throughout, so that "AT61 1904 3002 3457 3201 from 10.0.0.1" does not
# take "from" for a group and hide the address after it).
IBAN: Final = "|".join(
    rf"\b(?:{_iban_countries(lower)})\d{{2}}(?:[ -]?{group}{{4}}){{2,7}}(?:[ -]?{group}{{1,3}})?\b"
    for lower, group in ((False, "[A-Z0-9]"), (True, "[a-z0-9]"))
)

# --- national identifiers, passports, dates of birth ---------------------------------

NATIONAL_ID: Final = "|".join(
    [
        # US SSN (dashed), UK NINO, Swiss AHV, Singapore NRIC/FIN, Spanish DNI/NIE,
        # French NIR, Italian codice fiscale: shapes distinctive enough alone.
        r"\b\d{3}-\d{2}-\d{4}\b",
        r"\b[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]\b",
        r"\b756[. ]?\d{4}[. ]?\d{4}[. ]?\d{2}\b",
        r"\b[STFGMstfgm]\d{7}[A-Za-z]\b",
        r"\b\d{8}-?[A-Za-z]\b",
        r"\b[XYZxyz]-?\d{7}-?[A-Za-z]\b",
        r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}\b",
        r"\b[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}"
        r"[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]\b",
        # German tax id (11 digits) and Dutch BSN (9): bare digit runs are ids in
        # logs, so only grouped as people write them, or after their name.
        r"\b\d{2} \d{3} \d{3} \d{3}\b",
        r"(?i:steuer-?id|steuer-?identifikationsnummer|identifikationsnummer|idnr|tax id|"
        r"tax identification number|\btin|burgerservicenummer|bsn|sofinummer|ssn|"
        r"social security(?: number| no\.?)?)(?i:-?nummer|-?nr\.?)?"
        r"[\"']?(?:\s{0,3}(?:[:=#]|is|ist|nr\.?|like|as|number|no\.?|nummer|est|è|:)){0,2}\s{0,3}"
        r"(?P<v>\d[\d .-]{7,13}\d)\b",
    ]
)

_PASSPORT_WORDS = (
    r"(?i:passport|reisepass|pass|passeport|passaporto|pasaporte|paspoort)"
    r"(?i:\s?(?:number|no\.?|nr\.?|nummer|num[ée]ro|numero|n[°o]\.?|#|id))?"
)
PASSPORT: Final = (
    rf"{_PASSPORT_WORDS}\s{{0,3}}[:=#]?\s{{0,3}}(?i:is\s|ist\s|est\s|è\s)?\s{{0,2}}"
    r"(?P<v>[A-Za-z0-9]{6,9})\b"
)

_MONTHS = (
    "jan(?:uary|uar|vier)?|feb(?:ruary|ruar)?|f[ée]v(?:rier)?|febbraio|m[äa]r(?:ch|z|s)?|marzo|"
    "apr(?:il|ile)?|avr(?:il)?|ma[iy]|maggio|jun[ei]?|juin|giugno|jul[iy]?|juil(?:let)?|"
    "luglio|aug(?:ust)?|ao[uû]t|agosto|sep(?:t(?:ember|embre)?)?|settembre|o[ck]t(?:ober|obre)?|"
    "ottobre|nov(?:ember|embre)?|dec(?:ember)?|dez(?:ember)?|d[ée]c(?:embre)?|dicembre|gen(?:naio)?"
)
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{1,2}-\d{1,2}|"
    rf"\d{{1,2}}\.?(?:st|nd|rd|th|er)? (?i:{_MONTHS})\.? (?:19|20)\d{{2}}|"
    rf"(?i:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? (?:19|20)\d{{2}})"
)
DATE_OF_BIRTH: Final = (
    r"(?i:date of birth|birth ?date|dob|d\.o\.b\.?|born(?: on)?|geburtsdatum|geboren(?: am)?|"
    r"geb\.|n[ée]e? le|date de naissance|nat[oa] il|nat[oa] a \w+ il|data di nascita|"
    r"birthday|geburtstag|anniversaire|compleanno)"
    rf"\s{{0,3}}[:=-]?\s{{0,3}}(?:is |ist |est |è |on |am |le |il )?(?P<v>{_DATE})"
)

# Named one by one, not "[a-z]+_token": a class that any word can start would
# make every word a candidate start and multiply the states of the joined scan.
_KEYS = (
    r"(?:password|passwd|passphrase|passwort|kennwort|mot de passe|\bmdp|\bpwd|\bpass|"
    r"api_?key|\btoken|\bsecret|"
    r"(?:access|auth|refresh|session|csrf|xsrf|id|oauth|bearer|private|client|slack|github|"
    r"gitlab|api|app|bot|webhook|signing|jwt|shared|client)_?(?:token|secret))"
)
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
        r"\b(?i:https?|ftps?|sftp|ssh|git|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|"
        r"rediss|amqps?|mqtts?|smtps?|imaps?|ldaps?|jdbc:[a-z]+|s3|svn)"
        r"://(?P<v>[^\s:/?#@\[\]<>\"']+:[^\s/?#@\[\]<>\"']+)@",
        # Private-key blocks, whole; "-" alone is allowed inside (DEK-Info) but not "--",
        # so that one block cannot run on into the next.
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'BEGIN')}(?:[A-Za-z0-9+/=\s:,.]|-[A-Za-z0-9])*"
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'END')}",
        rf"{_PEM_LABEL.replace('(?:BEGIN|END)', 'BEGIN')}(?:\s{{0,2}}[A-Za-z0-9+/=]{{16,}})*",
        # GitHub, GitLab, Slack and Stripe tokens: fixed prefixes.
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b",
        r"\bglpat-[A-Za-z0-9_-]{20,}",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\bxapp-\d-[A-Za-z0-9-]{10,}",
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b",
        # Google API keys, OpenAI keys, npm and PyPI tokens.
        r"\bAIza[0-9A-Za-z_-]{35}",
        r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}",
        r"\bnpm_[A-Za-z0-9]{36}\b",
        r"\bpypi-[A-Za-z0-9_-]{50,}",
        # key=value and key: value for names that always hold a secret (the value only).
        rf"(?i:{_KEYS})[\"']?\s{{0,3}}[:=]\s{{0,3}}[\"']?(?P<v>[^\s\"'&;,<>]{{6,}})",
    ]
)

#: Types in priority order: when a candidate fits several, the first that
#: validates wins (a 16-digit run is a card before it is anything else).
PRIORITY: Final = (
    "SECRET",
    "CARD",
    "IBAN",
    "EMAIL",
    "NATIONAL_ID",
    "PASSPORT",
    "DATE_OF_BIRTH",
    "IPV6",
    "IPV4",
    "PHONE",
)

#: The structured types in groups, one RE2 scan for each. One automaton for all
#: of them builds its states too slowly on text it has not seen (the states of
#: patterns that can start on the same characters multiply), and one for each
#: type costs ten calls a text. E-mail, national ids and the context-led types
#: together cost twice the sum of their scans alone on dense text (18 µs against
#: 9 for a 240-byte record), so each has its own; five groups measured best
#: (docs/redaction.md). The groups follow :data:`PRIORITY`, so that a candidate
#: that overlaps a value an earlier group confirmed is not even validated.
SCAN_GROUPS: Final = (
    ("SECRET",),
    ("CARD", "IBAN"),
    ("EMAIL",),
    ("NATIONAL_ID",),
    ("PASSPORT", "DATE_OF_BIRTH"),
    ("IPV6", "IPV4", "PHONE"),
)

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset(string.ascii_letters)
_INTL_LETTERS = frozenset(
    chr(c) for lo, hi in ((0xC0, 0x250), (0x370, 0x500), (0x4E00, 0xA000)) for c in range(lo, hi)
)
#: The characters each type's candidates can start with.
FIRST_CHARS: Final = {
    "SECRET": _LETTERS | {"-"},
    "CARD": frozenset("23456"),
    "IBAN": _LETTERS,
    "EMAIL": _LETTERS | _DIGITS | _INTL_LETTERS | {"_"},
    "NATIONAL_ID": _LETTERS | _DIGITS,
    # The first letters of their context words (PASSPORT's and DATE_OF_BIRTH's differ).
    "PASSPORT": frozenset("pPrR"),
    "DATE_OF_BIRTH": frozenset("dDbBgGnNaAcC"),
    "IPV6": frozenset(string.hexdigits) | {":"},
    "IPV4": _DIGITS,
    "PHONE": _DIGITS | {"+", "("},
}

#: Characters every candidate of a type holds, and characters none holds: with
#: :data:`FIRST_CHARS` they tell which types of a scan's group a candidate can
#: be without matching each type's pattern (``:`` is IPv6's alone).
HOLDS: Final = {"IPV6": ":", "IPV4": "."}
LACKS: Final = {"IPV4": ":", "PHONE": ":"}

BY_TYPE: Final = {
    "SECRET": SECRET,
    "CARD": CARD,
    "IBAN": IBAN,
    "EMAIL": EMAIL,
    "NATIONAL_ID": NATIONAL_ID,
    "PASSPORT": PASSPORT,
    "DATE_OF_BIRTH": DATE_OF_BIRTH,
    "IPV6": IPV6,
    "IPV4": IPV4,
    "PHONE": PHONE,
}


def _numbered(pattern: str, counter: itertools.count[int]) -> str:
    """Give each ``(?P<v>`` its own name (``v0``, ``v1`` …): neither engine allows repeats."""
    return re.sub(r"\(\?P<v>", lambda _: f"(?P<v{next(counter)}>", pattern)


def scan_pattern(types: Sequence[str] = PRIORITY) -> str:
    """The patterns of ``types`` in one alternation, for the one-pass RE2 scan.

    The scan is compiled with ``never_capture``: it only needs where a candidate
    starts and ends, which RE2's DFA finds without the slower submatch engines.
    """
    counter = itertools.count()
    return "|".join(
        f"(?:{_numbered(BY_TYPE[type_], counter)})" for type_ in PRIORITY if type_ in types
    )


def compiled(type_: str) -> re.Pattern[str]:
    """``type_``'s pattern compiled with Python ``re``, to read a candidate the scan found."""
    return re.compile(_numbered(BY_TYPE[type_], itertools.count()))
