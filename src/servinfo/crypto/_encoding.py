"""Unambiguous byte encodings for associated data and MAC inputs (internal).

Concatenating fields directly is ambiguous: ("ab", "c") and ("a", "bc") give
the same bytes. Prefixing each field with its length as a 4-byte big-endian
integer makes the encoding injective, so distinct field tuples never collide.
"""

from __future__ import annotations

_MAX_FIELD = 2**32 - 1


def length_prefixed(*fields: bytes) -> bytes:
    """Each field as 4-byte big-endian length || bytes, concatenated."""
    parts: list[bytes] = []
    for field in fields:
        if len(field) > _MAX_FIELD:
            raise ValueError(f"field of {len(field)} bytes exceeds {_MAX_FIELD}")
        parts.append(len(field).to_bytes(4, "big"))
        parts.append(field)
    return b"".join(parts)


def text_fields(*fields: str) -> bytes:
    """:func:`length_prefixed` over the UTF-8 encodings of ``fields``."""
    return length_prefixed(*(field.encode("utf-8") for field in fields))
