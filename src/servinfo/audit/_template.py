"""Canonical bytes of new entries, built in pieces on the append hot path (private).

:meth:`AuditEntry.canonical_bytes` builds and validates a whole entry, at
tens of microseconds each: too slow for 100,000 appends a second. Three
fields are only known inside the append transaction (``at``, ``seq`` and the
subject's pseudonym), and in the canonical key order they fall between fixed
pieces::

    {"action":…,"actor":…,"at":  <at>  ,"details":…,"record_ids":[…],"seq":  <seq>  <tail>

so each event is validated and encoded once, outside the transaction, into a
:data:`Template` (head, middle); the transaction only joins bytes. The tail,
``,"subject_pseudonym":…,"v":1}``, is one per subject per batch.

The checks are :class:`AuditEntry`'s, and the pieces are written with the same
escaper in the same order: ``tests/audit/test_template.py`` holds the joined
bytes equal to ``AuditEntry(...).canonical_bytes()`` for generated events.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _quote  # the C escaper entries.py uses
from typing import TypeAlias

from servinfo.audit.entries import _ACTION, _ACTIONS, DetailValue
from servinfo.audit.errors import EntryInvalid
from servinfo.audit.sink import RecordedEvent

__all__ = ["NO_SUBJECT_TAIL", "SUBJECT_ID_MAX", "Template", "pseudonym_tail", "template"]

#: The longest subject id (the ``subject_salts`` key column).
SUBJECT_ID_MAX = 128
#: The tail of an entry that names no subject.
NO_SUBJECT_TAIL = b',"subject_pseudonym":null,"v":1}'
_WHAT = "new entry"


#: An event's fixed pieces ``(head, middle, subject_id)``: ``head + at + middle + seq +
#: tail`` are its canonical bytes. A plain tuple rather than a NamedTuple: the cyclic
#: collector stops tracking a tuple of bytes and strings after one pass, while a
#: NamedTuple stays tracked, and every batch holds thousands of them.
Template: TypeAlias = tuple[bytes, bytes, str | None]


def pseudonym_tail(pseudonym: str) -> bytes:
    """The tail of an entry naming a subject (pseudonyms are hex: nothing to escape)."""
    return b',"subject_pseudonym":"' + pseudonym.encode("ascii") + b'","v":1}'


def template(event: RecordedEvent, policy_version: str | None = None) -> Template:
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
        policy_version,
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
) -> Template:
    """:func:`template` from the fields, as :meth:`AuditSink.record` receives them."""
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
            fixed = _fixed(*fixed_key)
        except TypeError:  # an unhashable value: encode (and refuse) it uncached
            fixed = _fixed.__wrapped__(*fixed_key)
        # Record ids differ per event: quoted here, with the usual tuple checked inline.
        if type(record_ids) is tuple:
            try:
                ids = ",".join(map(_quote, record_ids))
            except TypeError:  # the C escaper takes only strings
                raise EntryInvalid(f"{_WHAT}: record_ids must be a sequence of strings") from None
        else:
            ids = _quoted("record_ids", record_ids)
        middle = fixed + (ids + '],"seq":').encode()
    except UnicodeEncodeError:
        raise EntryInvalid(f"{_WHAT}: text has a lone surrogate") from None
    return (_head(action, actor), middle, subject_id)


@functools.lru_cache(maxsize=4096)
def _fixed(
    details: tuple[tuple[str, DetailValue], ...],
    _types: tuple[type, ...],  # in the cache key only: keeps ``True`` and ``1`` apart
    outcome: str | None,
    policy_version: str | None,
    purpose: str | None,
    reasons: Sequence[str],
) -> bytes:
    """The middle up to the record ids: details (as items), labels, reasons."""
    encoded = _encode_details(dict(details)) if details else "{}"
    return (
        f',"details":{encoded},'
        f"{_labels(outcome, policy_version, purpose)},"
        f'"reasons":[{_quoted("reasons", reasons)}],'
        '"record_ids":['
    ).encode()


# Events repeat their action and actor, and their outcome, policy version and
# purpose, far more often than not: their pieces are encoded once and cached.


@functools.lru_cache(maxsize=4096)
def _head(action: str, actor: str) -> bytes:
    if not actor:
        raise EntryInvalid(f"{_WHAT}: actor must be a non-empty string")
    if action not in _ACTIONS and not _ACTION.fullmatch(action):
        raise EntryInvalid(f"{_WHAT}: action must be lower_snake_case, got {action!r}")
    return _utf8(f'{{"action":{_quote(action)},"actor":{_quote(actor)},"at":')


@functools.lru_cache(maxsize=4096)
def _labels(outcome: str | None, policy_version: str | None, purpose: str | None) -> str:
    q = _quote
    return (
        f'"outcome":{"null" if outcome is None else q(outcome)},'
        f'"policy_version":{"null" if policy_version is None else q(policy_version)},'
        f'"purpose":{"null" if purpose is None else q(purpose)}'
    )


def _utf8(text: str) -> bytes:
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
