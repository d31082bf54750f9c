"""Canonical bytes of new entries, built in pieces on the append hot path (private).

:meth:`AuditEntry.canonical_bytes` builds and validates a whole entry, at
tens of microseconds each: too slow for 100,000 appends a second. Three
fields are only known inside the append transaction (``at``, ``seq`` and the
subject's pseudonym), and in the canonical key order they fall between fixed
pieces::

    {"action":…,"actor":…,"at":  <at>  ,"details":…,"links":{…},…,"record_ids":[…],"seq":
      <seq>  <tail>

so each event is validated and encoded once, outside the transaction, into a
:data:`Template`; the transaction only joins bytes. The tail,
``,"subject_pseudonym":…,"v":2}``, is one per subject per batch.

An entry about a subject (format 2) holds references under the subject's
reference key where its record ids, linked identifiers and (for a subject
actor) actor would be. That key comes from the salt, read inside the
transaction too: such a template keeps those identifiers (:data:`Keyed`), and
:func:`keyed_entry` joins them with their references there, one HMAC each.

The checks are :class:`AuditEntry`'s, and the pieces are written with the same
escaper in the same order: ``tests/audit/test_template.py`` holds the joined
bytes equal to ``AuditEntry(...).canonical_bytes()`` for generated events.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _quote  # the C escaper entries.py uses
from typing import TypeAlias

from servinfo.audit.entries import _ACTION, _ACTIONS, _LINK_NAME, DetailValue
from servinfo.audit.errors import EntryInvalid
from servinfo.audit.sink import RecordedEvent, check_subject_links
from servinfo.crypto.keyed_hash import KeyedReferences

__all__ = [
    "NO_SUBJECT_TAIL",
    "SUBJECT_ID_MAX",
    "Template",
    "build",
    "keyed_entry",
    "pseudonym_tail",
    "template",
]

#: The longest subject id (the ``subject_salts`` key column).
SUBJECT_ID_MAX = 128
#: The tail of an entry that names no subject.
NO_SUBJECT_TAIL = b',"subject_pseudonym":null,"v":2}'
_WHAT = "new entry"

#: An event's fixed pieces ``(head, middle, subject_id, actor, links, record_ids,
#: after_links)``. With no subject, ``head + at + middle + seq + NO_SUBJECT_TAIL`` are its
#: canonical bytes (the last four are empty). With one, :func:`keyed_entry` joins them:
#: ``actor`` is the subject actor's name (None when the head names the actor), ``links``
#: each ``('"name":', identifier as UTF-8)`` in name order, ``record_ids`` the event's own
#: tuple, ``after_links`` the fixed bytes from the end of the links to the start of the
#: record ids (with no links, ``middle`` runs on to them and ``after_links`` is empty).
#: One flat tuple of strings and bytes, not a NamedTuple nor nested tuples:
#: every batch holds thousands of them, and each tracked container allocated brings the
#: cyclic collector's next pass closer.
Template: TypeAlias = tuple[
    bytes, bytes, str | None, str | None, tuple[tuple[bytes, bytes], ...], tuple[str, ...], bytes
]


def pseudonym_tail(pseudonym: str) -> bytes:
    """The tail of an entry naming a subject (pseudonyms are hex: nothing to escape)."""
    return b',"subject_pseudonym":"' + pseudonym.encode("ascii") + b'","v":2}'


def keyed_entry(
    pieces: Template, references: KeyedReferences, at: bytes, seq: bytes, tail: bytes
) -> bytes:
    """The canonical bytes of an entry about a subject: its identifiers written as
    references under the subject's key (:func:`servinfo.audit.entries.reference`), ``at``
    and ``seq`` as their digits, ``tail`` the subject's (:func:`pseudonym_tail`).

    One join per entry: the append runs this for every entry about a subject, and each
    intermediate ``bytes`` would copy the entry again. Most such entries name no link
    and a staff actor: their pieces are joined in one tuple.
    """
    head, middle, _, actor, links, record_ids, after_links = pieces
    if actor is None and not links:  # ``middle`` runs on to the record ids
        if record_ids:
            ids = references.hex_joined(map(str.encode, record_ids), b'","')
            return b"".join((head, at, middle, b'"', ids, b'"],"seq":', seq, tail))
        return b"".join((head, at, middle, b'],"seq":', seq, tail))
    ref = references.hex
    if actor is None:
        parts = [head, at, middle]
    else:
        parts = [head, b'{"ref":"', ref(actor.encode()), b'"},"at":', at, middle]
    if links:
        parts.append(b",".join([name + b'"' + ref(value) + b'"' for name, value in links]))
    parts.append(after_links)
    if record_ids:
        parts.append(b'"')
        parts.append(references.hex_joined(map(str.encode, record_ids), b'","'))
        parts.append(b'"],"seq":')
    else:
        parts.append(b'],"seq":')
    parts.append(seq)
    parts.append(tail)
    return b"".join(parts)


def template(event: RecordedEvent) -> Template:
    """Validate ``event`` as :class:`AuditEntry` would and encode its fixed pieces."""
    return build(
        event.action,
        event.actor,
        event.subject_id,
        event.purpose,
        event.outcome,
        event.reasons,
        event.record_ids,
        event.details,
        event.policy_version,
        event.linked,
        event.subject_actor,
    )


def build(
    action: str,
    actor: str,
    subject_id: str | None,
    purpose: str | None,
    outcome: str | None,
    reasons: Sequence[str],
    record_ids: Sequence[str],
    details: Mapping[str, DetailValue] | None,
    policy_version: str | None,
    linked: Mapping[str, str] | None = None,
    subject_actor: bool = False,
) -> Template:
    """:func:`template` from the fields, as :meth:`AuditSink.record` receives them."""
    check_subject_links(subject_id, linked, subject_actor)
    if subject_id is not None and (
        not isinstance(subject_id, str) or not 0 < len(subject_id) <= SUBJECT_ID_MAX
    ):
        raise EntryInvalid(
            f"{_WHAT}: subject_id must be a non-empty string of at most {SUBJECT_ID_MAX} characters"
        )
    if not (
        isinstance(action, str)
        and isinstance(actor, str)
        and (purpose is None or isinstance(purpose, str))
        and (outcome is None or isinstance(outcome, str))
        and (policy_version is None or isinstance(policy_version, str))
    ):
        raise EntryInvalid(
            f"{_WHAT}: action and actor must be strings; purpose, outcome and policy_version "
            "strings or None"
        )
    # Details, labels and reasons repeat across events: encoded once and cached.
    # Value types are part of the key, so ``True`` and ``1`` never share an encoding.
    if details:
        if type(details) is not dict and not isinstance(details, Mapping):
            raise EntryInvalid(f"{_WHAT}: details must be a mapping")
        items: tuple[tuple[str, DetailValue], ...] = tuple(details.items())
        types: tuple[type, ...] = tuple(map(type, details.values()))
    else:
        items = types = ()
    if type(reasons) is not tuple and not isinstance(reasons, str | bytes):
        reasons = tuple(reasons)  # a cache key, and read once
    fixed_key = (items, types, outcome, policy_version, purpose, reasons)
    try:
        try:
            details_part, after_links, no_links = _fixed(*fixed_key)
        except TypeError:  # an unhashable value: encode (and refuse) it uncached
            details_part, after_links, no_links = _fixed.__wrapped__(*fixed_key)
        if subject_id is not None:
            if type(record_ids) is not tuple:
                record_ids = _strings("record_ids", record_ids)
            # Checked here (strings, no lone surrogate), encoded in keyed_entry.
            ",".join(record_ids).encode()
            if subject_actor:
                _utf8(actor, "actor")
            if linked:
                middle, links, after_links = details_part, _links(linked), after_links
            else:
                middle, links, after_links = no_links, (), b""
            return (
                _head(action, actor, subject_actor),
                middle,
                subject_id,
                actor if subject_actor else None,
                links,
                record_ids,
                after_links,
            )
        # Record ids differ per event: quoted here, with the usual tuple checked inline.
        if type(record_ids) is tuple:
            try:
                ids = ",".join(map(_quote, record_ids))
            except TypeError:  # the C escaper takes only strings
                raise EntryInvalid(f"{_WHAT}: record_ids must be a sequence of strings") from None
        else:
            ids = _quoted("record_ids", record_ids)
        middle = details_part + after_links + (ids + '],"seq":').encode()
    except TypeError:  # joining record ids that are not all strings
        raise EntryInvalid(f"{_WHAT}: record_ids must be a sequence of strings") from None
    except UnicodeEncodeError:
        raise EntryInvalid(f"{_WHAT}: text has a lone surrogate") from None
    return (_head(action, actor, False), middle, None, None, (), (), b"")


@functools.lru_cache(maxsize=4096)
def _fixed(
    details: tuple[tuple[str, DetailValue], ...],
    _types: tuple[type, ...],  # in the cache key only: keeps ``True`` and ``1`` apart
    outcome: str | None,
    policy_version: str | None,
    purpose: str | None,
    reasons: Sequence[str],
) -> tuple[bytes, bytes, bytes]:
    """The middle up to the record ids, in two pieces around the links' contents: details
    (as items) up to ``"links":{``; then, after the links' ``}``, labels and reasons. And
    the two joined around no links."""
    encoded = _encode_details(dict(details)) if details else "{}"
    after_links = (
        f",{_labels(outcome, policy_version, purpose)},"
        f'"reasons":[{_quoted("reasons", reasons)}],'
        '"record_ids":['
    )
    before = f',"details":{encoded},"links":{{'.encode()
    after = b"}" + after_links.encode()
    return before, after, before + after


# Events repeat their action and actor, and their outcome, policy version and
# purpose, far more often than not: their pieces are encoded once and cached.


@functools.lru_cache(maxsize=4096)
def _head(action: str, actor: str, subject_actor: bool) -> bytes:
    """The head up to ``"at":``; for a subject actor, up to its reference."""
    if not actor:
        raise EntryInvalid(f"{_WHAT}: actor must be a non-empty string")
    if action not in _ACTIONS and not _ACTION.fullmatch(action):
        raise EntryInvalid(f"{_WHAT}: action must be lower_snake_case, got {action!r}")
    if subject_actor:
        return _utf8(f'{{"action":{_quote(action)},"actor":')
    return _utf8(f'{{"action":{_quote(action)},"actor":{_quote(actor)},"at":')


def _links(linked: Mapping[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    """``('"name":', identifier as UTF-8)`` for each link, in name order."""
    if not isinstance(linked, Mapping):
        raise EntryInvalid(f"{_WHAT}: linked must be a mapping")
    pieces = []
    for name in sorted(linked):
        if type(name) is not str or not _LINK_NAME.fullmatch(name):
            raise EntryInvalid(f"{_WHAT}: linked names must be lower_snake_case, got {name!r}")
        pieces.append((b'"%s":' % name.encode(), _utf8(linked[name], f"linked[{name!r}]")))
    return tuple(pieces)


def _strings(name: str, values: Sequence[str]) -> tuple[str, ...]:
    """``values`` as a tuple, each checked to be a string."""
    if isinstance(values, str | bytes):  # would become a tuple of its characters
        raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings, not one string")
    items = tuple(values)
    if not all(type(v) is str or isinstance(v, str) for v in items):
        raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings")
    return items


@functools.lru_cache(maxsize=4096)
def _labels(outcome: str | None, policy_version: str | None, purpose: str | None) -> str:
    q = _quote
    return (
        f'"outcome":{"null" if outcome is None else q(outcome)},'
        f'"policy_version":{"null" if policy_version is None else q(policy_version)},'
        f'"purpose":{"null" if purpose is None else q(purpose)}'
    )


def _utf8(text: str, name: str = "text") -> bytes:
    if type(text) is not str and not isinstance(text, str):
        raise EntryInvalid(f"{_WHAT}: {name} must be a string")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise EntryInvalid(f"{_WHAT}: text has a lone surrogate") from None


def _quoted(name: str, values: Sequence[str]) -> str:
    """``values`` as JSON strings joined by commas; each must be a string."""
    if isinstance(values, str | bytes):  # would become a list of its characters
        raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings, not one string")
    try:
        # The C escaper refuses anything but a str (or a subclass): no loop to check first.
        return ",".join(map(_quote, values))
    except TypeError:
        raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings") from None


def _encode_details(details: Mapping[str, DetailValue]) -> str:
    """The ``details`` object as :meth:`AuditEntry.canonical_bytes` writes it, checked."""
    if type(details) is not dict and not isinstance(details, Mapping):
        raise EntryInvalid(f"{_WHAT}: details must be a mapping")
    q = _quote
    items = []
    for key, value in sorted(details.items()) if len(details) > 1 else details.items():
        if type(key) is not str:
            raise EntryInvalid(f"{_WHAT}: details keys must be strings, got {key!r}")
        items.append(q(key) + ":" + (q(value) if type(value) is str else _encode_value(key, value)))
    return "{" + ",".join(items) + "}"


def _encode_value(key: str, value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _quote(value)
    raise EntryInvalid(
        f"{_WHAT}: details[{key!r}] must be a string, integer, boolean or None, "
        f"got {type(value).__name__}"
    )
