"""Fixtures shared by the crypto tests: a master key, its wrapper and a keyring on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from servinfo.crypto import Keyring, LocalMasterKeyWrapper

REGIONS = ("eu", "us")


@pytest.fixture
def now() -> datetime:
    """A fixed creation time, passed in so assertions compare exact values."""
    return datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def master_key() -> bytes:
    return bytes(range(32))


@pytest.fixture
def wrapper(master_key: bytes) -> LocalMasterKeyWrapper:
    return LocalMasterKeyWrapper(master_key)


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "keyring.json"


@pytest.fixture
def keyring(keyring_path: Path, wrapper: LocalMasterKeyWrapper, now: datetime) -> Keyring:
    """A keyring with regions ``eu`` and ``us``, created at ``now``."""
    return Keyring.create(keyring_path, wrapper, REGIONS, now=now)
