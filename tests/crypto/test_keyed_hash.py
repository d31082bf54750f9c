from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from servinfo.crypto import (
    BLIND_INDEX_SIZE,
    BlindIndexer,
    Keyring,
    KeyringError,
    Pseudonymizer,
    normalize_identifier,
)
from servinfo.crypto.keyring import KeyVersion

#: A fixed synthetic key, so the expected indexes below are constants.
_FIXED_KEY = KeyVersion("blind_index", 1, bytes(range(32)), datetime(2025, 1, 1, tzinfo=UTC))


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


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        # Computed by the implementation that hashed the whole message in one call;
        # stored indexes must stay findable, so these bytes may never change.
        ("email", "alice@example.com", "48362535c66636e79a5512246336b6ec"),
        ("username", "  Alice\n", "c2ecd23f7c8b04e2ee8e02553369f2f0"),
        ("email", "Straße@Exämple.test", "d7a0992d23cc4b3308143a64f487e25a"),
    ],
)
def test_index_known_answers(field: str, value: str, expected: str) -> None:
    indexer = BlindIndexer(_FIXED_KEY)
    assert indexer.index(field, value).hex() == expected
    assert indexer.index(field, value).hex() == expected  # again, from the kept HMAC state


def test_index_keeps_the_state_of_few_fields(keyring: Keyring) -> None:
    indexer = BlindIndexer(keyring.current("blind_index"))
    key = keyring.current("blind_index").secret
    for number in range(100):  # more field names than it keeps states for
        field = f"field{number}"
        message = (
            b"\x00\x00\x00\x17servinfo blind index v1"
            + len(field).to_bytes(4, "big")
            + field.encode()
            + b"\x00\x00\x00\x01x"
        )
        expected = hmac.new(key, message, hashlib.sha256).digest()[:16]
        assert indexer.index(field, "X") == expected


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
