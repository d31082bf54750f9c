"""What of a record a purpose may see: field narrowing and pseudonymized views.

The policy narrows fields per purpose (``purposes.<id>.fields``: per kind, the
only fields the purpose sees) and marks purposes that see telemetry only
pseudonymized (``pseudonymized: true``). For those, each field follows its
``telemetry`` treatment (a keyed pseudonym, or an IP address truncated to its
network), lookup fields (e-mail, username) are pseudonymized too, and the
subject appears only as a keyed pseudonym.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from servinfo.crypto import Pseudonymizer
from servinfo.policy import Policy

#: Networks an address is truncated to: a /24 keeps a network, not a host.
IPV4_PREFIX = 24
IPV6_PREFIX = 48
#: Addresses whose normalized and truncated text is remembered. Telemetry repeats
#: a user's address in event after event, and ``ipaddress`` spends microseconds
#: of pure Python on each parse; the memo is bounded and held in memory only.
_IP_MEMO_SIZE = 4096


@dataclass(frozen=True)
class FieldPlan:
    """For one (purpose, kind): the fields shown and how each is transformed."""

    shown: frozenset[str] | None  # None: every field
    pseudonymize: frozenset[str]
    truncate: frozenset[str]
    pseudonymous_subject: bool


_NOTHING = FieldPlan(frozenset(), frozenset(), frozenset(), True)


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``ipaddress.ip_address(text)`` for text, without first failing IPv4 on every IPv6
    address (only IPv6 has a ':'); ValueError when it is no address."""
    return (ipaddress.IPv6Address if ":" in text else ipaddress.IPv4Address)(text)


@lru_cache(maxsize=_IP_MEMO_SIZE)
def normalize_ip(text: str) -> str:
    """``parse_ip(text).compressed``, memoized; ValueError when it is no address."""
    return parse_ip(text).compressed


@lru_cache(maxsize=_IP_MEMO_SIZE)
def truncate_ip(value: str) -> str:
    """The network of an address (``203.0.113.0/24``, a /48 for IPv6), memoized;
    ``<invalid address>`` when it is no address.

    A network (``203.0.113.0/24``) is accepted too, and cut to the same prefix
    unless its own is shorter: ingest already stores a ``truncate`` field as its
    network, and the read views truncate it again, so truncating twice must be
    truncating once.
    """
    text, slash, length = value.partition("/")
    try:
        address = parse_ip(text)
        prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
        if slash:
            prefix = min(prefix, _prefix_length(length, address.max_prefixlen))
    except ValueError:
        return "<invalid address>"
    # The network address by masking the integer: the same text as
    # ip_network(f"{address}/{prefix}", strict=False), without parsing it again.
    network = int(address) >> (address.max_prefixlen - prefix) << (address.max_prefixlen - prefix)
    return f"{type(address)(network)}/{prefix}"


def _prefix_length(text: str, most: int) -> int:
    """The prefix length after a '/': decimal digits only, at most ``most``."""
    if not (text.isascii() and text.isdigit()) or int(text) > most:
        raise ValueError(f"not a prefix length: {text!r}")
    return int(text)


class Views:
    """Field plans compiled from the policy once, applied to every record read."""

    def __init__(self, policy: Policy, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer
        self._plans: dict[tuple[str, str], FieldPlan] = {}
        kinds = policy.kinds()
        for purpose_id, purpose in policy.purposes.items():
            for kind_id, kind in kinds.items():
                narrowed = purpose.fields.get(kind_id)
                pseudonymize: set[str] = set()
                truncate: set[str] = set()
                if purpose.pseudonymized:
                    for name, spec in kind.fields.items():
                        if spec.telemetry == "truncate":
                            truncate.add(name)
                        elif spec.telemetry == "pseudonymize" or spec.lookup:
                            pseudonymize.add(name)
                self._plans[purpose_id, kind_id] = FieldPlan(
                    frozenset(narrowed) if narrowed is not None else None,
                    frozenset(pseudonymize),
                    frozenset(truncate),
                    purpose.pseudonymized,
                )

    def plan(self, purpose: str, kind: str) -> FieldPlan:
        return self._plans.get((purpose, kind), _NOTHING)

    def subject_label(self, purpose: str, kind: str, subject_id: str) -> str:
        if self.plan(purpose, kind).pseudonymous_subject:
            return "pseudonym:" + self._pseudonymizer.pseudonym(subject_id)
        return subject_id

    def apply(self, purpose: str, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of one record as ``purpose`` may see them."""
        plan = self.plan(purpose, kind)
        shown: dict[str, Any] = {}
        for name, value in fields.items():
            if plan.shown is not None and name not in plan.shown:
                continue
            if value is not None and name in plan.truncate:
                value = truncate_ip(str(value))
            elif value is not None and name in plan.pseudonymize:
                value = "pseudonym:" + self._pseudonymizer.pseudonym(f"{name}:{value}")
            shown[name] = value
        return shown
