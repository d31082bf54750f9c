"""The public API of servinfo.ledgers and its error tree."""

from __future__ import annotations

import inspect

import pytest

import servinfo.ledgers
from servinfo.errors import ServinfoError
from servinfo.ledgers import errors


def test_exported_members_exist_and_are_listed() -> None:
    exported = set(servinfo.ledgers.__all__)
    assert len(exported) == len(servinfo.ledgers.__all__)
    for name in exported:
        assert hasattr(servinfo.ledgers, name), name
    public = {
        name
        for name, value in vars(servinfo.ledgers).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == exported


ERRORS = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value) and issubclass(value, errors.LedgerError)
]


def test_every_error_is_exported() -> None:
    assert {e.__name__ for e in ERRORS} == set(errors.__all__)
    assert set(errors.__all__) <= set(servinfo.ledgers.__all__)


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_error_has_its_own_code_and_a_client_status(error: type[ServinfoError]) -> None:
    assert issubclass(error, ServinfoError)
    assert 400 <= error.http_status < 500
    assert error.code
    if error is not errors.LedgerError:
        assert error.code != errors.LedgerError.code
        assert error.__doc__
    codes = [e.code for e in ERRORS]
    assert codes.count(error.code) == 1
