r"""Audit entries and their canonical bytes: the leaves of the audit log's Merkle tree.

The canonical form of an entry is one JSON object in UTF-8 with the keys sorted
by code point, no whitespace, non-ASCII characters written as themselves,
integers in decimal, no floats and a format version ``v``. Format 2, which
new entries are written in::

    {"action":"read","actor":"p_7","at":1735689600000,"details":{"rows":3},
     "links":{"request_id":"5d0c…"},"outcome":"allow","policy_version":"2025.1",
     "purpose":"technical_support","reasons":["support may read support_tickets"],
     "record_ids":["9f1e…"],"seq":17,"subject_pseudonym":"3b7a…","v":2}

(shown on several lines here; the bytes are one line). These bytes are built
once, when the entry is appended, and then *stored*: the leaf hash is
SHA-256(0x00 || stored bytes), and verification rehashes the stored bytes. It
never re-serializes an entry, so a change in the JSON library, in Unicode
handling or in this module can never make an honest old entry look tampered.
:meth:`AuditEntry.from_canonical` is for reading an entry back (display,
export); it refuses bytes that are not exactly the canonical form of what they
parse to, so every entry has one encoding.

Subjects appear only as ``subject_pseudonym``: a keyed HMAC with a per-subject
salt computed elsewhere and carried here as a string. Destroying the salt at
erasure leaves the entry (and so the tree) intact while unlinking it from the
person.

In format 2 an entry about a subject names nothing else that could tie it to
the person in clear: its ``record_ids``, the values of ``links`` (request ids,
consent ids, the subject's principal …) and, when the subject's own principal
or its authorized agent acted, its ``actor`` (written ``{"ref":"…"}``, which no
principal name can be) are :func:`reference`\ s under the subject's reference
key, itself derived from the salt: destroying the salt cuts those too. An
entry naming no subject has empty ``links`` and a named actor. Format 1
(no ``links``, identifiers in clear) is still read and verified, never written.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from json.encoder import encode_basestring as _quote  # the C escaper json.dumps uses
from types import MappingProxyType
from typing import Any, TypeAlias

from servinfo.audit.errors import EntryInvalid
from servinfo.crypto.keyed_hash import REFERENCE_SIZE

__all__ = ["FORMAT", "REFERENCE_SIZE", "Action", "AuditEntry", "DetailValue", "reference"]

#: The value types ``details`` may hold: no floats (their text is not portable), no nesting.
DetailValue: TypeAlias = str | int | bool | None

#: The format new entries are written in; format 1 is still read.
FORMAT = 2
_NO_DETAILS: Mapping[str, DetailValue] = MappingProxyType({})
_NO_LINKS: Mapping[str, str] = MappingProxyType({})
_ACTION = re.compile(r"[a-z][a-z0-9_]*")
#: Link names are lower_snake_case, like actions: nothing to escape.
_LINK_NAME = _ACTION
_REFERENCE = re.compile(r"[0-9a-f]{32}")
_KEYS_V1 = frozenset(
    {
        "v",
        "seq",
        "at",
        "actor",
        "action",
        "purpose",
        "outcome",
        "reasons",
        "subject_pseudonym",
        "record_ids",
        "details",
        "policy_version",
    }
)
_KEYS = {1: _KEYS_V1, 2: _KEYS_V1 | {"links"}}


def reference(reference_key: bytes, identifier: str) -> str:
    """The reference that stands for ``identifier`` in entries about one subject.

    ``HMAC-SHA256(reference_key, identifier as UTF-8)``, its first
    :data:`REFERENCE_SIZE` bytes as lower-case hex; ``reference_key`` is the
    subject's (:meth:`servinfo.crypto.Pseudonymizer.reference_key`). Whoever holds
    the key (the subject, in their access history) can recompute it; once the
    subject's salt is destroyed no one can.
    """
    data = identifier.encode("utf-8")
    return hmac.digest(reference_key, data, "sha256")[:REFERENCE_SIZE].hex()


class Action(StrEnum):
    """The actions servinfo audits. Other lower_snake_case names are accepted too."""

    DECISION = "decision"
    READ = "read"
    WRITE = "write"
    DISCLOSURE = "disclosure"
    ERASURE = "erasure"
    KEY_ROTATION = "key_rotation"
    PRINCIPAL_CHANGE = "principal_change"
    #: Break-glass: an administrator token issued offline with the master key.
    ADMIN_RECOVERY = "admin_recovery"
    POLICY_CHANGE = "policy_change"
    LEDGER_CHANGE = "ledger_change"
    REQUEST_CHANGE = "request_change"


_ACTIONS = frozenset(Action)


@dataclass(frozen=True)
class AuditEntry:
    """One audited event. ``seq`` is its position in the log, assigned when it is appended.

    In format 2, when ``subject_pseudonym`` is set, ``record_ids``, the values of
    ``links`` and (with ``subject_actor``) ``actor`` hold references, not identifiers.
    """

    seq: int
    at: int  # milliseconds since the Unix epoch
    actor: str  # principal id or name; a reference when ``subject_actor``
    action: str
    purpose: str | None = None
    outcome: str | None = None  # "allow", "deny", …
    reasons: tuple[str, ...] = ()
    subject_pseudonym: str | None = None
    record_ids: tuple[str, ...] = ()
    details: Mapping[str, DetailValue] = field(default_factory=lambda: _NO_DETAILS, hash=False)
    policy_version: str | None = None
    #: Identifiers that tie the entry to the person, by name (format 2: references).
    links: Mapping[str, str] = field(default_factory=lambda: _NO_LINKS, hash=False)
    #: The actor is the subject's own principal or its authorized agent (format 2).
    subject_actor: bool = False
    v: int = FORMAT

    def __post_init__(self) -> None:
        _check_count("seq", self.seq)
        _check_count("at", self.at)
        if type(self.v) is not int or self.v not in _KEYS:
            raise EntryInvalid(f"entry {self.seq}: format {self.v!r}, expected 1 or 2")
        if type(self.subject_actor) is not bool:
            raise EntryInvalid(f"entry {self.seq}: subject_actor must be a boolean")
        if not isinstance(self.actor, str) or not self.actor:
            raise EntryInvalid(f"entry {self.seq}: actor must be a non-empty string")
        if self.action not in _ACTIONS and (
            not isinstance(self.action, str) or not _ACTION.fullmatch(self.action)
        ):
            raise EntryInvalid(
                f"entry {self.seq}: action must be lower_snake_case, got {self.action!r}"
            )
        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise EntryInvalid(f"entry {self.seq}: {name} must be a string or None")
        # Freeze what the caller passed (a list, a dict) into a tuple or a read-only
        # copy; tuples and the shared empty details are kept as they are.
        for name, freeze in _FROZEN:
            value = getattr(self, name)
            frozen = freeze(self.seq, name, value)
            if frozen is not value:
                object.__setattr__(self, name, frozen)
        self._check_references()

    def _check_references(self) -> None:
        """Format 2: an entry about a subject holds references where identifiers were;
        one about no subject (and any format 1 entry) has no links and a named actor."""
        keyed = self.v == 2 and self.subject_pseudonym is not None
        if not keyed:
            if self.links or self.subject_actor:
                raise EntryInvalid(
                    f"entry {self.seq}: links and a subject actor need format 2 and a subject"
                )
            return
        refs = [*self.record_ids, *self.links.values()]
        if self.subject_actor:
            refs.append(self.actor)
        for ref in refs:
            if not _REFERENCE.fullmatch(ref):
                raise EntryInvalid(
                    f"entry {self.seq}: got {ref[:40]!r} where a reference (32 lower-case hex "
                    "characters) was expected"
                )

    def canonical_bytes(self) -> bytes:
        """The bytes to store and hash (the format in the module docstring).

        Written field by field in sorted key order with the escaper of
        :func:`json.dumps`, which gives the same bytes as ``json.dumps(...,
        sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` (a test
        holds it to that) at a fraction of the cost: entries are appended by
        the hundred thousand per second.
        """
        q = _quote
        actor = f'{{"ref":{q(self.actor)}}}' if self.subject_actor else q(self.actor)
        links = f'"links":{_encode_links(self.links)},' if self.v == 2 else ""
        # seq and at are exact ints (checked), so formatting them is int.__repr__;
        # the optional fields are str or None (checked).
        text = (
            f'{{"action":{q(self.action)},"actor":{actor},"at":{self.at},'
            f'"details":{_encode_details(self.details)},{links}'
            f'"outcome":{"null" if self.outcome is None else q(self.outcome)},'
            f'"policy_version":{"null" if self.policy_version is None else q(self.policy_version)},'
            f'"purpose":{"null" if self.purpose is None else q(self.purpose)},'
            f'"reasons":[{",".join(map(q, self.reasons))}],'
            f'"record_ids":[{",".join(map(q, self.record_ids))}],"seq":{self.seq},'
            f'"subject_pseudonym":'
            f"{'null' if self.subject_pseudonym is None else q(self.subject_pseudonym)},"
            f'"v":{self.v}}}'
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise EntryInvalid(f"entry {self.seq}: text has a lone surrogate") from None

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditEntry:
        """The entry whose canonical bytes are exactly ``data``; else :class:`EntryInvalid`."""
        try:
            obj: Any = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise EntryInvalid("stored entry is not UTF-8 JSON") from None
        if not isinstance(obj, dict) or "v" not in obj:
            raise EntryInvalid("stored entry does not have the fields of an audit entry")
        version = obj["v"]
        if type(version) is not int or version not in _KEYS:
            raise EntryInvalid(f"stored entry has format {version!r}, expected 1 or 2")
        if set(obj) != _KEYS[version]:
            raise EntryInvalid(f"stored entry does not have the fields of a format {version} entry")
        if not isinstance(obj["reasons"], list) or not isinstance(obj["record_ids"], list):
            raise EntryInvalid("stored entry: reasons and record_ids must be lists")
        links = obj.get("links", {})
        if not isinstance(obj["details"], dict) or not isinstance(links, dict):
            raise EntryInvalid("stored entry: details and links must be objects")
        actor, subject_actor = obj["actor"], False
        if version == 2 and isinstance(actor, dict):
            if set(actor) != {"ref"}:
                raise EntryInvalid('stored entry: an actor object must be {"ref": …}')
            actor, subject_actor = actor["ref"], True
        entry = cls(
            seq=obj["seq"],
            at=obj["at"],
            actor=actor,
            action=obj["action"],
            purpose=obj["purpose"],
            outcome=obj["outcome"],
            reasons=tuple(obj["reasons"]),
            subject_pseudonym=obj["subject_pseudonym"],
            record_ids=tuple(obj["record_ids"]),
            details=obj["details"],
            policy_version=obj["policy_version"],
            links=links,
            subject_actor=subject_actor,
            v=version,
        )
        if entry.canonical_bytes() != data:
            raise EntryInvalid(f"stored entry {entry.seq} is not in canonical form")
        return entry


def _check_count(name: str, value: object) -> None:
    if type(value) is not int or value < 0:  # not bool, not an int subclass
        raise EntryInvalid(f"{name} must be a non-negative integer, got {value!r}")


def _strings(seq: int, name: str, values: Iterable[str]) -> tuple[str, ...]:
    # A lone string would otherwise become a tuple of its characters.
    if isinstance(values, str | bytes):
        raise EntryInvalid(f"entry {seq}: {name} must be a sequence of strings, not one string")
    items = values if type(values) is tuple else tuple(values)
    for v in items:
        if not isinstance(v, str):
            raise EntryInvalid(f"entry {seq}: {name} must be a sequence of strings")
    return items


def _details(seq: int, name: str, details: Mapping[str, DetailValue]) -> Mapping[str, DetailValue]:
    if details is _NO_DETAILS:
        return details
    if not isinstance(details, Mapping):
        raise EntryInvalid(f"entry {seq}: {name} must be a mapping")
    for key, value in details.items():
        if not isinstance(key, str):
            raise EntryInvalid(f"entry {seq}: {name} keys must be strings, got {key!r}")
        if value is not None and not isinstance(value, str | int):  # bool is an int
            raise EntryInvalid(
                f"entry {seq}: {name}[{key!r}] must be a string, integer, boolean or None, "
                f"got {type(value).__name__}"
            )
    return MappingProxyType(dict(details))


_OPTIONAL_TEXT = ("purpose", "outcome", "subject_pseudonym", "policy_version")


def _links(seq: int, name: str, links: Mapping[str, str]) -> Mapping[str, str]:
    if links is _NO_LINKS:
        return links
    if not isinstance(links, Mapping):
        raise EntryInvalid(f"entry {seq}: {name} must be a mapping")
    for key, value in links.items():
        if not isinstance(key, str) or not _LINK_NAME.fullmatch(key):
            raise EntryInvalid(f"entry {seq}: {name} names must be lower_snake_case, got {key!r}")
        if not isinstance(value, str):
            raise EntryInvalid(f"entry {seq}: {name}[{key!r}] must be a string")
    return MappingProxyType(dict(links))


_FROZEN: tuple[tuple[str, Callable[[int, str, Any], object]], ...] = (
    ("reasons", _strings),
    ("record_ids", _strings),
    ("details", _details),
    ("links", _links),
)


def _encode_value(value: DetailValue) -> str:
    """One JSON scalar, as json.dumps writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return _quote(value)


def _encode_details(details: Mapping[str, DetailValue]) -> str:
    if not details:
        return "{}"
    items = [_quote(k) + ":" + _encode_value(details[k]) for k in sorted(details)]
    return "{" + ",".join(items) + "}"


def _encode_links(links: Mapping[str, str]) -> str:
    if not links:
        return "{}"
    return "{" + ",".join(_quote(k) + ":" + _quote(links[k]) for k in sorted(links)) + "}"
