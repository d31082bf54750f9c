"""The card-number check: its cheap screen never lets a card number the regex finds through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from servinfo.collect.schemas import _CARD, _CARD_FIRST_DIGITS, _has_card_number


def _found_by_the_regex_alone(text: str) -> bool:
    """The check without the screen, as ingest did it before."""
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if digits[0] in _CARD_FIRST_DIGITS and luhn.is_valid(digits):
            return True
    return False


def _with_luhn_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


_CARDS = st.from_regex(r"[2-6][0-9]{11,17}", fullmatch=True).map(_with_luhn_digit)


@st.composite
def _grouped(draw: st.DrawFn, number: str) -> str:
    """A card number written with single spaces or dashes somewhere between its digits."""
    out = number[0]
    for digit in number[1:]:
        out += draw(st.sampled_from(["", "", " ", "-"])) + digit
    return out


_TEXTS = st.text(alphabet="0123456789 -x/.٤４", max_size=60) | st.builds(
    lambda before, card, after: before + card + after,
    st.text(alphabet="0123456789 -ab.٤", max_size=8),
    _CARDS.flatmap(_grouped),
    st.text(alphabet="0123456789 -ab.٤", max_size=8),
)


@given(_TEXTS)
def test_the_screen_changes_no_verdict(text: str) -> None:
    assert _has_card_number(text) == _found_by_the_regex_alone(text)


@given(_CARDS.flatmap(_grouped))
def test_grouped_card_numbers_are_found(card: str) -> None:
    assert _has_card_number(f"paid with {card} today")


@pytest.mark.parametrize(
    "text",
    [
        "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0.6778.81",
        "order 1234567890123",
        "4111 1111 1111 1112",
        "٤111111111111111",  # a non-ASCII digit first: the regex decides, as before
    ],
)
def test_text_without_a_card_number_passes(text: str) -> None:
    assert not _has_card_number(text)
    assert not _found_by_the_regex_alone(text)
