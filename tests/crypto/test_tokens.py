from __future__ import annotations

import re

import pytest

from servinfo.crypto import hash_token, new_token, token_matches


def test_new_token_format() -> None:
    token = new_token()
    assert re.fullmatch(r"svi_[A-Za-z0-9_-]{43}", token), token
    assert new_token("adm").startswith("adm_")


def test_new_tokens_differ() -> None:
    assert len({new_token() for _ in range(16)}) == 16


@pytest.mark.parametrize("prefix", ["", "Svi", "s_v", "x" * 17])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="token prefix must match"):
        new_token(prefix)


def test_hash_token_known_answer() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_token_matches() -> None:
    token = new_token()
    stored = hash_token(token)
    assert token_matches(token, stored)
    assert not token_matches(new_token(), stored)
    assert not token_matches(token, stored.upper())
    assert not token_matches(token, "")
    assert not token_matches(token, "é" * 64)  # non-ASCII input is a mismatch, not a crash
