"""The batch ULID generator: valid ULIDs, python-ulid's text, strictly increasing."""

from __future__ import annotations

import itertools
import os
import re

import pytest
from ulid import ULID

from servinfo.store import _ids
from servinfo.store._ids import ULID_LENGTH, new_ulid, new_ulids

_CROCKFORD = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


@pytest.fixture(autouse=True)
def _fresh_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if no id had been made yet (the generator keeps the last one)."""
    monkeypatch.setattr(_ids, "_last_ms", -1)
    monkeypatch.setattr(_ids, "_last_random", -1)


def test_ids_are_valid_ulids_that_round_trip() -> None:
    ids = new_ulids(1000)
    assert len(ids) == len(set(ids)) == 1000
    for text in ids:
        assert len(text) == ULID_LENGTH
        assert _CROCKFORD.fullmatch(text)
        assert str(ULID.from_str(text)) == text


def test_the_timestamp_is_the_time_in_milliseconds() -> None:
    ids = new_ulids(3, now_ms=1_735_689_600_123)  # 2025-01-01T00:00:00.123Z
    assert {ULID.from_str(text).milliseconds for text in ids} == {1_735_689_600_123}


@pytest.mark.parametrize("milliseconds", [0, 1, 1_735_689_600_123, 2**48 - 1])
def test_encoding_matches_python_ulid(milliseconds: int) -> None:
    head = _ids._HEAD_ZEROS + milliseconds.to_bytes(6, "big")
    randoms = [os.urandom(10) for _ in range(200)] + [bytes(10), b"\xff" * 10]
    expected = [str(ULID.from_bytes(head[-6:] + r)) for r in randoms]
    assert _ids._encode(head, randoms) == expected


def test_ids_increase_strictly_across_calls_in_one_millisecond() -> None:
    ids = [*new_ulids(500, now_ms=10**12), *new_ulids(1, now_ms=10**12)]
    ids += new_ulids(500, now_ms=10**12)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {ULID.from_str(text).milliseconds for text in ids} == {10**12}


def test_ids_keep_increasing_when_the_clock_steps_back() -> None:
    later = new_ulids(2, now_ms=2 * 10**12)
    earlier_clock = new_ulids(2, now_ms=10**12)
    assert later[-1] < earlier_clock[0]


def test_a_used_up_millisecond_moves_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ids, "_last_ms", 5 * 10**12)
    monkeypatch.setattr(_ids, "_last_random", 2**80 - 2)  # one value left in that millisecond
    ids = new_ulids(2, now_ms=5 * 10**12)
    assert [ULID.from_str(text).milliseconds for text in ids] == [5 * 10**12 + 1] * 2


def test_random_parts_are_not_consecutive() -> None:
    # Unlike the ULID spec's +1 monotonic mode, neighbours are not guessable from each other.
    values = [int.from_bytes(ULID.from_str(t).bytes[6:], "big") for t in new_ulids(100)]
    assert all(b - a > 1 for a, b in itertools.pairwise(values))


def test_single_and_empty() -> None:
    assert new_ulids(0) == []
    first, second = new_ulid(), new_ulid()
    assert str(ULID.from_str(first)) == first
    assert first < second
