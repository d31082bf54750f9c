"""Synthetic free text with personal data inserted at known places.

Crash reports, stack traces, log lines, support messages and feedback (the
policy's ``free_text: true`` fields). Every personal datum or secret inserted is
recorded as an :class:`InsertedSpan`, so the text is labelled by construction:
the redaction floors (issue #5) are measured against these spans, and the
simulator writes the same texts. Values pass their validators (``example.*``
domains; ``phonenumbers``-valid numbers from fictional ranges where regulators
reserve one; RFC 5737/3849 and private addresses; Luhn-valid test-scheme cards;
``python-stdnum`` IBANs); around them goes noise that looks personal and is not
(versions, UUIDs, hashes, timestamps, Luhn-failing order numbers, bad IBANs).
Deterministic: the same ``random.Random`` state gives the same text.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn

__all__ = ["KINDS", "TYPES", "InsertedSpan", "LabelledText", "generate_text"]

#: The kinds of free text :func:`generate_text` writes.
KINDS = ("crash_report", "stack_trace", "log_lines", "support_message", "feedback")
#: The types of what is inserted; the redaction engine uses the same names.
TYPES = ("EMAIL", "PHONE", "IPV4", "IPV6", "CARD", "IBAN", "SECRET")


@dataclass(frozen=True)
class InsertedSpan:
    """``text[start:end]`` is a value of ``type`` that the generator inserted."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class LabelledText:
    """A generated text and the spans of everything personal or secret in it."""

    text: str
    spans: tuple[InsertedSpan, ...]


_Pieces = list[tuple[str, str | None]]  # fragments and their types (None: not personal)

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_B64URL = _ALNUM + "-_"


_words = str.split  # "a b c" -> ["a", "b", "c"]


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


_FIRST = _words("alice bob chen dana emeka frida goran hana")
_LAST = _words("smith muller dubois rossi tanaka okafor silva")
_DOMAINS = _words("example.com example.org example.net example.test mail.example.com")
_DOMAINS.append("corp.example.org")


def _email(rng: random.Random) -> _Pieces:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    number, tag = rng.randint(1, 99), rng.choice(["billing", "ops", "test"])
    forms = [first, f"{first}.{last}", f"{first[0]}{last}{number}", f"{first}+{tag}"]
    address = f"{rng.choice([*forms, f'{first}_{last}'])}@{rng.choice(_DOMAINS)}"
    return [(address.upper() if rng.random() < 0.05 else address, "EMAIL")]


# Fictional or example ranges: region, national-number prefix, digits to add.
_RANGES = """US 20255501 2, US 41555501 2, US 61755501 2, CA 41655501 2, GB 2079460 3,
GB 1134960 3, GB 1614960 3, FR 19900 4, AU 25550 4, AU 491570 3, DE 30 8, DE 89 7,
DE 1512 7, CH 44668 4, NL 20 7, JP 3 8, IN 98765 5, IE 1 7"""
_PHONE_RANGES = [(r, p, int(n)) for r, p, n in map(str.split, _RANGES.split(","))]
_FMT = phonenumbers.PhoneNumberFormat
_PHONE_FORMATS = [_FMT.INTERNATIONAL, _FMT.NATIONAL, _FMT.E164]


def _phone(rng: random.Random) -> _Pieces:
    while True:
        region, prefix, extra = rng.choice(_PHONE_RANGES)
        nsn = int(prefix + _pick(rng, string.digits, extra))
        code = phonenumbers.country_code_for_region(region)
        number = phonenumbers.PhoneNumber(country_code=code, national_number=nsn)
        if phonenumbers.is_valid_number(number):
            break
    fmt = rng.choice(_PHONE_FORMATS)
    if fmt == _FMT.NATIONAL and region in ("JP", "IN", "IE", "CA"):
        fmt = _FMT.INTERNATIONAL  # keep national forms to 7 regions
    text = phonenumbers.format_number(number, fmt)
    style = rng.random()
    if style < 0.1 and fmt == _FMT.INTERNATIONAL:
        text = text.replace(" ", rng.choice([".", "-"]))  # +44.20.7946.0018
    elif style < 0.2 and region == "GB" and fmt == _FMT.INTERNATIONAL:
        text = text.replace("+44 ", "+44 (0)")  # the British "(0)"
    elif style < 0.3 and region in ("US", "CA") and fmt == _FMT.NATIONAL:
        text = text.replace("(", "").replace(") ", rng.choice(["-", "."])).replace("-", ".")
    return [(text, "PHONE")]


_NETS4 = _words("192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 10.0.0.0/8 172.16.0.0/12")
_NETS4 += ["192.168.0.0/16", "100.64.0.0/10", "81.0.0.0/8"]


def _ipv4(rng: random.Random) -> _Pieces:
    network = ipaddress.IPv4Network(rng.choice(_NETS4))
    return [(str(network[rng.randrange(1, network.num_addresses - 1)]), "IPV4")]


def _ipv6(rng: random.Random) -> _Pieces:
    choice = rng.random()
    if choice < 0.15:
        return [("::ffff:", "IPV6"), (f"203.0.113.{rng.randint(1, 254)}", "IPV6")]
    base = rng.choice(["2001:db8::/32", "fe80::/64", "fd00::/8", "2a00:1450::/32"])
    network = ipaddress.IPv6Network(base)
    address = network[rng.randrange(1, min(network.num_addresses, 2**64))]
    if choice < 0.25:
        address = ipaddress.IPv6Address(int(network.network_address) + rng.randrange(1, 2**16))
    text = address.exploded if choice > 0.9 else str(address)
    return [(text.upper() if rng.random() < 0.1 else text, "IPV6")]


# Issuer prefix:length of test cards (Visa, Mastercard, Amex, Discover, JCB, Diners).
_SCHEMES = "4:16 4:13 51:16 55:16 2221:16 34:15 37:15 6011:16 65:16 3528:16 36:14 4:19"
_CARD_SCHEMES = [(p, int(n)) for p, n in (row.split(":") for row in _SCHEMES.split())]


def _card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice(_CARD_SCHEMES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def _card(rng: random.Random) -> _Pieces:
    digits = _card_digits(rng)
    style = rng.random()
    if style < 0.45 or len(digits) not in (15, 16):
        return [(digits, "CARD")]
    cuts = (0, 4, 10, 15) if len(digits) == 15 else (0, 4, 8, 12, 16)
    groups = [digits[a:b] for a, b in itertools.pairwise(cuts)]
    return [((" " if style < 0.8 else "-").join(groups), "CARD")]


# Country, BBAN layout (n: digits, a: upper-case letters, c: either).
_LAYOUTS = "DE:18n GB:4a14n NL:4a10n CH:17n AT:16n FR:23n IE:4a14n PL:24n LU:3n13c DK:14n"
_IBAN_LAYOUTS = [
    (country, "".join(char * int(count) for count, char in re.findall(r"(\d+)(\w)", layout)))
    for country, layout in (row.split(":") for row in _LAYOUTS.split())
]
_UPPER = string.ascii_uppercase
_IBAN_CHARS = {"n": string.digits, "a": _UPPER, "c": _UPPER + string.digits}


def _iban(rng: random.Random) -> _Pieces:
    while True:
        country, layout = rng.choice(_IBAN_LAYOUTS)
        bban = "".join(rng.choice(_IBAN_CHARS[c]) for c in layout)
        number = country + std_iban.calc_check_digits(country + "00" + bban) + bban
        if std_iban.is_valid(number):  # national checks (FR RIB key …) may still fail
            break
    return [(std_iban.format(number) if rng.random() < 0.5 else number, "IBAN")]


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": rng.choice(["RS256", "HS256", "ES256"]), "typ": "JWT"})
    subject = f"sub-{_pick(rng, _ALNUM, 10)}"
    body = part({"sub": subject, "iat": rng.randint(1_600_000_000, 1_800_000_000)})
    return f"{header}.{body}.{_pick(rng, _B64URL, 43)}"


_KV_KEYS = [f"{k}=" for k in _words("password passwd pwd client_secret api_key apikey")]
_KV_KEYS += ["access_token=", "auth_token=", "password: "]
_AWS_NAMES = ["aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", "SecretAccessKey: "]


def _secret(rng: random.Random) -> _Pieces:
    form = rng.randrange(9)
    if form == 0:
        return [(rng.choice(["AKIA", "ASIA"]) + _pick(rng, _UPPER + "234567", 16), "SECRET")]
    if form == 1:
        return [(rng.choice(_AWS_NAMES), None), (_pick(rng, _B64, 40), "SECRET")]
    if form == 2:
        token = _jwt(rng) if rng.random() < 0.4 else _pick(rng, _B64URL + ".~", rng.randint(24, 64))
        return [("Authorization: Bearer ", None), (token, "SECRET")]
    if form == 3:
        return [(_jwt(rng), "SECRET")]
    if form == 4:
        scheme = rng.choice(["https", "postgres", "redis", "amqp", "mongodb"])
        user = rng.choice(["admin", "svc_backup", "dana", "deploy", "app"])
        password = _pick(rng, _ALNUM + "!$*_-", rng.randint(8, 20))
        host = rng.choice(["db.example.internal", "cache.example.com", "", "mq.example.org"])
        where = [(f"@{host}/app", None)] if host else [("@", None), *_ipv4(rng), ("/app", None)]
        return [(f"{scheme}://", None), (f"{user}:{password}", "SECRET"), *where]
    if form == 5:
        label = (rng.choice(["RSA", "EC", "", "OPENSSH"]) + " PRIVATE KEY").strip()
        lines = [_pick(rng, _B64, 64) for _ in range(rng.randint(2, 6))]
        block = "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
        return [(block, "SECRET")]
    if form == 6:
        return [(rng.choice(["ghp_", "gho_", "ghs_"]) + _pick(rng, _ALNUM, 36), "SECRET")]
    key = rng.choice(_KV_KEYS)
    return [(key, None), (_pick(rng, _ALNUM + "!#%^*_-", rng.randint(8, 24)), "SECRET")]


_GENERATORS = (_email, _phone, _ipv4, _ipv6, _card, _iban, _secret)
_PII: dict[str, Callable[[random.Random], _Pieces]] = dict(zip(TYPES, _GENERATORS, strict=True))


def _not_luhn(rng: random.Random) -> str:
    """A card-shaped or plain 13-19 digit number whose last digit is not its Luhn digit."""
    digits = _card_digits(rng) if rng.random() < 0.5 else str(rng.randrange(10**12, 10**19))
    good = int(luhn.calc_check_digit(digits[:-1]))
    return digits[:-1] + str((good + rng.randint(1, 9)) % 10)


def _bad_iban(rng: random.Random) -> str:
    number = _iban(rng)[0][0].replace(" ", "")
    return number[:2] + f"{(int(number[2:4]) + rng.randint(1, 90)) % 97 + 2:02d}" + number[4:]


def _noise(rng: random.Random) -> str:
    n, r, hx = rng.randrange(16), rng.randint, "0123456789abcdef"
    values = [
        lambda: f"{r(0, 20)}.{r(0, 30)}.{r(0, 300)}",
        lambda: f"10.0.{r(17000, 22000)}.{r(100, 3000)}",
        lambda: ".".join(str(r(0, 9)) for _ in range(5)),
        lambda: "-".join(_pick(rng, hx, k) for k in (8, 4, 4, 4, 12)),
        lambda: _pick(rng, hx, rng.choice([7, 40, 64])),
        lambda: f"2025-{r(1, 12):02d}-{r(1, 28):02d}T{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}Z",
        lambda: str(r(1_700_000_000_000, 1_800_000_000_000)),
        lambda: f"order {_not_luhn(rng)}",
        lambda: f"port {r(1024, 65535)}",
        lambda: f"{r(1, 9999)} ms",
        lambda: f"${r(1, 9999)}.{r(0, 99):02d}",
        lambda: f"0x{_pick(rng, hx, 12)}",
        lambda: f"ref {_bad_iban(rng)}",
        lambda: f"id={r(10**5, 10**10)}",
        lambda: ":".join(_pick(rng, hx, 2) for _ in range(6)),
        lambda: "nonce=" + base64.b64encode(_pick(rng, _ALNUM, 6).encode()).decode(),
    ]
    return values[n]()


_SLOT = re.compile(r"\{(\w+)\}")


def _templates(table: str) -> list[str]:  # several templates a line, " | " between
    return [t for line in table.strip("\n").splitlines() for t in line.split(" | ")]


_LOG_MESSAGES = _templates("""
request {noise} completed in {noise} | login failed for {EMAIL} from {IPV4}
connection from {IPV4}:{port} accepted | peer {IPV6} closed stream
upstream [{IPV6}]:{port} timed out | retrying job {noise} ({noise}) | cache miss for key {noise}
payment declined for card {CARD} | sepa mandate created for {IBAN} | sms sent to {PHONE}
config reload: {SECRET} | outbound call {SECRET} | heartbeat ok {noise}
user {EMAIL} updated profile; phone {PHONE} | gc pause {noise}, heap {noise}
agent version {noise} on {noise} | scheduled {noise} at {noise} | {pii} seen in payload
""")
_FRAMES = _templates("""
  at com.example.{module}.Service.handle(Service.java:{port})
  File "/srv/app/{module}.py", line {port}, in handle
#{port} 0x{hex} in {module}::Worker::run() ({module}.cc:{port})
    at Object.<anonymous> (/app/{module}.js:{port}:17)
""")
_ERRORS = _templates("""
NullPointerException: account <{EMAIL}> has no profile | KeyError: 'user_id' ({noise})
ConnectionError: could not reach {IPV4}:{port} | ValueError: bad card {CARD}
TimeoutError: {noise} after {noise} | RuntimeError: {SECRET} rejected
IllegalStateException: ledger {noise} closed | panic: index out of range [{port}]
""")
_SUPPORT = _templates("""
Hello, my name is {name} and I cannot log in with {EMAIL} since {noise}.
Please call me back on {PHONE}, I'm available all day.
I was charged twice on my card {CARD} for invoice {noise}.
Could you refund to my account {IBAN}? The order was {noise}.
Our VM at {IPV4} stopped answering after the upgrade to {noise}.
Our IPv6 endpoint {IPV6} is unreachable since {noise}.
I pasted the config by mistake, it contains {SECRET} - please delete it.
The error shows request id {noise} and build {noise}.
You can also reach my colleague at {EMAIL} or tel:{PHONE}. | From: {name} <{EMAIL}>
(mailto:{EMAIL}) Phone: {PHONE}; fax {PHONE} | Thanks for the quick answer yesterday, it works now.
Ticket was opened on {noise}, still no reply. | Regards, {name}
""")
_FEEDBACK = _templates("""
Love the new console, much faster than {noise}. | The billing page is confusing. | Dark mode please!
Export to CSV drops rows over {noise}. | Docs for the API are out of date ({noise}).
Contact me at {EMAIL} if you need details. | Latency from {IPV4} region got worse after {noise}.
5 stars, support was great. | Pricing page says {noise} but invoice shows {noise}.
My number {PHONE} is not saved.
""")


_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "noise": _noise,
    "port": lambda rng: str(rng.randint(1, 65535)),
    "hex": lambda rng: _pick(rng, "0123456789abcdef", 12),
    "module": lambda rng: rng.choice(["billing", "auth", "storage", "scheduler", "gateway"]),
    "name": lambda rng: rng.choice(["Dana", "Chen", "Emeka", "Frida", "Goran"]),
}


@dataclass
class _Builder:
    rng: random.Random
    pii_rate: float
    text: str = ""
    spans: list[InsertedSpan] = field(default_factory=list)

    def put(self, fragment: str, type_: str | None = None) -> None:
        """Append ``fragment``; a typed one extends the last span if they touch."""
        start, end = len(self.text), len(self.text) + len(fragment)
        if type_ is not None:
            last = self.spans[-1] if self.spans else None
            if last is not None and last.end == start and last.type == type_:
                start = self.spans.pop().start
            self.spans.append(InsertedSpan(start, end, type_))
        self.text += fragment

    def render(self, template: str) -> None:
        """Fill a template; a PII slot becomes noise when the dice say no PII."""
        pos = 0
        for match in _SLOT.finditer(template):
            self.put(template[pos : match.start()])
            self._slot(match.group(1))
            pos = match.end()
        self.put(template[pos:])
        self.put("\n")

    def _slot(self, name: str) -> None:
        rng = self.rng
        if name == "pii":
            name = rng.choice(TYPES)
        if name in _PII and rng.random() < self.pii_rate:
            for fragment, type_ in _PII[name](rng):
                self.put(fragment, type_)
        elif name in _PII or name in _SLOTS:
            self.put(_SLOTS.get(name, _noise)(rng))  # no dice for PII: noise instead
        else:
            raise ValueError(f"template slot {{{name}}}: no such slot")


def _log_lines(b: _Builder, lines: int) -> None:
    r = b.rng.randint
    for _ in range(lines):
        level = b.rng.choice(["INFO", "INFO", "DEBUG", "WARN", "ERROR"])
        stamp = f"2025-{r(1, 12):02d}-{r(1, 28):02d} {r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}"
        b.put(f"{stamp},{r(0, 999):03d} {level} [worker-{r(1, 16)}] ")
        b.render(b.rng.choice(_LOG_MESSAGES))


def _stack(b: _Builder) -> None:
    b.render(b.rng.choice(_ERRORS))
    for _ in range(b.rng.randint(3, 12)):
        b.render(b.rng.choice(_FRAMES))


def generate_text(rng: random.Random, kind: str, *, pii_rate: float = 0.5) -> LabelledText:
    """One text of ``kind`` (see :data:`KINDS`); ``pii_rate``: chance a PII slot gets PII."""
    b = _Builder(rng, pii_rate)
    if kind == "log_lines":
        _log_lines(b, rng.randint(3, 20))
    elif kind == "stack_trace":
        _stack(b)
    elif kind == "crash_report":
        b.put(f"component: {rng.choice(['gateway', 'billing', 'agent'])}\nversion: ")
        b.render("{noise}\nsignature: {noise}\nbuild: {noise}")
        _stack(b)
        b.put("--- log excerpt ---\n")
        _log_lines(b, rng.randint(2, 8))
    elif kind in ("support_message", "feedback"):
        table, low, high = (_SUPPORT, 2, 5) if kind == "support_message" else (_FEEDBACK, 1, 3)
        for template in rng.sample(table, rng.randint(low, high)):
            b.render(template)
    else:
        raise ValueError(f"text kind {kind!r}: expected one of {', '.join(KINDS)}")
    return LabelledText(b.text.rstrip("\n"), tuple(b.spans))
