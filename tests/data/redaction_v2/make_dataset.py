"""Regenerate ``tuning.jsonl`` and ``heldout.jsonl`` (format and rules in ``README.md``).

Run from the repository root: ``.venv/bin/python tests/data/redaction_v2/make_dataset.py``
(``--check`` compares instead of writing). Each split is rendered from its own
source module: ``tuning_source.py`` or ``heldout_source.py``, which hold the
split's templates, names and addresses; the values with a checksum or a shape
(ids, cards, IBANs, phones, tokens) and the look-alikes are made here, with
python-stdnum and phonenumbers, from a fixed seed. Every value is synthetic.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import random
import re
import string
import sys
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import ean, iban, isbn, issn, luhn
from stdnum.ch import ssn as ch_ssn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn as us_ssn

HERE = Path(__file__).resolve().parent
SPLITS = {
    "tuning": ("tuning_source.py", 20261207),
    "heldout": ("heldout_source.py", 20261208),
    # people's names in context, with look-alikes: the first tuning split had stopped teaching
    "tuning_names": ("names_source.py", 20261209),
}
#: The types a span may have.
TYPES = (
    "EMAIL",
    "PHONE",
    "CARD",
    "IBAN",
    "IP",
    "NATIONAL_ID",
    "PERSON",
    "ADDRESS",
    "DATE_OF_BIRTH",
    "PASSPORT",
    "SECRET",
)
#: The countries a line's values come from, by the line's language.
COUNTRIES = {
    "en": ("US", "GB", "SG"),
    "de": ("DE", "CH"),
    "fr": ("FR", "CH"),
    "it": ("IT", "CH"),
}
#: Share of lines with a structured value that get a unicode trick.
TRICK_RATE = 0.22
TRICKS = ("nbsp", "narrow_nbsp", "thin_space", "zero_width_space", "soft_hyphen", "fullwidth")
_SPACE_TRICKS = {"nbsp": "\u00a0", "narrow_nbsp": "\u202f", "thin_space": "\u2009"}
_TRICKABLE = ("EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID")
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_~]+)(?:=([^{}]*))?\}")
_ALNUM = string.ascii_letters + string.digits


def load_source(name: str) -> ModuleType:
    """One split's source module (templates, names, addresses)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), HERE / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Person:
    first: str
    last: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "").replace("-", "")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _word(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


# -- phones -------------------------------------------------------------------

_US_AREAS = ("201", "206", "212", "305", "312", "415", "425", "503", "617", "718")


def _valid_phone(rng: random.Random, country: str) -> phonenumbers.PhoneNumber:
    if country == "US":
        return phonenumbers.parse(f"+1{rng.choice(_US_AREAS)}5550{rng.randint(100, 199)}")
    if country == "GB" and rng.random() < 0.5:
        return phonenumbers.parse(f"+44207946{rng.randint(0, 999):04d}")
    kind = rng.choice((PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE))
    example = phonenumbers.example_number_for_type(country, kind)
    assert example is not None, country
    base = phonenumbers.national_significant_number(example)
    for _ in range(200):
        nsn = base[:-4] + _digits(rng, 4)
        number = phonenumbers.parse(f"+{example.country_code}{nsn}")
        if phonenumbers.is_valid_number(number):
            return number
    raise RuntimeError(f"no valid {country} phone number")


def phone(rng: random.Random, country: str, international: bool = False) -> str:
    """A valid number of ``country`` in one of the ways people write it."""
    if country == "US" and rng.random() < 0.15:
        return f"1-800-555-0{rng.randint(100, 199)}"
    number = _valid_phone(rng, country)
    intl = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    forms = [intl, intl, phonenumbers.format_number(number, PhoneNumberFormat.E164)]
    forms.append("00" + intl[1:])
    if not international:
        forms += [national, national]
        if country in ("FR", "US"):
            forms.append(re.sub(r"[ \-()]+", ".", national).strip("."))
    if country == "GB":
        forms.append(intl.replace(" ", " (0)", 1))
    text = rng.choice(forms)
    if rng.random() < 0.1:
        text += rng.choice(("x", " ext. ", " x")) + str(rng.randint(2, 99))
    return text


# -- payment --------------------------------------------------------------------

_CARD_PREFIXES: tuple[tuple[str, int], ...] = (
    ("4", 16),
    ("51", 16),
    ("53", 16),
    ("55", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("3528", 16),
)


def _card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice(_CARD_PREFIXES)
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def card(rng: random.Random) -> str:
    number = _card_digits(rng)
    sep = rng.choice((" ", " ", "-", ".", ""))
    groups = (4, 6, 5) if len(number) == 15 else (4, 4, 4, 4)
    parts, pos = [], 0
    for size in groups:
        parts.append(number[pos : pos + size])
        pos += size
    return sep.join(parts)


# BBAN shapes: n digits, a capital letters, c letters or digits.
_BBAN = {
    "DE": "18n",
    "CH": "5n12n",
    "FR": "10n11n2n",
    "IT": "1a10n12n",
    "GB": "4a14n",
    "NL": "4a10n",
    "ES": "20n",
    "AT": "16n",
    "BE": "12n",
}


def _iban_compact(rng: random.Random, country: str) -> str:
    # BE and FR BBANs carry national check digits, so about one draw in a hundred passes.
    for _ in range(20_000):
        bban = ""
        for count, kind in re.findall(r"(\d+)([nac])", _BBAN[country]):
            alphabet = {
                "n": string.digits,
                "a": string.ascii_uppercase,
                "c": string.ascii_uppercase + string.digits,
            }[kind]
            bban += _word(rng, int(count), alphabet)
        number = country + "00" + bban
        number = country + iban.calc_check_digits(number) + bban
        if iban.is_valid(number):
            return number
    raise RuntimeError(f"no valid {country} IBAN")


def iban_text(rng: random.Random, country: str) -> str:
    if country in ("US", "SG"):
        country = rng.choice(("DE", "GB", "NL", "BE", "AT"))
    number = _iban_compact(rng, country if rng.random() < 0.8 else rng.choice(tuple(_BBAN)))
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    form = rng.choice(
        ("grouped", "grouped", "grouped", "compact", "lower", "dashed", "lower_compact")
    )
    return {
        "grouped": grouped,
        "compact": number,
        "lower": grouped.lower(),
        "dashed": grouped.replace(" ", "-"),
        "lower_compact": number.lower(),
    }[form]


# -- national identifiers ------------------------------------------------------


def ssn(rng: random.Random) -> str:
    while True:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        text = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if us_ssn.is_valid(text):
            return text if rng.random() < 0.85 else text.replace("-", " ")


_NINO_FIRST = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
_NINO_SECOND = [c for c in string.ascii_uppercase if c not in "DFIOQUV"]
_NINO_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in _NINO_BAD:
            break
    digits = _digits(rng, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def ahv(rng: random.Random) -> str:
    body = "756" + _digits(rng, 9)
    number = body + ean.calc_check_digit(body)
    assert ch_ssn.is_valid(number)
    return str(ch_ssn.format(number))


def de_idnr(rng: random.Random) -> str:
    while True:
        first = str(rng.randint(1, 9))
        digits = list(first + _digits(rng, 9))
        number = "".join(digits)
        for check in string.digits:
            if idnr.is_valid(number + check):
                text = number + check
                return text if rng.random() < 0.6 else str(idnr.format(text))


def fr_nir(rng: random.Random) -> str:
    body = (
        rng.choice("12")
        + f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
        + f"{rng.randint(1, 95):02d}{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
    )
    number = body + nir.calc_check_digits(body)
    assert nir.is_valid(number)
    return str(nir.format(number)) if rng.random() < 0.6 else number


_CF_MONTHS = "ABCDEHLMPRST"


def it_codice_fiscale(rng: random.Random) -> str:
    body = (
        _word(rng, 6, "BCDFGHLMNPRSTVZ")
        + f"{rng.randint(40, 99):02d}"
        + rng.choice(_CF_MONTHS)
        + f"{rng.randint(1, 28) + rng.choice((0, 40)):02d}"
        + rng.choice("ABCDEFGHILM")
        + _digits(rng, 3)
    )
    number = body + codicefiscale.calc_check_digit(body)
    assert codicefiscale.is_valid(number)
    return number


def es_dni(rng: random.Random) -> str:
    body = _digits(rng, 8)
    return body + dni.calc_check_digit(body)


def es_nie(rng: random.Random) -> str:
    body = rng.choice("XYZ") + _digits(rng, 7)
    return body + nie.calc_check_digit(body)


def nl_bsn(rng: random.Random) -> str:
    while True:
        number = str(rng.randint(1, 9)) + _digits(rng, 8)
        if bsn.is_valid(number):
            return number


_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)


def sg_nric(rng: random.Random) -> str:
    """A Singapore NRIC (S, T) or FIN (F, G) with its check letter."""
    prefix = rng.choice("STFG")
    digits = _digits(rng, 7)
    total = sum(int(d) * w for d, w in zip(digits, _NRIC_WEIGHTS, strict=True))
    total += 4 if prefix in "TG" else 0
    letters = "JZIHGFEDCBA" if prefix in "ST" else "XWUTRQPNMLK"
    return prefix + digits + letters[total % 11]


NATIONAL_IDS: dict[str, Callable[[random.Random], str]] = {
    "SSN": ssn,
    "NINO": nino,
    "AHV": ahv,
    "IDNR": de_idnr,
    "NIR": fr_nir,
    "CF": it_codice_fiscale,
    "DNI": es_dni,
    "NIE": es_nie,
    "BSN": nl_bsn,
    "NRIC": sg_nric,
}
_ID_OF_COUNTRY = {
    "US": "SSN",
    "GB": "NINO",
    "SG": "NRIC",
    "DE": "IDNR",
    "CH": "AHV",
    "FR": "NIR",
    "IT": "CF",
}

# -- the rest -------------------------------------------------------------------


def ipv4(rng: random.Random) -> str:
    prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113", "10.20", "172.16", "192.168"))
    parts = prefix.split(".")
    while len(parts) < 4:
        parts.append(str(rng.randint(1, 254)))
    return ".".join(parts)


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(rng.choice((2, 3, 6)))]
    if len(groups) == 6:
        return "2001:db8:" + ":".join(groups)
    return "2001:db8:" + ":".join(groups[:1]) + "::" + ":".join(groups[1:])


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
    "novembre dicembre",
}


def date_of_birth(rng: random.Random, lang: str) -> str:
    year, month, day = rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28)
    name = _MONTHS[lang].split()[month - 1]
    forms = [f"{year}-{month:02d}-{day:02d}"]
    if lang == "en":
        forms += [f"{name} {day}, {year}", f"{day} {name} {year}", f"{month:02d}/{day:02d}/{year}"]
    elif lang == "de":
        forms += [f"{day:02d}.{month:02d}.{year}", f"{day}. {name} {year}"]
    else:
        forms += [f"{day:02d}/{month:02d}/{year}", f"{day} {name} {year}"]
    return rng.choice(forms)


def passport(rng: random.Random, country: str) -> str:
    if country == "US":
        return rng.choice(string.ascii_uppercase) + _digits(rng, 8)
    if country == "DE":
        return "C" + _word(rng, 8, "CFGHJKLMNPRTVWXYZ0123456789")
    if country == "FR":
        return _digits(rng, 2) + _word(rng, 2, string.ascii_uppercase) + _digits(rng, 5)
    if country == "IT":
        return _word(rng, 2, string.ascii_uppercase) + _digits(rng, 7)
    if country == "CH":
        return rng.choice("SX") + _digits(rng, 7)
    if country == "SG":
        return rng.choice("EK") + _digits(rng, 7) + rng.choice(string.ascii_uppercase)
    return _digits(rng, 9)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt(rng: random.Random) -> str:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = {
        "sub": str(rng.randint(10**5, 10**9)),
        "iat": rng.randint(1_600_000_000, 1_800_000_000),
    }
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64url(rng.randbytes(32))}"


def pem(rng: random.Random) -> str:
    kind = rng.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"))
    body = base64.b64encode(rng.randbytes(rng.choice((96, 144, 192)))).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


def token(rng: random.Random) -> str:
    """A token with a known shape (Slack, GitHub, GitLab, Stripe) or a JWT."""
    kind = rng.choice(("slack", "github", "github_pat", "gitlab", "stripe", "jwt"))
    if kind == "slack":
        return f"xox{rng.choice('bpa')}-{_digits(rng, 12)}-{_digits(rng, 13)}-{_word(rng, 24)}"
    if kind == "github":
        return f"gh{rng.choice('pousr')}_{_word(rng, 36)}"
    if kind == "github_pat":
        head = _word(rng, 20, string.ascii_uppercase + string.digits)
        return f"github_pat_11{head}_{_word(rng, 59)}"
    if kind == "gitlab":
        return "glpat-" + _word(rng, 20, _ALNUM + "_-")
    if kind == "stripe":
        return f"{rng.choice(('sk', 'rk'))}_{rng.choice(('live', 'test'))}_{_word(rng, 24)}"
    return jwt(rng)


def secret_value(rng: random.Random) -> str:
    """A high-entropy value, as typed after ``password=`` or ``token=``."""
    return _word(rng, rng.randint(14, 32), _ALNUM + "!#%*+-_.~^")


# -- look-alikes (no personal data) ---------------------------------------------


def _issn(rng: random.Random) -> str:
    body = _digits(rng, 7)
    return f"ISSN {body[:4]}-{body[4:]}{issn.calc_check_digit(body)}"


def _isbn(rng: random.Random) -> str:
    body = "978" + rng.choice("0123") + _digits(rng, 8)
    number = body + ean.calc_check_digit(body)
    assert isbn.is_valid(number)
    return str(isbn.format(number))


def _tracking(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "1Z" + _word(rng, 6, string.ascii_uppercase + string.digits) + _digits(rng, 10)
    if kind == 1:
        return f"0{rng.randint(1, 9)} {_digits(rng, 4)} {_digits(rng, 4)}"
    if kind == 2:
        return "JJD" + _digits(rng, 18)
    if kind == 3:
        return f"{rng.choice(('6A', '8R', 'LA'))}{_digits(rng, 11)}"
    return " ".join(_digits(rng, 4) for _ in range(5)) + " " + _digits(rng, 2)


def _order(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"#{rng.randint(10**5, 10**9)}"
    if kind == 1:
        return f"ORD-{rng.randint(2019, 2026)}-{_digits(rng, 6)}"
    if kind == 2:
        return f"{rng.randint(10, 99)}-{_digits(rng, 7)}-{_digits(rng, 7)}"
    return _digits(rng, 10)


def _version(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 300)}"
    if kind == 1:
        return f"10.0.{rng.randint(17000, 26000)}.{rng.randint(256, 5000)}"
    if kind == 2:
        return (
            f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}-rc.{rng.randint(1, 5)}"
        )
    return f"{rng.randint(2019, 2026)}.{rng.randint(1, 12)}.{rng.randint(1, 9)}"


def _timestamp(rng: random.Random) -> str:
    kind = rng.randrange(4)
    h, m, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    if kind == 0:
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{h:02d}:{m:02d}:{s:02d}Z"
    if kind == 1:
        return str(rng.randint(1_700_000_000_000, 1_800_000_000_000))
    if kind == 2:
        return f"{rng.randint(1, 28):02d}/Dec/2026:{h:02d}:{m:02d}:{s:02d} +0000"
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return f"{day} {h:02d}:{m:02d}:{s:02d},{_digits(rng, 3)}"


def _amount(rng: random.Random) -> str:
    whole, cents = rng.randint(1, 99_999), rng.randint(0, 99)
    thousands = f"{whole:,}"
    kind = rng.randrange(5)
    if kind == 0:
        return f"${thousands}.{cents:02d}"
    if kind == 1:
        return f"{thousands.replace(',', '.')},{cents:02d} €"
    if kind == 2:
        return f"CHF {thousands.replace(',', chr(39))}.{cents:02d}"
    if kind == 3:
        return f"{thousands.replace(',', chr(0xA0))},{cents:02d}\u00a0€"
    return f"EUR {whole}.{cents:02d}"


def _luhn_failing(rng: random.Random) -> str:
    while True:
        number = "4" + _digits(rng, 15)
        if not luhn.is_valid(number):
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _bad_iban(rng: random.Random) -> str:
    number = _iban_compact(rng, rng.choice(("DE", "FR", "CH", "IT")))
    check = f"{(int(number[2:4]) + rng.randint(1, 90)) % 97 + 2:02d}"
    bad = number[:2] + check + number[4:]
    if iban.is_valid(bad):
        bad = number[:2] + "00" + number[4:]
    return " ".join(bad[i : i + 4] for i in range(0, len(bad), 4))


_JVM = (
    "java.lang.NullPointerException",
    "java.lang.IllegalStateException",
    "java.util.concurrent.TimeoutException",
    "org.springframework.web.client.HttpServerErrorException",
    "com.fasterxml.jackson.core.JsonParseException",
    "kotlin.UninitializedPropertyAccessException",
    "System.InvalidOperationException",
)
_REGIONS = (
    "eu-west-1",
    "eu-central-1",
    "us-east-2",
    "ap-southeast-1",
    "westeurope",
    "europe-west6",
)
_PRODUCTS = (
    "Visual Studio Code",
    "Microsoft Teams",
    "Adobe Acrobat Reader",
    "Google Chrome",
    "Mozilla Firefox",
    "Grafana",
    "Kubernetes",
    "PostgreSQL",
    "Jira Service Management",
    "Outlook for Mac",
    "SAP GUI",
    "Android Studio",
    "Apple Safari",
    "Windows Defender",
)

LOOKALIKES: dict[str, Callable[[random.Random], str]] = {
    "issn": _issn,
    "isbn": _isbn,
    "track": _tracking,
    "order": _order,
    "version": _version,
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "sha": lambda rng: rng.randbytes(rng.choice((20, 32))).hex(),
    "gitsha": lambda rng: rng.randbytes(4).hex()[:7],
    "ts": _timestamp,
    "amount": _amount,
    "jvm": lambda rng: rng.choice(_JVM),
    "region": lambda rng: rng.choice(_REGIONS),
    "product": lambda rng: rng.choice(_PRODUCTS),
    "luhnfail": _luhn_failing,
    "ibanbad": _bad_iban,
    "hex": lambda rng: "0x" + rng.randbytes(6).hex(),
    "ms": lambda rng: str(rng.randint(2, 99_999)),
    "port": lambda rng: str(rng.choice((443, 5432, 6379, 8080, 8443, 9092, 27017))),
    "date": lambda rng: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
}


# -- rendering --------------------------------------------------------------------


@dataclass
class Line:
    """The values of one rendered line."""

    rng: random.Random
    lang: str
    country: str
    people: list[Person]
    addresses: Callable[[str], str]
    emails: dict[int, str] = field(default_factory=dict)
    #: The split's own look-alike words by field (``{~city}``), if it has any.
    words: dict[str, list[str]] = field(default_factory=dict)

    def email(self, index: int) -> str:
        if index not in self.emails:
            self.emails[index] = make_email(self.rng, self.people[index], self.people)
        return self.emails[index]


_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "corp.example.org",
    "example.co.uk",
    "example.de",
    "example.ch",
    "example.fr",
    "example.it",
    "bücher.example",
    "müller-bau.example",
)


def make_email(rng: random.Random, person: Person, people: list[Person]) -> str:
    first, last = person.first.lower(), person.last.lower()
    if rng.random() < 0.8:
        first, last = _ascii(first), _ascii(last)
        if "'" in person.last and rng.random() < 0.7:
            last = person.last.lower().replace(" ", "")
            last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
    else:
        first, last = first.replace(" ", ""), last.replace(" ", "")
    forms = [
        f"{first}.{last}",
        f"{first}.{last}",
        f"{first[0]}.{last}",
        f"{first}{last[0]}",
        f"{first}_{last}",
        f"{first}.{last}+{rng.choice(('support', 'billing', 'news'))}",
        f"{last}{rng.randint(1, 99)}",
        f"{first}-{last}",
    ]
    other = people[1] if people[0] is person and len(people) > 1 else people[0]
    forms.append(f"{first}&{_ascii(other.first)}")
    local = rng.choice(forms)
    domain = rng.choice(_DOMAINS)
    address = f"{local}@{domain}"
    return address.upper() if rng.random() < 0.05 else address


def obfuscate(rng: random.Random, address: str) -> str:
    local, domain = address.split("@")
    kind = rng.randrange(4)
    if kind == 0:
        return f"{local} at {domain.replace('.', ' dot ')}"
    if kind == 1:
        return f"{local} [at] {domain.replace('.', ' [dot] ')}"
    if kind == 2:
        return f"{local}(at){domain}"
    return f"{local} AT {domain.replace('.', ' DOT ')}"


def address(rng: random.Random, source: ModuleType, country: str) -> str:
    """A street address in ``country``'s format from the split's own streets and places."""
    street = rng.choice(source.STREETS[country])
    number = rng.randint(1, 180)
    if country == "SG":
        unit = f"#{rng.randint(2, 25):02d}-{rng.randint(1, 150):02d}"
        return (
            f"Blk {number} {street}, {unit}, Singapore {rng.randint(10, 82):02d}{_digits(rng, 4)}"
        )
    place = rng.choice(source.PLACES[country])
    if country == "GB":
        return f"{number} {street}, {place[0]} {place[1]}"
    if country == "US":
        return f"{number} {street}, {place[0]}, {place[1]} {place[2]}"
    if country == "FR":
        return f"{number} {street}, {place[0]} {place[1]}"
    if country == "IT":
        return f"{street} {number}, {place[0]} {place[1]}"
    return f"{street} {number}, {place[0]} {place[1]}"  # DE, CH


def field_value(line: Line, name: str) -> tuple[str, str | None]:
    """The text of one template field and its span type (``None``: no span)."""
    rng, country = line.rng, line.country
    if name.startswith("~"):
        if name[1:] in LOOKALIKES:
            return LOOKALIKES[name[1:]](rng), None
        return rng.choice(line.words[name[1:]]), None  # the split's own look-alike words
    simple: dict[str, Callable[[], tuple[str, str]]] = {
        "NAME": lambda: (line.people[0].full, "PERSON"),
        "NAME2": lambda: (line.people[1].full, "PERSON"),
        "FIRST": lambda: (line.people[0].first, "PERSON"),
        "FIRST2": lambda: (line.people[1].first, "PERSON"),
        "LAST": lambda: (line.people[0].last, "PERSON"),
        "LAST2": lambda: (line.people[1].last, "PERSON"),
        # as chats, logs and forms write names
        "FIRST_LC": lambda: (line.people[0].first.lower(), "PERSON"),
        "NAME_UC": lambda: (line.people[0].full.upper(), "PERSON"),
        "INIT_LAST": lambda: (f"{line.people[0].first[0]}. {line.people[0].last}", "PERSON"),
        "LAST_FIRST": lambda: (f"{line.people[0].last}, {line.people[0].first}", "PERSON"),
        "LAST_FIRST_UC": lambda: (
            f"{line.people[0].last}, {line.people[0].first}".upper(),
            "PERSON",
        ),
        "EMAIL": lambda: (line.email(0), "EMAIL"),
        "EMAIL2": lambda: (line.email(1), "EMAIL"),
        "EMAIL_ENC": lambda: (quote(line.email(0), safe=""), "EMAIL"),
        "EMAIL_OBF": lambda: (obfuscate(rng, line.email(0)), "EMAIL"),
        "PHONE": lambda: (phone(rng, country), "PHONE"),
        "PHONE_INTL": lambda: (phone(rng, country, international=True), "PHONE"),
        "CARD": lambda: (card(rng), "CARD"),
        "IBAN": lambda: (iban_text(rng, country), "IBAN"),
        "IP4": lambda: (ipv4(rng), "IP"),
        "IP6": lambda: (ipv6(rng), "IP"),
        "NID": lambda: (NATIONAL_IDS[_ID_OF_COUNTRY[country]](rng), "NATIONAL_ID"),
        "ADDR": lambda: (line.addresses(country), "ADDRESS"),
        "DOB": lambda: (date_of_birth(rng, line.lang), "DATE_OF_BIRTH"),
        "PASSPORT": lambda: (passport(rng, country), "PASSPORT"),
        "TOKEN": lambda: (token(rng), "SECRET"),
        "SECRETV": lambda: (secret_value(rng), "SECRET"),
        "JWT": lambda: (jwt(rng), "SECRET"),
        "PEM": lambda: (pem(rng), "SECRET"),
    }
    if name in simple:
        return simple[name]()
    if name in NATIONAL_IDS:
        return NATIONAL_IDS[name](rng), "NATIONAL_ID"
    raise KeyError(f"unknown template field {name!r}")


def apply_trick(rng: random.Random, value: str, trick: str) -> tuple[str, str]:
    """``value`` written with a unicode trick, and the trick's name (see ``README.md``).

    A space trick on a value without spaces, or full-width digits in one without
    digits, falls back to a zero-width space: the name says which was applied.
    """
    if trick in _SPACE_TRICKS and " " in value:
        return value.replace(" ", _SPACE_TRICKS[trick]), trick
    if trick == "fullwidth" and any(c.isdigit() for c in value):
        return "".join(chr(ord(c) - 48 + 0xFF10) if "0" <= c <= "9" else c for c in value), trick
    if trick != "soft_hyphen":
        trick = "zero_width_space"
    mark = "\u00ad" if trick == "soft_hyphen" else "\u200b"
    inner = [i for i in range(1, len(value)) if value[i - 1].isalnum() and value[i].isalnum()]
    at = rng.choice(inner)
    return value[:at] + mark + value[at:], trick


def render(
    rng: random.Random, template: str, line: Line
) -> tuple[str, list[dict[str, object]], str | None]:
    """The line's text, its spans and the unicode trick applied (if any)."""
    values: list[tuple[str, str | None]] = []  # (text, span type or None)
    pos = 0
    for match in _FIELD.finditer(template):
        values.append((template[pos : match.start()], None))
        if match.group(1) is None:
            values.append((match.group(0)[0], None))
        elif match.group(2) is not None:  # a value written in the template: {TYPE=text}
            assert match.group(1) in TYPES, match.group(1)
            values.append((match.group(2), match.group(1)))
        else:
            values.append(field_value(line, match.group(1)))
        pos = match.end()
    values.append((template[pos:], None))
    trick = None
    trickable = [i for i, (_, kind) in enumerate(values) if kind in _TRICKABLE]
    if trickable and rng.random() < TRICK_RATE:
        index = rng.choice(trickable)
        tricked, trick = apply_trick(rng, values[index][0], rng.choice(TRICKS))
        values[index] = (tricked, values[index][1])
    parts: list[str] = []
    spans: list[dict[str, object]] = []
    size = 0
    for text, kind in values:
        if kind is not None:
            spans.append({"start": size, "end": size + len(text), "type": kind})
        parts.append(text)
        size += len(text)
    return "".join(parts), spans, trick


def generate(split: str) -> list[dict[str, object]]:
    """The rows of one split, in a fixed order."""
    source_name, seed = SPLITS[split]
    source = load_source(source_name)
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for number, (src, lang, template) in enumerate(source.TEMPLATES, 1):
        template_id = f"{source.PREFIX}{number:03d}"
        firsts, lasts = source.NAMES[lang]
        for _ in range(source.RENDERS):
            people = [Person(rng.choice(firsts), rng.choice(lasts)) for _ in range(2)]
            while people[1].first == people[0].first:
                people[1] = Person(rng.choice(firsts), people[1].last)
            line = Line(
                rng=rng,
                lang=lang,
                country=rng.choice(COUNTRIES[lang]),
                people=people,
                addresses=lambda country: address(rng, source, country),
                words=getattr(source, "WORDS", {}),
            )
            text, spans, trick = render(rng, template, line)
            rows.append(
                {
                    "text": text,
                    "spans": spans,
                    "lang": lang,
                    "source": src,
                    "template": template_id,
                    "split": split,
                    "trick": trick,
                }
            )
    return rows


def dump(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    for split in SPLITS:
        path = HERE / f"{split}.jsonl"
        text = dump(generate(split))
        if check:
            if path.read_text("utf-8") != text:
                print(f"{path.name} differs from what make_dataset.py writes")
                return 1
            continue
        path.write_text(text, "utf-8")
        print(f"{path.name}: {text.count(chr(10))} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
