"""One cheap screen, shared by parsing and the card-number check: a run of digits.

With every ASCII digit translated to ``0`` (and, if asked, separators deleted),
a run of N digits is N zeros in a row: one C pass over the bytes, where a
regular expression would try every position.
"""

from __future__ import annotations

__all__ = ["has_digit_run"]

_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)


def has_digit_run(data: bytes, length: int, *, ignoring: bytes = b"") -> bool:
    """Whether ``data`` holds ``length`` ASCII digits in a row, bytes in ``ignoring`` skipped."""
    return b"0" * length in data.translate(_DIGITS_AS_ZERO, ignoring)
