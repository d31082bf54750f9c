"""The witness's keys: both types, the private key file, the names a cosigner may have."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tests.witness.support import T0, SyntheticLog

from servinfo.audit.cosignature import Ed25519CosignatureVerifier, MLDSA44CosignatureVerifier
from servinfo.audit.note import Note, open_note, parse_vkey
from servinfo.witness.errors import WitnessSetupInvalid
from servinfo.witness.keys import WitnessKeys, check_name

NAME = "witness.example/w1"


@pytest.fixture(scope="module")
def keys() -> WitnessKeys:
    return WitnessKeys.generate(NAME)


def test_the_witness_holds_an_ml_dsa_44_and_an_ed25519_key(keys: WitnessKeys) -> None:
    verifiers = [parse_vkey(vkey) for vkey in keys.vkeys()]
    assert [type(v) for v in verifiers] == [MLDSA44CosignatureVerifier, Ed25519CosignatureVerifier]
    assert {v.name for v in verifiers} == {NAME}
    assert verifiers[0].key_id != verifiers[1].key_id


def test_both_cosignatures_verify_with_the_published_keys(keys: WitnessKeys) -> None:
    log = SyntheticLog().append(5)
    signed = Note.parse(log.signed())
    cosignatures = tuple(s.cosign(log.checkpoint(), T0) for s in keys.signers())
    note = Note(signed.text, (*signed.signatures, *cosignatures)).to_bytes()
    for vkey in keys.vkeys():
        verifier = parse_vkey(vkey)
        _, verified = open_note(note, [verifier])
        assert len(verified) == 1
        assert isinstance(verifier, MLDSA44CosignatureVerifier | Ed25519CosignatureVerifier)
        assert verifier.timestamp_of(signed.text, verified[0].signature) == T0


def test_the_key_file_is_created_0600_and_reads_back_the_same_keys(
    keys: WitnessKeys, tmp_path: Path
) -> None:
    path = tmp_path / "witness.key"
    keys.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = WitnessKeys.read(path)
    assert again.name == NAME
    assert again.vkeys() == keys.vkeys()


def test_an_existing_key_file_is_never_overwritten(keys: WitnessKeys, tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    keys.write(path)
    before = path.read_bytes()
    with pytest.raises(WitnessSetupInvalid, match="exists already"):
        WitnessKeys.generate(NAME).write(path)
    assert path.read_bytes() == before


def test_a_key_file_others_can_read_is_refused(keys: WitnessKeys, tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    keys.write(path)
    path.chmod(0o640)
    with pytest.raises(WitnessSetupInvalid, match="mode 640, expected 600"):
        WitnessKeys.read(path)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("", "expected 4 lines"),
        ("servinfo witness key v2\nname a\nml-dsa-44 AA==\ned25519 AA==\n", "expected 4 lines"),
        ("servinfo witness key v1\nname a\nname b\ned25519 AA==\n", "line 3"),
        ("servinfo witness key v1\nname a\nml-dsa-44 !!\ned25519 AA==\n", "not base64"),
        ("servinfo witness key v1\nname a\nml-dsa-44 AAAA\ned25519 AAAA\n", "3 bytes, expected 32"),
        ("servinfo witness key v1\nname a b\nml-dsa-44 AAAA\ned25519 AAAA\n", "witness name"),
    ],
)
def test_a_bad_key_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, text: str, found: str
) -> None:
    path = tmp_path / "witness.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(WitnessSetupInvalid, match=found):
        WitnessKeys.read(path)


def test_a_missing_key_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(WitnessSetupInvalid, match="witness init"):
        WitnessKeys.read(tmp_path / "witness.key")


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there", "x" * 256])
def test_names_a_cosigner_cannot_have_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="witness name"):
        check_name(name)


def test_the_private_keys_do_not_show_in_a_repr(keys: WitnessKeys) -> None:
    assert keys.to_text().split("\n")[2].split(" ")[1] not in repr(keys)
