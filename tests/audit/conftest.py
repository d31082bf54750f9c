"""Fixtures shared by the audit tests: fixed Ed25519 keys (an audit key and a forger's)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def public_key(signing_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte key an auditor holds."""
    return signing_key.public_key().public_bytes_raw()


@pytest.fixture
def other_key() -> Ed25519PrivateKey:
    """A key that is not the audit key: what a forger would sign with."""
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
