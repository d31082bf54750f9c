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
        # The country code in parentheses, or after a spaced dash: international
        # forms, confirmed without a phone word.
        ("(+41) 44 668 18 00", "(+41) 44 668 18 00"),
        ("Jana Meier (+44) 20 7946 0958", "(+44) 20 7946 0958"),
        ("(0041) 44 668 18 00", "(0041) 44 668 18 00"),
        ("(+41)446681800", "(+41)446681800"),
        ("(+41) (0)44 668 18 00", "(+41) (0)44 668 18 00"),
        ("+41(0)446681800", "+41(0)446681800"),
        ("+41 - 44 668 18 00", "+41 - 44 668 18 00"),
        ("+44 - 20 7946 0958", "+44 - 20 7946 0958"),
        # Words asking for questions or call-backs, in German, English, French, Italian.
        ("Rückfragen bitte an Jana Meier (044) 668 18 00", "(044) 668 18 00"),
        ("Für Rückfragen: 044 668 18 00", "044 668 18 00"),
        ("Bei Fragen 044 668 18 00", "044 668 18 00"),
        ("for questions: 020 7946 0958", "020 7946 0958"),
        ("any queries to 020 7946 0958", "020 7946 0958"),
        ("reach me at 07700 900123", "07700 900123"),
        ("call back on 020 7946 0958", "020 7946 0958"),
        ("pour toute question : 01 23 45 67 89", "01 23 45 67 89"),
        ("joignable au 06 12 34 56 78", "06 12 34 56 78"),
        ("per domande 06 6982 1234", "06 6982 1234"),
        ("per informazioni: 06 6982 1234", "06 6982 1234"),
        ("Herr Meier ruft Sie unter 044 668 18 00 an", "044 668 18 00"),
        ("Handy 079 123 45 67", "079 123 45 67"),
        ("mobile: 07700 900123", "07700 900123"),
        # Digits and parentheses split by zero-width spaces, soft hyphens, no-break spaces.
        ("Tel (\u00a0044\u00a0) 668 18 00", "(\u00a0044\u00a0) 668 18 00"),
        (
            "(+\u200b41\u00ad) 44\u00a0668\u00a018\u00a000",
            "(+\u200b41\u00ad) 44\u00a0668\u00a018\u00a000",
        ),
        ("Rückfragen (0\u200b44)\u00a0668\u00ad18 00", "(0\u200b44)\u00a0668\u00ad18 00"),
        ("call ( 202 ) 555-0143", "( 202 ) 555-0143"),
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
        # Parenthesised words and years, amounts, order and ticket numbers after
        # "Rückfragen", versions, timestamps.
        "(2024) 12 15",
        "Rückfragen (2024) 12 15",
        "(ISBN) 978 3 16 148410 0",
        "(CHF) 1 250 000",
        "(EUR) 044 668 180",
        "Rückfragen zur Bestellung 1234 5678 9012",
        "Rückfragen zur Bestellung 044 668 18 00",
        "Fragen zum Ticket 0446681800",
        "questions about invoice 020 7946 0958",
        "Rückfragen: version 0.44.668.18",
        "Rückfragen 2025-05-17 08:29:22",
        "for questions see build 044 668 1800",
        "(+41) 12",  # a country code and too few digits
        "(+99) 44 668 18 00",  # valid for no country code it can start with
        "+41 - 44",
        "total +41 - 12 = 29",
        "Anfragen pro Sekunde: 0441234567",  # requests, not questions
    ],
)
def test_look_alikes_stay(redactor: Redactor, text: str) -> None:
    assert phones(redactor, text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("delta +5 - 10.0.0.1 ok", "10.0.0.1"),
        ("score (+1) 10.0.0.1", "10.0.0.1"),
        ("(+3) 192.168.1.10", "192.168.1.10"),
        ("gain +12 - 2001:db8::1", "2001:db8::1"),
    ],
)
def test_sign_before_address(redactor: Redactor, text: str, value: str) -> None:
    """A country code's shape before an address does not make one candidate of both."""
    assert [text[s.start : s.end] for s in redactor.find(text)] == [value]


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
