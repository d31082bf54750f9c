"""How a record's fields become the plaintext that is sealed, and back.

Compact JSON (UTF-8, no spaces, no NaN): deterministic enough for size limits
and cheap enough for the ingest hot path. Values must already be JSON types;
dates and times are the caller's to format (ISO 8601), so nothing is silently
turned into text the reader would not recognise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from servinfo.store.errors import InvalidRecord

__all__ = ["decode_fields", "encode_fields"]

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_fields(fields: Mapping[str, Any], where: str | Callable[[], str]) -> bytes:
    """The sealed form of ``fields``; :class:`InvalidRecord` if they are not JSON data.

    ``where`` names the record in error messages; a callable is only called on error.
    """
    if type(fields) is not dict:
        if not isinstance(fields, Mapping):
            raise InvalidRecord(
                f"{_named(where)}: fields must be a mapping, got {type(fields).__name__}"
            )
        fields = dict(fields)
    try:
        return _encoder.encode(fields).encode()
    except (TypeError, ValueError) as error:
        # The message names the offending type ("Object of type date …"), not a value.
        raise InvalidRecord(
            f"{_named(where)}: fields must be JSON values (format dates as ISO 8601 text): "
            f"{str(error).splitlines()[0][:120]}"
        ) from None


def _named(where: str | Callable[[], str]) -> str:
    return where if isinstance(where, str) else where()


def decode_fields(plaintext: bytes) -> dict[str, Any]:
    """The fields :func:`encode_fields` encoded (only ever called on authenticated data)."""
    value = json.loads(plaintext)
    if not isinstance(value, dict):  # pragma: no cover - authenticated data is always a dict
        raise TypeError("sealed payload is not a JSON object")
    return value
