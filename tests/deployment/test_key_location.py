"""Where the master key lives: apart from the data with ``--key-dir``, and a warning when not.

``init`` and ``serve`` run in-process through the console entry point; ``serve``
is started on a port this test holds, so it stops with its one-line error
right after the warnings, without serving anything.
"""

from __future__ import annotations

import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.deployment.conftest import Cli

from servinfo.config import load_settings
from servinfo.crypto import MASTER_KEY_ENV, MasterKeyError, encode_master_key
from servinfo.deployment import open_deployment

WARNING = "warning: the master key"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held open, so that ``serve`` stops before serving."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _serve(cli: Cli, data_dir: Path, port: int, env: dict[str, str] | None = None) -> str:
    status, _, err = cli("serve", "--data-dir", data_dir, "--port", str(port), env=env)
    assert status == 2, err
    assert "already in use" in err, err
    return err


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(WARNING)]


def test_a_master_key_inside_the_data_directory_is_warned_about(
    cli: Cli, tmp_path: Path, taken_port: int
) -> None:
    data_dir = tmp_path / "d"
    status, _, err = cli("init", "--data-dir", data_dir, "--json")
    assert status == 0, err
    (warning,) = _warnings(err)
    assert str(data_dir / "master.key") in warning
    assert "--key-dir" in warning
    (served,) = _warnings(_serve(cli, data_dir, taken_port))
    assert served == warning


def test_the_local_demo_says_so_and_is_not_warned_about(
    cli: Cli, tmp_path: Path, taken_port: int
) -> None:
    data_dir = tmp_path / "demo"
    status, _, err = cli("init", "--data-dir", data_dir, "--local-demo", "--json")
    assert status == 0, err
    assert _warnings(err) == []
    assert load_settings(data_dir, {}).local_demo
    assert _warnings(_serve(cli, data_dir, taken_port)) == []


def test_the_makefile_demo_is_initialized_as_the_local_demo() -> None:
    makefile = (Path(__file__).parents[2] / "Makefile").read_text("utf-8")
    init_lines = [line for line in makefile.splitlines() if "servinfo init" in line]
    assert init_lines
    assert all("--local-demo" in line for line in init_lines)


def test_a_key_dir_keeps_the_master_key_apart_and_a_copy_of_the_data_cannot_open(
    cli: Cli, tmp_path: Path, taken_port: int
) -> None:
    data_dir, key_dir = tmp_path / "data", tmp_path / "keys"
    status, _, err = cli("init", "--data-dir", data_dir, "--key-dir", key_dir, "--json")
    assert status == 0, err
    assert _warnings(err) == []
    key_file = key_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert not (data_dir / "master.key").exists()
    assert load_settings(data_dir, {}).master_key_file == key_file.resolve()
    assert _warnings(_serve(cli, data_dir, taken_port)) == []

    # No file of the data directory holds the key.
    key_text = key_file.read_text("ascii").strip().encode()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key_text not in path.read_bytes(), path

    # The data directory copied elsewhere, without the key directory: it does not open.
    copy = tmp_path / "stolen"
    shutil.copytree(data_dir, copy)
    shutil.move(key_dir, tmp_path / "keys-elsewhere")
    with pytest.raises(MasterKeyError, match="does not exist"):
        open_deployment(copy, {})
    # With the key back in place the deployment opens.
    shutil.move(tmp_path / "keys-elsewhere", key_dir)
    with open_deployment(data_dir, {}) as deployment:
        assert deployment.keyring.status()


def test_a_master_key_from_the_environment_is_not_warned_about(
    cli: Cli, tmp_path: Path, taken_port: int
) -> None:
    env = {MASTER_KEY_ENV: encode_master_key(bytes(range(32)))}
    data_dir = tmp_path / "d"
    status, _, err = cli("init", "--data-dir", data_dir, "--json", env=env)
    assert status == 0, err
    assert _warnings(err) == []
    assert not (data_dir / "master.key").exists()
    assert _warnings(_serve(cli, data_dir, taken_port, env)) == []


def test_an_audit_signer_state_inside_the_data_directory_is_warned_about(
    cli: Cli, tmp_path: Path, taken_port: int
) -> None:
    # With the key in the environment, the signer's state would default to the data
    # directory, where whoever writes the database could roll it back with the log.
    env = {MASTER_KEY_ENV: encode_master_key(bytes(range(32)))}
    data_dir = tmp_path / "d"
    status, _, err = cli("init", "--data-dir", data_dir, "--json", env=env)
    assert status == 0, err
    signer = [line for line in err.splitlines() if line.startswith("warning: the audit signer")]
    assert len(signer) == 1, err
    assert "audit.signer_state_file" in signer[0]
    apart = env | {"SERVINFO_AUDIT_SIGNER_STATE_FILE": str(tmp_path / "keys" / "signer.json")}
    served = _serve(cli, data_dir, taken_port, apart)
    assert "warning: the audit signer" not in served


def test_key_dir_refusals(cli: Cli, tmp_path: Path) -> None:
    env = {MASTER_KEY_ENV: encode_master_key(bytes(range(32)))}
    status, _, err = cli("init", "--data-dir", tmp_path / "a", "--key-dir", tmp_path / "k", env=env)
    assert status == 2
    assert f"--key-dir and {MASTER_KEY_ENV} both name the master key" in err
    assert not (tmp_path / "a").exists()

    status, _, err = cli("init", "--data-dir", tmp_path / "b", "--key-dir", tmp_path / "b" / "keys")
    assert status == 2
    assert "--key-dir must be outside the data directory" in err

    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "master.key").write_text("x")
    status, _, err = cli("init", "--data-dir", tmp_path / "c", "--key-dir", tmp_path / "k")
    assert status == 2
    assert "already exists" in err
    assert not (tmp_path / "c").exists()
