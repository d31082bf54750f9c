"""The objects of the ingest format (docs/ingest-format.md), parsed from JSON.

:func:`parse_json` turns one body or NDJSON line into a JSON value, or a
:class:`MalformedJSON` naming the line and column: with orjson for speed, and
the standard library for the documents on which the two could differ and for
every error, so that both give the same values and messages. :func:`parse_object`
checks the envelope of an object — its ``type`` and the keys each type has —
and returns a :class:`RecordObject`, :class:`OrganizationObject` or
:class:`SubjectObject`; the fields of a record are checked later against
their kind's schema (:mod:`servinfo.collect.schemas`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from servinfo.collect._digits import has_digit_run
from servinfo.collect._types import COUNTRIES
from servinfo.collect.errors import MalformedJSON, OutOfScope, SchemaViolation

__all__ = [
    "OrganizationObject",
    "RecordObject",
    "SubjectObject",
    "parse_json",
    "parse_object",
]

_OPAQUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_REGION = re.compile(r"[a-z][a-z0-9_]{0,63}")
_JURISDICTION = re.compile(r"(?P<country>[A-Z]{2})(?:-[A-Z0-9]{1,3})?")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}")
_RECORD_KEYS = frozenset({"type", "subject", "kind", "source", "collected_at", "fields"})
_ORGANIZATION_KEYS = frozenset({"type", "id", "name", "home_region", "parent"})
_SUBJECT_KEYS = frozenset({"type", "id", "org", "jurisdiction", "closed_at"})
_TYPES = ("record", "organization", "subject")


class RecordObject(NamedTuple):
    # A tuple rather than a frozen dataclass: one is built for every record, and a
    # frozen dataclass pays a setattr per field.
    subject: str
    kind: str
    source: str | None
    collected_at: dt.datetime
    fields: object


@dataclass(frozen=True, slots=True)
class OrganizationObject:
    id: str
    name: str
    home_region: str
    parent: str | None


#: A subject object without ``closed_at``: the account's state is not reported.
UNREPORTED: Any = object()


@dataclass(frozen=True, slots=True)
class SubjectObject:
    id: str
    org: str
    jurisdiction: str
    #: When the account closed; None: open (again); :data:`UNREPORTED`: not said.
    closed_at: dt.datetime | None = UNREPORTED


ParsedObject = RecordObject | OrganizationObject | SubjectObject


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)

# orjson parses a typical record line several times faster than the standard
# library, and returns the same value for every document it accepts, except:
# integers beyond 64 bits, which it returns as floats (a 19-digit run of digits
# is where they can begin: every 18-digit integer fits), and nesting between the
# standard library's recursion limit (~1000 levels, less the caller's frames) and
# orjson's own (1024). Documents that may hold either take the standard library's
# path, as does every document orjson refuses: that path accepts what orjson
# alone refuses (1e400, lone surrogate escapes) and words every error.
#: Digits in a row from which an integer may exceed 64 bits (every 18-digit one fits).
_LONG_NUMBER = 19
#: Nesting the standard library always allows. In a document orjson accepts (well
#: formed), nesting as deep takes as many opening brackets and twice as many bytes.
_SHALLOW = 256


def parse_json(data: bytes, *, line: int | None = None) -> object:
    """The JSON value of ``data``; ``line`` numbers an NDJSON line (else: the body's lines)."""
    if _orjson_agrees(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and says what is wrong
    return _parse_json_stdlib(data, line)


def _orjson_agrees(data: bytes) -> bool:
    """Whether orjson parses ``data`` as the standard library does (see above)."""
    if len(data) >= 2 * _SHALLOW and data.count(b"[") + data.count(b"{") >= _SHALLOW:
        return False
    return not has_digit_run(data, _LONG_NUMBER)


def _parse_json_stdlib(data: bytes, line: int | None) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJSON("not UTF-8", line=line or 1, column=error.start + 1) from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        where = line if line is not None else error.lineno
        raise MalformedJSON(error.msg, line=where, column=error.colno) from None
    except ValueError as error:  # NaN, Infinity
        raise MalformedJSON(str(error), line=line or 1, column=1) from None
    except RecursionError:
        raise MalformedJSON("nested too deeply", line=line or 1, column=1) from None


def parse_object(value: object, out_of_scope: Collection[str]) -> ParsedObject:
    """The object's envelope, checked; ``out_of_scope`` are the policy's scope markers."""
    if not isinstance(value, dict):
        raise SchemaViolation("(object)", "expected a JSON object")
    kind = value.get("type", "record")
    if kind == "record":
        return _record(value, out_of_scope)
    if kind == "organization":
        _only(value, _ORGANIZATION_KEYS)
        parent = value.get("parent")
        return OrganizationObject(
            id=_opaque(value, "id"),
            name=_text(value, "name", 256),
            home_region=_matching(value, "home_region", _REGION, "a region id such as eu"),
            parent=None if parent is None else _opaque(value, "parent"),
        )
    if kind == "subject":
        _only(value, _SUBJECT_KEYS)
        jurisdiction = _matching(
            value, "jurisdiction", _JURISDICTION, "an ISO 3166-1 alpha-2 code such as DE or US-CA"
        )
        if jurisdiction[:2] not in COUNTRIES:
            raise SchemaViolation("jurisdiction", "not an ISO 3166-1 alpha-2 country code")
        closed_at = value.get("closed_at", UNREPORTED)
        if closed_at is not UNREPORTED and closed_at is not None:
            closed_at = _time(value, "closed_at")
        return SubjectObject(_opaque(value, "id"), _opaque(value, "org"), jurisdiction, closed_at)
    if isinstance(kind, str) and kind in out_of_scope:
        raise _out_of_scope(kind)
    raise SchemaViolation("type", f"expected one of {', '.join(_TYPES)}")


def _record(value: dict[str, Any], out_of_scope: Collection[str]) -> RecordObject:
    kind = value.get("kind")
    if isinstance(kind, str) and (kind in out_of_scope or kind.split(".", 1)[0] in out_of_scope):
        raise _out_of_scope(kind)
    _only(value, _RECORD_KEYS)
    kind = _matching(value, "kind", _KIND, "a kind id <category>.<kind> of the policy")
    source = value.get("source")
    if source is not None and not isinstance(source, str):
        raise SchemaViolation("source", "expected a service id")
    if "fields" not in value:
        raise SchemaViolation("fields", "required: the record's fields (an object)")
    return RecordObject(
        subject=_opaque(value, "subject"),
        kind=kind,
        source=source,
        collected_at=_time(value),
        fields=value["fields"],
    )


def _out_of_scope(kind: str) -> OutOfScope:
    return OutOfScope(
        f"kind: {kind!r} is Customer and Partner Information, which is out of the scope of "
        "Service Information (the Cloud Data Processing Addenda govern it); servinfo refuses it"
    )


def _only(value: dict[str, Any], allowed: frozenset[str]) -> None:
    if value.keys() <= allowed:  # the usual case, in one set comparison
        return
    for key in value:
        if key not in allowed:
            raise SchemaViolation(
                str(key)[:64], f"not part of the object (expected: {', '.join(sorted(allowed))})"
            )


def _text(value: dict[str, Any], key: str, limit: int) -> str:
    found = value.get(key)
    if not isinstance(found, str) or not found.strip() or len(found) > limit:
        raise SchemaViolation(key, f"required: text of 1 to {limit} characters")
    return found


def _matching(value: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    found = value.get(key)
    if not isinstance(found, str) or not pattern.fullmatch(found):
        raise SchemaViolation(key, f"required: {what}")
    return found


def _opaque(value: dict[str, Any], key: str) -> str:
    return _matching(
        value, key, _OPAQUE_ID, "an opaque id (letters, digits, '-', '_', '.', ':'; up to 128)"
    )


def _time(value: dict[str, Any], key: str = "collected_at") -> dt.datetime:
    found = value.get(key)
    problem = "required: an RFC 3339 time with a zone, e.g. 2026-11-20T08:15:02Z"
    if not isinstance(found, str):
        raise SchemaViolation(key, problem)
    try:
        parsed = dt.datetime.fromisoformat(found)
    except ValueError:
        raise SchemaViolation(key, problem) from None
    if parsed.tzinfo is None:
        raise SchemaViolation(key, problem)
    return parsed.astimezone(dt.UTC)
