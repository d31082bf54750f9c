"""The synthetic free-text generator: deterministic, and every recorded span is valid."""

from __future__ import annotations

import ipaddress
import random
import re

import phonenumbers
import pytest
from stdnum import iban, luhn

from servinfo.collect.textgen import KINDS, TYPES, InsertedSpan, LabelledText, generate_text


def _texts(seed: int, count: int) -> list[LabelledText]:
    rng = random.Random(seed)
    return [generate_text(rng, KINDS[i % len(KINDS)]) for i in range(count)]


def test_same_seed_same_text() -> None:
    assert _texts(11, 20) == _texts(11, 20)
    assert _texts(11, 20) != _texts(12, 20)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_written(kind: str) -> None:
    labelled = generate_text(random.Random(3), kind)
    assert labelled.text.strip()


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        generate_text(random.Random(1), "poem")


def _valid(kind: str, value: str) -> bool:
    if kind == "EMAIL":
        return (
            re.fullmatch(r"[\w.+-]+@([\w-]+\.)*example\.(com|org|net|test)", value, re.I)
            is not None
        )
    if kind == "PHONE":
        region = None if value.startswith("+") else "ZZ"
        if region is None:
            return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
        return any(
            phonenumbers.is_valid_number(phonenumbers.parse(value, r))
            for r in ("US", "GB", "DE", "FR", "AU", "CH", "NL")
        )
    if kind in ("IPV4", "IPV6"):
        address = ipaddress.ip_address(value)
        return address.version == (4 if kind == "IPV4" else 6)
    if kind == "CARD":
        return luhn.is_valid(re.sub(r"[ -]", "", value))
    if kind == "IBAN":
        return iban.is_valid(value)
    return kind == "SECRET" and len(value) >= 8


def test_every_inserted_value_is_valid_and_every_type_occurs() -> None:
    seen: set[str] = set()
    for labelled in _texts(7, 300):
        end = 0
        for span in labelled.spans:
            assert isinstance(span, InsertedSpan)
            assert end <= span.start < span.end <= len(labelled.text)
            end = span.end
            value = labelled.text[span.start : span.end]
            assert _valid(span.type, value), (span.type, value)
            seen.add(span.type)
    assert seen == set(TYPES)


def test_pii_rate_zero_inserts_nothing() -> None:
    rng = random.Random(2)
    assert all(not generate_text(rng, kind, pii_rate=0.0).spans for kind in KINDS * 5)
