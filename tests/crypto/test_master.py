from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from servinfo.crypto import (
    MASTER_KEY_ENV,
    MasterKeyError,
    encode_master_key,
    generate_master_key_file,
    load_master_key,
)

KEY = bytes(range(100, 132))
KEY_TEXT = base64.urlsafe_b64encode(KEY).decode()


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_encode_master_key_is_urlsafe_base64_of_32_bytes() -> None:
    assert encode_master_key(KEY) == KEY_TEXT
    assert len(KEY_TEXT) == 44


def test_key_from_environment() -> None:
    assert load_master_key({MASTER_KEY_ENV: KEY_TEXT}, None) == KEY


def test_key_from_environment_accepts_missing_padding_and_whitespace() -> None:
    assert load_master_key({MASTER_KEY_ENV: f" {KEY_TEXT.rstrip('=')}\n"}, None) == KEY


def test_environment_wins_over_file(tmp_path: Path) -> None:
    other = encode_master_key(bytes(32))
    path = _write(tmp_path / "master.key", other, 0o600)
    assert load_master_key({MASTER_KEY_ENV: KEY_TEXT}, path) == KEY


@pytest.mark.parametrize("value", ["not base64 at all!", "é" * 44, KEY_TEXT[:-2] + "*="])
def test_malformed_environment_value_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(MasterKeyError, match="SERVINFO_MASTER_KEY is not URL-safe base64") as info:
        load_master_key({MASTER_KEY_ENV: value}, None)
    assert value not in str(info.value)


def test_short_key_is_refused() -> None:
    short = base64.urlsafe_b64encode(bytes(16)).decode()
    with pytest.raises(MasterKeyError, match="decodes to 16 bytes, expected 32"):
        load_master_key({MASTER_KEY_ENV: short}, None)


def test_empty_environment_value_does_not_fall_back_to_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", KEY_TEXT, 0o600)
    with pytest.raises(MasterKeyError, match="is set but empty"):
        load_master_key({MASTER_KEY_ENV: "  "}, path)


def test_no_key_anywhere() -> None:
    with pytest.raises(MasterKeyError, match="no master key: set SERVINFO_MASTER_KEY"):
        load_master_key({}, None)


def test_key_from_0600_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", KEY_TEXT + "\n", 0o600)
    assert load_master_key({"OTHER": "x"}, path) == KEY


def test_key_from_0400_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", KEY_TEXT, 0o400)
    assert load_master_key({}, path) == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666], ids=oct)
def test_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "master.key", KEY_TEXT, mode)
    with pytest.raises(MasterKeyError) as info:
        load_master_key({}, path)
    message = str(info.value)
    assert f"has mode {mode:04o}, expected 0600" in message
    assert f"chmod 600 {path}" in message
    assert KEY_TEXT not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="does not exist"):
        load_master_key({}, tmp_path / "absent.key")


def test_symlink_is_refused(tmp_path: Path) -> None:
    target = _write(tmp_path / "real.key", KEY_TEXT, 0o600)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    with pytest.raises(MasterKeyError, match="not a symlink"):
        load_master_key({}, link)


def test_malformed_file_message_does_not_contain_the_content(tmp_path: Path) -> None:
    content = KEY_TEXT[:30]
    path = _write(tmp_path / "master.key", content, 0o600)
    with pytest.raises(MasterKeyError, match="decodes to 22 bytes, expected 32") as info:
        load_master_key({}, path)
    assert content not in str(info.value)


def test_generate_writes_a_loadable_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    generate_master_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_master_key({}, path)
    assert len(key) == 32
    assert encode_master_key(key) + "\n" == path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]  # no temp file left


def test_generate_makes_a_different_key_each_time(tmp_path: Path) -> None:
    generate_master_key_file(tmp_path / "a.key")
    generate_master_key_file(tmp_path / "b.key")
    assert (tmp_path / "a.key").read_text() != (tmp_path / "b.key").read_text()


def test_generate_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_master_key_file(tmp_path / "master.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    path = _write(tmp_path / "master.key", KEY_TEXT, 0o600)
    with pytest.raises(MasterKeyError, match="already exists; refusing to overwrite"):
        generate_master_key_file(path)
    assert path.read_text() == KEY_TEXT
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]
