"""Phone numbers as people write them, and the look-alikes that stay (issue #19).

Numbers are fictional: Ofcom's drama ranges (020 7946 0xxx), the NANP's 555-01xx,
and numbers made from phonenumbers' own example numbers.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from servinfo.collect.redaction import Redactor
from servinfo.collect.redaction._validators import _valid_number


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def phones(redactor: Redactor, text: str) -> list[str]:
    return [text[s.start : s.end] for s in redactor.find(text) if s.type == "PHONE"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # Italian mobiles have no trunk 0: "3xx" and six or seven digits.
        ("cellulare 347 123 4567", "347 123 4567"),
        ("cell. 333-1234567", "333-1234567"),
        ("mi trovate al 333 123 4567", "333 123 4567"),
        ("sono raggiungibile al 06 6982 1234", "06 6982 1234"),
        # Swiss German "Natel" (a mobile), "Kontakt", a French landline, a direct line.
        ("Natel 079 123 45 67", "079 123 45 67"),
        ("Kontakt: 030 12345678", "030 12345678"),
        ("mon fixe : 01 23 45 67 89", "01 23 45 67 89"),
        ("ligne directe : 01 23 45 67 89", "01 23 45 67 89"),
        ("leave a voicemail on 020 7946 0018", "020 7946 0018"),
        # A word naming a phone nearer the number than an order, a ticket or an id.
        ("About my order, call me at 020 7946 0018", "020 7946 0018"),
        ("ticket 4411 — Tel. 030 12345678", "030 12345678"),
        ("id=3543309460; fax 617.555.0182", "617.555.0182"),
        # The international prefix 00 without separators, after a phone word.
        ("phone: 00442079460018", "00442079460018"),
        # A capitalised extension is part of the number.
        ("call +1 425-882-8080 Ext. 7", "+1 425-882-8080 Ext. 7"),
        ("call (202) 555-0143 Extension 12", "(202) 555-0143 Extension 12"),
        # Unicode spaces, with a context word.
        ("Tel.\u00a0030\u202f12345678", "030\u202f12345678"),
    ],
)
def test_written_forms(redactor: Redactor, text: str, value: str) -> None:
    assert phones(redactor, text) == [value]


@pytest.mark.parametrize(
    "text",
    [
        "order 020 7946 0018, call me",  # the order's word is the nearer
        "tracking number 020 7946 0018",  # "number" names an order's number too
        "Order no. 0123 456 789, call us",
        "ISSN 0317-8471 phone",
        "invoice 347 123 4567 paid",  # an Italian mobile's shape is an invoice here
        "build 333-1234567 passed",
        "347 123 4567",  # no phone word
        "00442079460018",  # a bare run with the international prefix: a padded id
        "version 3.10.123456 phone",
        "amount 349 123 456 EUR, call",  # three groups of three: an amount
    ],
)
def test_look_alikes_stay(redactor: Redactor, text: str) -> None:
    assert phones(redactor, text) == []


def _example_numbers() -> list[tuple[int, str]]:
    """The national significant numbers of phonenumbers' example numbers, every region and type."""
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code is not None:
                numbers.append(
                    (example.country_code, phonenumbers.national_significant_number(example))
                )
    return numbers


def test_validity_is_phonenumbers_own() -> None:
    """``_valid_number`` decides as ``is_possible_number`` and ``is_valid_number``.

    On random numbers and on numbers near valid ones (an example number with
    digits changed, added or dropped), so that about a third are valid; for +1,
    as ``is_valid_number_for_region`` for the United States or Canada.
    """
    rng = random.Random(19)
    codes = [*phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    examples = _example_numbers()
    valid = 0
    for index in range(30000):
        if index % 2:
            code, example = rng.choice(examples)
            digits = list(example)
            for _ in range(rng.randint(0, 2)):
                digits[rng.randrange(len(digits))] = rng.choice("0123456789")
            if rng.random() < 0.2:
                digits.append(rng.choice("0123456789"))
            national = "".join(digits)
        else:
            code = rng.choice([1, 44, 49, 33, 39, 41, 65, 61, 31, 43, 7, *codes])
            national = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 13)))
        if national[0] == "0" and code not in (39, 378):
            national = "1" + national[1:]
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        number.italian_leading_zero = national[0] == "0" or None
        if code == 1:
            expected = phonenumbers.is_possible_number(number) and any(
                phonenumbers.is_valid_number_for_region(number, r) for r in ("US", "CA")
            )
        else:
            expected = phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(
                number
            )
        assert _valid_number(code, national) is expected, (code, national)
        valid += expected
    assert valid > 5000
