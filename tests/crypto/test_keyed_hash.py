from __future__ import annotations

import hashlib
import hmac

import pytest

from servinfo.crypto import (
    BLIND_INDEX_SIZE,
    BlindIndexer,
    Keyring,
    KeyringError,
    Pseudonymizer,
    normalize_identifier,
)


def test_index_is_truncated_hmac_over_length_prefixed_fields(keyring: Keyring) -> None:
    key = keyring.current("blind_index")
    message = (
        b"\x00\x00\x00\x17servinfo blind index v1"
        + b"\x00\x00\x00\x05email"
        + b"\x00\x00\x00\x11alice@example.com"
    )
    expected = hmac.new(key.secret, message, hashlib.sha256).digest()[:16]
    assert BLIND_INDEX_SIZE == 16
    assert BlindIndexer(key).index("email", "alice@example.com") == expected


def test_index_normalizes(keyring: Keyring) -> None:
    indexer = BlindIndexer(keyring.current("blind_index"))
    expected = indexer.index("email", "alice@example.com")
    assert indexer.index("email", "  Alice@Example.COM\n") == expected
    assert indexer.index("email", "alice@example.org") != expected


def test_normalize_identifier() -> None:
    assert normalize_identifier("  STRASSE ") == "strasse"
    assert normalize_identifier("Straße") == "strasse"  # casefold, not lower
    assert normalize_identifier("e\u0301") == normalize_identifier("\u00e9")  # NFKC


def test_index_is_separated_by_field(keyring: Keyring) -> None:
    indexer = BlindIndexer(keyring.current("blind_index"))
    assert indexer.index("email", "alice") != indexer.index("username", "alice")
    assert indexer.index("ab", "c") != indexer.index("a", "bc")


def test_index_depends_on_key_version(keyring: Keyring) -> None:
    v1 = BlindIndexer(keyring.current("blind_index"))
    v2 = BlindIndexer(keyring.rotate("blind_index"))
    assert v1.index("email", "a@b.c") != v2.index("email", "a@b.c")
    assert (v1.key_id, v2.key_id) == ("blind_index:v1", "blind_index:v2")


def test_keys_of_other_purposes_are_refused(keyring: Keyring) -> None:
    with pytest.raises(KeyringError, match="has purpose 'pseudonym', expected 'blind_index'"):
        BlindIndexer(keyring.current("pseudonym"))
    with pytest.raises(KeyringError, match="has purpose 'blind_index', expected 'pseudonym'"):
        Pseudonymizer(keyring.current("blind_index"))


def test_pseudonym(keyring: Keyring) -> None:
    pseudonymizer = Pseudonymizer(keyring.current("pseudonym"))
    value = pseudonymizer.pseudonym("sub-42")
    assert len(value) == 32
    assert int(value, 16) >= 0  # lower-case hex
    assert value == value.lower()
    assert pseudonymizer.pseudonym("sub-42") == value
    assert pseudonymizer.pseudonym("sub-43") != value


def test_pseudonym_salt_changes_it_and_is_length_delimited(keyring: Keyring) -> None:
    pseudonymizer = Pseudonymizer(keyring.current("pseudonym"))
    assert pseudonymizer.pseudonym("sub-42", salt=b"s1") != pseudonymizer.pseudonym("sub-42")
    assert pseudonymizer.pseudonym("bc", salt=b"a") != pseudonymizer.pseudonym("c", salt=b"ab")


def test_pseudonym_differs_from_blind_index_of_the_same_value(keyring: Keyring) -> None:
    # Separate keys and separate domains: neither output reveals the other.
    index = BlindIndexer(keyring.current("blind_index")).index("email", "x")
    assert Pseudonymizer(keyring.current("pseudonym")).pseudonym("x") != index.hex()


def test_reprs_show_no_key(keyring: Keyring) -> None:
    key = keyring.current("blind_index")
    assert repr(BlindIndexer(key)) == "BlindIndexer(key_id='blind_index:v1')"
    pseudonym_key = keyring.current("pseudonym")
    assert repr(Pseudonymizer(pseudonym_key)) == "Pseudonymizer(key_id='pseudonym:v1')"
