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
# The C encoder behind _encoder, built once: JSONEncoder.encode builds a new one
# per call, which was a third of encoding a small record. No circular-reference
# markers, so one instance is safe to share between threads; a cycle (which no
# parsed JSON can hold) ends in RecursionError instead.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode = (
    # (markers, default, encode_str, indent, key_separator, item_separator,
    #  sort_keys, skipkeys, allow_nan): the arguments JSONEncoder.iterencode passes.
    _c_make_encoder(
        None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _c_make_encoder is not None
    else None
)


def _encode(fields: dict[str, Any]) -> str:
    if _c_encode is None:  # pragma: no cover - CPython always has the C encoder
        return _encoder.encode(fields)
    return "".join(_c_encode(fields, 0))


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
        return _encode(fields).encode()
    except (TypeError, ValueError, RecursionError) as error:
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
