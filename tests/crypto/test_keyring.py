from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from servinfo.crypto import (
    Keyring,
    KeyringError,
    KeyringLocked,
    KeyStatus,
    KeyVersion,
    LocalMasterKeyWrapper,
    kek_purpose,
)

# The same instant and regions as the ``now`` and ``keyring`` fixtures in conftest.py.
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REGIONS = ("eu", "us")
LATER = NOW + timedelta(days=90)
BASE_PURPOSES = ["audit_signing", "blind_index", "export", "kek:eu", "kek:us", "pseudonym"]


def test_create_makes_one_kek_per_region_and_the_base_purposes(keyring: Keyring) -> None:
    assert keyring.purposes() == BASE_PURPOSES
    kek = keyring.current("kek:eu")
    assert (kek.purpose, kek.version, kek.key_id) == ("kek:eu", 1, "kek:eu:v1")
    assert len(kek.secret) == 32
    assert kek.created_at == NOW
    secrets = {keyring.current(p).secret for p in BASE_PURPOSES}
    assert len(secrets) == len(BASE_PURPOSES)  # every key independent


def test_file_is_0600_and_holds_no_secret(keyring: Keyring, keyring_path: Path) -> None:
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    raw = keyring_path.read_bytes()
    for purpose in BASE_PURPOSES:
        assert keyring.current(purpose).secret not in raw
        assert keyring.current(purpose).secret.hex().encode() not in raw
    assert sorted(p.name for p in keyring_path.parent.iterdir()) == ["keyring.json"]


def test_open_round_trip(
    keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    reopened = Keyring.open(keyring_path, wrapper)
    assert reopened.purposes() == BASE_PURPOSES
    for purpose in BASE_PURPOSES:
        assert reopened.current(purpose) == keyring.current(purpose)


def test_create_refuses_to_overwrite(
    keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    before = keyring_path.read_bytes()
    with pytest.raises(KeyringError, match="already exists; refusing to overwrite it"):
        Keyring.create(keyring_path, wrapper, REGIONS)
    assert keyring_path.read_bytes() == before


def test_wrong_master_key_is_keyring_locked(keyring: Keyring, keyring_path: Path) -> None:
    with pytest.raises(KeyringLocked) as info:
        Keyring.open(keyring_path, LocalMasterKeyWrapper(bytes(32)))
    assert str(info.value) == "cannot unlock keyring: wrong master key"
    assert info.value.code == "keyring_locked"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_missing_keyring(tmp_path: Path, wrapper: LocalMasterKeyWrapper) -> None:
    with pytest.raises(KeyringError, match=r"no keyring at .*; create one with `servinfo init`"):
        Keyring.open(tmp_path / "absent.json", wrapper)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"format": "other"}', "expected format 'servinfo-keyring' version 1"),
    ],
)
def test_corrupt_keyring(
    tmp_path: Path, wrapper: LocalMasterKeyWrapper, content: str, expected: str
) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError, match=expected):
        Keyring.open(path, wrapper)


def test_entry_moved_to_another_purpose_fails(
    keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    document = json.loads(keyring_path.read_text())
    by_purpose = {entry["purpose"]: entry for entry in document["keys"]}
    by_purpose["kek:eu"]["wrapped"] = by_purpose["kek:us"]["wrapped"]
    keyring_path.write_text(json.dumps(document))
    with pytest.raises(KeyringError, match="entry 'kek:eu:v1' failed its integrity check"):
        Keyring.open(keyring_path, wrapper)


def test_entry_from_another_keyring_fails(
    keyring: Keyring, keyring_path: Path, tmp_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    other_path = tmp_path / "other.json"
    Keyring.create(other_path, wrapper, REGIONS, now=NOW)
    document = json.loads(keyring_path.read_text())
    other = json.loads(other_path.read_text())
    document["keys"][0]["wrapped"] = other["keys"][0]["wrapped"]
    keyring_path.write_text(json.dumps(document))
    with pytest.raises(KeyringError, match="failed its integrity check"):
        Keyring.open(keyring_path, wrapper)


def test_rotation_keeps_old_versions_readable_across_reopen(
    keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    v1 = keyring.current("kek:eu")
    v2 = keyring.rotate("kek:eu", now=LATER)
    assert (v2.key_id, v2.version, v2.created_at) == ("kek:eu:v2", 2, LATER)
    assert v2.secret != v1.secret
    assert keyring.current("kek:eu") == v2
    assert keyring.get("kek:eu:v1") == v1
    assert keyring.versions("kek:eu") == (v1, v2)
    assert keyring.current("kek:us").version == 1

    reopened = Keyring.open(keyring_path, wrapper)
    assert reopened.versions("kek:eu") == (v1, v2)
    assert reopened.get("kek:eu:v1").secret == v1.secret
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600


def test_rotating_an_unknown_purpose_fails(keyring: Keyring) -> None:
    with pytest.raises(KeyringError, match="unknown key purpose 'kek:mars'"):
        keyring.rotate("kek:mars")


def test_concurrent_keyrings_never_lose_a_version(
    keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper
) -> None:
    other = Keyring.open(keyring_path, wrapper)
    v2 = keyring.rotate("blind_index", now=LATER)
    v3 = other.rotate("blind_index", now=LATER)  # re-reads under the lock before appending
    assert (v2.version, v3.version) == (2, 3)
    assert keyring.current("blind_index").version == 2  # stale until reloaded
    keyring.reload()
    assert keyring.current("blind_index") == v3
    assert keyring.get("blind_index:v2") == v2


def test_add_purpose(keyring: Keyring, keyring_path: Path, wrapper: LocalMasterKeyWrapper) -> None:
    added = keyring.add_purpose(kek_purpose("apac"), now=LATER)
    assert (added.key_id, added.created_at) == ("kek:apac:v1", LATER)
    assert "kek:apac" in Keyring.open(keyring_path, wrapper).purposes()
    with pytest.raises(KeyringError, match="'kek:apac' already exists; rotate it instead"):
        keyring.add_purpose("kek:apac")


@pytest.mark.parametrize("purpose", ["", "Upper", "a/b", "kek:eu:v1", "x:", "1abc"])
def test_add_purpose_rejects_bad_labels(keyring: Keyring, purpose: str) -> None:
    with pytest.raises(KeyringError, match="invalid key purpose"):
        keyring.add_purpose(purpose)


@pytest.mark.parametrize(
    ("key_id", "expected"),
    [
        ("kek:eu", "invalid key id 'kek:eu'"),
        ("kek:eu:v0", "invalid key id"),
        ("kek:eu:v2", "unknown key 'kek:eu:v2': 'kek:eu' has versions 1 to 1"),
        ("nope:v1", "unknown key purpose 'nope'"),
    ],
)
def test_get_unknown_key(keyring: Keyring, key_id: str, expected: str) -> None:
    with pytest.raises(KeyringError, match=expected):
        keyring.get(key_id)


def test_status(keyring: Keyring) -> None:
    keyring.rotate("kek:us", now=LATER)
    status = keyring.status()
    assert [(s.purpose, s.version, s.created_at) for s in status] == [
        ("audit_signing", 1, NOW),
        ("blind_index", 1, NOW),
        ("export", 1, NOW),
        ("kek:eu", 1, NOW),
        ("kek:us", 2, LATER),
        ("pseudonym", 1, NOW),
    ]
    assert status[4] == KeyStatus("kek:us", 2, LATER)
    assert status[4].key_id == "kek:us:v2"


def test_signing_key_signs_and_old_verify_keys_stay_available(keyring: Keyring) -> None:
    signature = keyring.signing_key().sign(b"tree head")
    first = keyring.verify_key_bytes()
    assert len(first) == 32
    Ed25519PublicKey.from_public_bytes(first).verify(signature, b"tree head")
    keyring.rotate("audit_signing", now=LATER)
    assert keyring.verify_key_bytes() != first
    assert keyring.verify_key_bytes(version=1) == first


def test_key_version_repr_hides_the_secret(keyring: Keyring) -> None:
    key = keyring.current("kek:eu")
    text = repr(key)
    assert text == "KeyVersion(key_id='kek:eu:v1', created_at='2025-03-01T12:00:00+00:00')"
    assert key.secret.hex() not in text
    assert repr(key.secret) not in text
    assert str(key) == text


def test_timestamps_are_normalised_to_utc_and_naive_ones_refused(keyring: Keyring) -> None:
    from zoneinfo import ZoneInfo

    paris = datetime(2025, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert keyring.rotate("export", now=paris).created_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(KeyringError, match="must be timezone-aware"):
        keyring.rotate("export", now=datetime(2025, 6, 1))


@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        ([], "needs at least one region"),
        (["eu", "eu"], r"duplicates \['eu'\]"),
        (["e/u"], "invalid region 'e/u'"),
    ],
)
def test_create_validates_regions(
    keyring_path: Path, wrapper: LocalMasterKeyWrapper, regions: list[str], expected: str
) -> None:
    with pytest.raises(KeyringError, match=expected):
        Keyring.create(keyring_path, wrapper, regions)
    assert not keyring_path.exists()


def test_key_version_is_frozen(keyring: Keyring) -> None:
    key: KeyVersion = keyring.current("export")
    with pytest.raises(AttributeError):
        key.version = 2  # type: ignore[misc]
