"""Canonical bytes of new entries, built in pieces on the append hot path (private).

:meth:`AuditEntry.canonical_bytes` builds and validates a whole entry, at
tens of microseconds each: too slow for 100,000 appends a second. Three
fields are only known inside the append transaction (``at``, ``seq`` and the
subject's pseudonym), and in the canonical key order they fall between fixed
pieces::

    {"action":…,"actor":…,"at":  <at>  ,"details":…,"record_ids":[…],"seq":  <seq>  <tail>

so each event is validated and encoded once, outside the transaction, into a
:class:`Template` (head, middle); the transaction only joins bytes. The tail,
``,"subject_pseudonym":…,"v":1}``, is one per subject per batch.

The checks are :class:`AuditEntry`'s, and the pieces are written with the same
escaper in the same order: ``tests/audit/test_template.py`` holds the joined
bytes equal to ``AuditEntry(...).canonical_bytes()`` for generated events.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _quote  # the C escaper entries.py uses
from typing import NamedTuple

from servinfo.audit.entries import _ACTION, _ACTIONS, DetailValue
from servinfo.audit.errors import EntryInvalid
from servinfo.audit.sink import RecordedEvent

__all__ = ["NO_SUBJECT_TAIL", "SUBJECT_ID_MAX", "Template", "pseudonym_tail", "template"]

#: The longest subject id (the ``subject_salts`` key column).
SUBJECT_ID_MAX = 128
#: The tail of an entry that names no subject.
NO_SUBJECT_TAIL = b',"subject_pseudonym":null,"v":1}'
_WHAT = "new entry"


class Template(NamedTuple):
    """An event's fixed pieces: ``head + at + middle + seq + tail`` are its canonical bytes."""

    head: bytes
    middle: bytes
    subject_id: str | None


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
    fixed_key = (
        _details_key(details),
        outcome,
        policy_version,
        purpose,
        reasons if type(reasons) is tuple or isinstance(reasons, str | bytes) else tuple(reasons),
    )
    try:
        try:
            fixed = _fixed(*fixed_key)
        except TypeError:  # an unhashable value: encode (and refuse) it uncached
            fixed = _fixed.__wrapped__(*fixed_key)
        ids = _texts("record_ids", record_ids)
        middle = fixed + (",".join(map(_quote, ids)) + '],"seq":').encode()
    except UnicodeEncodeError:
        raise EntryInvalid(f"{_WHAT}: text has a lone surrogate") from None
    return Template(_head(action, actor), middle, subject_id)


def _details_key(
    details: Mapping[str, DetailValue] | None,
) -> tuple[tuple[str, type, DetailValue], ...]:
    if not details:
        return ()
    if type(details) is not dict and not isinstance(details, Mapping):
        raise EntryInvalid(f"{_WHAT}: details must be a mapping")
    return tuple([(key, value.__class__, value) for key, value in details.items()])


@functools.lru_cache(maxsize=4096)
def _fixed(
    details: tuple[tuple[str, type, DetailValue], ...],
    outcome: str | None,
    policy_version: str | None,
    purpose: str | None,
    reasons: Sequence[str],
) -> bytes:
    """The middle up to the record ids: details, labels, reasons (``details`` as items)."""
    encoded = _encode_details({key: value for key, _, value in details}) if details else "{}"
    return (
        f',"details":{encoded},'
        f"{_labels(outcome, policy_version, purpose)},"
        f'"reasons":[{",".join(map(_quote, _texts("reasons", reasons)))}],'
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


def _texts(name: str, values: Sequence[str]) -> Sequence[str]:
    if type(values) is tuple or type(values) is list:
        items: Sequence[str] = values
    elif isinstance(values, str | bytes):  # would become a list of its characters
        raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings, not one string")
    else:
        items = tuple(values)
    for v in items:
        if type(v) is not str and not isinstance(v, str):
            raise EntryInvalid(f"{_WHAT}: {name} must be a sequence of strings")
    return items


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
