"""JSON and base64 helpers shared by the audit package's formats (private).

Every reader takes the error class to raise, so a malformed tree head is a
:class:`HeadInvalid` and a malformed bundle a :class:`ProofInvalid`, each
naming the field and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from servinfo.audit.errors import AuditError

_Error = type[AuditError]


def b64(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def load_object(text: str | bytes, what: str, error: _Error) -> dict[str, Any]:
    """Parse ``text`` as a JSON object."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"malformed {what}: not JSON ({exc})") from None
    return as_object(value, what, error)


def as_object(value: object, what: str, error: _Error) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise error(f"malformed {what}: expected a JSON object, got {type(value).__name__}")
    return value


def get_int(obj: Mapping[str, Any], key: str, what: str, error: _Error) -> int:
    """A non-negative integer field (booleans refused)."""
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise error(f"malformed {what}: {key!r} must be a non-negative integer, got {value!r}")
    return value


def get_str(obj: Mapping[str, Any], key: str, what: str, error: _Error) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise error(f"malformed {what}: {key!r} must be a string, got {type(value).__name__}")
    return value


def get_bytes(
    obj: Mapping[str, Any], key: str, what: str, error: _Error, *, size: int | None = None
) -> bytes:
    """A base64 field, strictly decoded; ``size`` checks the decoded length."""
    return decode_b64(obj.get(key), f"{key!r}", what, error, size=size)


def get_hash_list(
    obj: Mapping[str, Any], key: str, what: str, error: _Error, *, size: int
) -> tuple[bytes, ...]:
    values = obj.get(key)
    if not isinstance(values, list):
        raise error(f"malformed {what}: {key!r} must be a list, got {type(values).__name__}")
    return tuple(decode_b64(v, f"{key}[{i}]", what, error, size=size) for i, v in enumerate(values))


def decode_b64(
    value: object, name: str, what: str, error: _Error, *, size: int | None = None
) -> bytes:
    if not isinstance(value, str):
        raise error(f"malformed {what}: {name} must be a base64 string, got {type(value).__name__}")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise error(f"malformed {what}: {name} is not valid base64") from None
    if size is not None and len(data) != size:
        raise error(f"malformed {what}: {name} must be {size} bytes, got {len(data)}")
    return data


def dump(obj: Mapping[str, Any]) -> str:
    """Key-sorted, indented JSON: the files auditors receive and read."""
    return json.dumps(obj, sort_keys=True, indent=2)
