"""``servinfo init`` as a new user runs it, and the settings it leaves behind."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import PostgresDatabases

from servinfo.config import ConfigError, load_settings
from servinfo.crypto import KeyringLocked, hash_token
from servinfo.deployment import AlreadyInitialized, create_deployment, open_deployment
from servinfo.policy import PolicyInvalid
from servinfo.policy.loading import default_policy_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_complete_owner_only_deployment(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    result = create_deployment(data_dir, {})
    assert result.admin_token.startswith("svi_")
    for name in ("servinfo.toml", "control.db", "keyring.json", "tls/server.crt", "tls/server.key"):
        assert (data_dir / name).is_file(), name
    assert _mode(data_dir / "master.key") == 0o600
    assert _mode(data_dir / "keyring.json") == 0o600
    assert _mode(data_dir) == 0o700
    for region in ("eu", "uk", "ch", "us", "apac"):
        assert _mode(data_dir / "regions" / f"{region}.db") == 0o600
    with open_deployment(data_dir, {}) as deployment:
        assert deployment.policy.version == result.policy_version
        admin = deployment.principals.by_token_hash(hash_token(result.admin_token))
        assert admin is not None
        assert admin.role == "admin"
        active = deployment.policy_versions.active()
        assert active is not None
        assert active.version == result.policy_version
        assert {s.purpose for s in deployment.keyring.status()} >= {"kek:eu", "audit_signing"}
    # The token is shown once and stored only as a hash.
    assert result.admin_token.encode() not in (data_dir / "control.db").read_bytes()


def test_init_refuses_an_existing_deployment(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    before = (tmp_path / "keyring.json").read_bytes()
    with pytest.raises(AlreadyInitialized, match="already holds a deployment"):
        create_deployment(tmp_path, {})
    assert (tmp_path / "keyring.json").read_bytes() == before


def test_init_never_overwrites_a_keyring(tmp_path: Path) -> None:
    (tmp_path / "keyring.json").write_text("{}")
    with pytest.raises(AlreadyInitialized, match="never overwrites a keyring"):
        create_deployment(tmp_path, {})
    assert (tmp_path / "keyring.json").read_text() == "{}"


def test_init_with_master_key_from_environment_writes_no_key_file(tmp_path: Path) -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env = {"SERVINFO_MASTER_KEY": key}
    result = create_deployment(tmp_path, env)
    assert result.master_key_file is None
    assert not (tmp_path / "master.key").exists()
    with open_deployment(tmp_path, env) as deployment:
        assert deployment.keyring.current("kek:eu").version == 1
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyringLocked, match="cannot unlock keyring: wrong master key"):
        open_deployment(tmp_path, {"SERVINFO_MASTER_KEY": other})


def test_init_refuses_an_invalid_policy_and_creates_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text(default_policy_text().replace("entity: ims_uk", "entity: ims_gb"))
    target = tmp_path / "deployment"
    with pytest.raises(PolicyInvalid):
        create_deployment(target, {}, policy_file=broken)
    assert not target.exists()


def test_init_keeps_its_own_copy_of_a_custom_policy(tmp_path: Path) -> None:
    custom = tmp_path / "mine.yaml"
    custom.write_text(default_policy_text().replace("period: 13 months", "period: 12 months"))
    target = tmp_path / "deployment"
    result = create_deployment(target, {}, policy_file=custom)
    custom.unlink()
    settings = load_settings(target, {})
    assert settings.policy_file == target / "policy.yaml"
    with open_deployment(target, {}) as deployment:
        assert deployment.policy.version == result.policy_version


def test_environment_overrides_settings(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    settings = load_settings(tmp_path, {"SERVINFO_SERVER_PORT": "9443"})
    assert settings.port == 9443
    assert settings.region_urls["eu"].endswith("regions/eu.db")
    with pytest.raises(ConfigError, match="SERVINFO_SERVER_PORT: expected a whole number, got 'x'"):
        load_settings(tmp_path, {"SERVINFO_SERVER_PORT": "x"})
    override = load_settings(tmp_path, {"SERVINFO_DATABASE_REGION_EU": "sqlite:///elsewhere.db"})
    assert override.region_urls["eu"] == f"sqlite:///{(tmp_path / 'elsewhere.db').resolve()}"


def test_missing_deployment_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run 'servinfo init'"):
        load_settings(tmp_path, {})


def test_init_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    result = create_deployment(tmp_path, {}, database_url_template=postgres_databases.url_template)
    with open_deployment(tmp_path, {}) as deployment:
        assert deployment.control.dialect.name == "postgresql"
        assert set(deployment.regions) == set(result.regions)
        assert deployment.policy_versions.active() is not None


def test_cli_init_twice_is_one_line_and_exit_2(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "servinfo", "init", "--data-dir", str(tmp_path / "d")]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "Admin token (shown once" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, check=False)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1
    assert "already holds a deployment" in second.stderr
    assert "Traceback" not in second.stderr
