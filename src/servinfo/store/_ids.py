"""Record and data-key ids: ULIDs generated a batch at a time.

A ULID (https://github.com/ulid/spec) is 48 bits of Unix time in milliseconds
followed by 80 random bits, written as 26 characters of Crockford's base 32,
so ids sort by creation time. python-ulid builds one object per id (~30 µs);
ingest needs ~1,000 ids a batch, so :func:`new_ulids` makes them together: one
clock read, one ``os.urandom`` call, one base-32 encoding of the whole batch.

Ids are strictly increasing within a process, like python-ulid's monotonic
default: the random parts of a batch are sorted, and a batch in the same
millisecond as the previous one draws its random parts above the previous id's
(randomly, not by +1, so neighbouring ids stay unguessable from each other).
"""

from __future__ import annotations

import functools
import os
import threading
import time

__all__ = ["ULID_LENGTH", "new_ulid", "new_ulids"]

ULID_LENGTH = 26
_RANDOM_BYTES = 10
_RANDOM_LIMIT = 1 << (8 * _RANDOM_BYTES)
_MAX_TIMESTAMP = (1 << 48) - 1
_ALPHABET = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O, U
#: Byte value 0–31 → its base-32 digit.
_DIGITS = bytes.maketrans(bytes(range(32)), _ALPHABET)
#: Each id is laid out in a 256-bit lane: 96 zero bits, 34 more zero bits (130 -
#: 128 of the ULID's 26 digits, and 32 of padding to 160 = 32 × 5 bits), the
#: 48-bit timestamp and the 80 random bits. Spreading the lane's 32 five-bit
#: groups into 32 bytes takes five halving steps, each a mask and a shift on
#: the whole batch as one integer; the last 26 bytes are then the ULID's digits.
_HEAD_ZEROS = b"\x00" * 16
_LANE_BYTES = 32
_SKIP = 6
_STEPS = tuple(
    (sum(((1 << keep) - 1) << (i * lane) for i in range(256 // lane)), lane // 2 - keep)
    for lane, keep in ((256, 80), (128, 40), (64, 20), (32, 10), (16, 5))
)

_lock = threading.Lock()
_last_ms = -1
_last_random = -1


def new_ulid() -> str:
    """One fresh ULID."""
    return new_ulids(1)[0]


def new_ulids(count: int, *, now_ms: int | None = None) -> list[str]:
    """``count`` fresh ULIDs in increasing order, later than any made before in this process.

    ``now_ms`` (Unix time in milliseconds) is for tests; the clock is read otherwise.
    """
    if count < 1:
        return []
    global _last_ms, _last_random
    with _lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        floor = -1
        if ms <= _last_ms:
            # Same millisecond as the last batch (or the clock stepped back):
            # stay on the last timestamp and go above the last random part.
            ms, floor = _last_ms, _last_random
            if _RANDOM_LIMIT - 1 - floor < count:
                ms, floor = ms + 1, -1  # that millisecond is used up
        if ms > _MAX_TIMESTAMP:
            raise ValueError(f"timestamp {ms} ms does not fit in a ULID")
        randoms = _random_parts(count, floor)
        _last_ms, _last_random = ms, int.from_bytes(randoms[-1], "big")
    return _encode(_HEAD_ZEROS + ms.to_bytes(6, "big"), randoms)


def _encode(head: bytes, randoms: list[bytes]) -> list[str]:
    """The ULID text of ``head`` (zeros and timestamp) + each random part."""
    count = len(randoms)
    # head + head.join(parts) = head part0 head part1 …: one 32-byte lane per id.
    value = int.from_bytes(head + head.join(randoms), "big")
    for mask, shift in _steps(count):
        low = value & mask
        value = low | ((value ^ low) << shift)
    text = value.to_bytes(_LANE_BYTES * count, "big").translate(_DIGITS).decode("ascii")
    return [text[i + _SKIP : i + _LANE_BYTES] for i in range(0, len(text), _LANE_BYTES)]


@functools.lru_cache(maxsize=16)
def _steps(count: int) -> tuple[tuple[int, int], ...]:
    """:data:`_STEPS` with each mask repeated over ``count`` lanes (batch sizes repeat)."""
    return tuple(
        (int.from_bytes(mask.to_bytes(_LANE_BYTES, "big") * count, "big"), shift)
        for mask, shift in _STEPS
    )


def _random_parts(count: int, floor: int) -> list[bytes]:
    """``count`` distinct random 80-bit big-endian values above ``floor``, sorted."""
    size = _RANDOM_BYTES
    if floor < 0:
        pool = os.urandom(size * count)
        # Sorting equal-length big-endian bytes sorts their numbers.
        parts = sorted({pool[i : i + size] for i in range(0, len(pool), size)})
        while len(parts) < count:  # a repeat among 80-bit draws: practically never
            parts = sorted({*parts, os.urandom(size)})
        return parts
    span = _RANDOM_LIMIT - 1 - floor  # values floor+1 … 2**80-1
    values: set[int] = set()
    while len(values) < count:
        values.add(floor + 1 + int.from_bytes(os.urandom(size), "big") % span)
    return [v.to_bytes(size, "big") for v in sorted(values)]
