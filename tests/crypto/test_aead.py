from __future__ import annotations

import pytest

from servinfo.crypto import _aead


def test_sizes() -> None:
    assert len(_aead.random_key()) == 32
    assert len(_aead.random_nonce()) == 12
    assert _aead.random_nonce() != _aead.random_nonce()


def test_seal_open_round_trip_with_and_without_prepared_cipher() -> None:
    key, nonce = _aead.random_key(), _aead.random_nonce()
    sealed = _aead.aes_gcm_seal(key, nonce, b"payload", b"aad")
    assert len(sealed) == len(b"payload") + _aead.TAG_SIZE
    assert _aead.aes_gcm_open(key, nonce, sealed, b"aad") == b"payload"
    cipher = _aead.new_cipher(key)
    assert _aead.aes_gcm_seal_with(cipher, nonce, b"payload", b"aad") == sealed
    assert _aead.aes_gcm_open_with(cipher, nonce, sealed, b"aad") == b"payload"


def test_open_raises_invalid_tag_on_wrong_aad() -> None:
    key, nonce = _aead.random_key(), _aead.random_nonce()
    sealed = _aead.aes_gcm_seal(key, nonce, b"payload", b"aad")
    with pytest.raises(_aead.InvalidTag):
        _aead.aes_gcm_open(key, nonce, sealed, b"other")


def test_only_256_bit_keys() -> None:
    with pytest.raises(ValueError, match="must be 32 bytes, got 16"):
        _aead.new_cipher(bytes(16))


def test_batches_of_keys_and_nonces() -> None:
    keys, nonces = _aead.random_keys(50), _aead.random_nonces(50)
    assert {len(k) for k in keys} == {32}
    assert {len(n) for n in nonces} == {12}
    assert len(set(keys)) == len(set(nonces)) == 50
    assert set(_aead.random_nonces(50)).isdisjoint(nonces)
    assert _aead.random_keys(0) == _aead.random_nonces(0) == []
