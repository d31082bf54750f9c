"""Break-glass: ``servinfo admin recover`` issues an administrator token with the master key.

The administrator's token is lost (its file deleted); whoever holds the master
key issues a new one offline, and it works over the API; the recovery is in
the audit log, which still verifies. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.deployment.conftest import Cli
from tests.support import PostgresDatabases

from servinfo.api import create_app
from servinfo.crypto import MASTER_KEY_ENV, encode_master_key
from servinfo.deployment import open_deployment
from servinfo.policy.loading import default_policy_text


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def init_options(request: pytest.FixtureRequest) -> list[str]:
    """Extra ``servinfo init`` options: SQLite files, or PostgreSQL databases of this test."""
    if request.param == "sqlite":
        return []
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return ["--database-url-template", databases.url_template]


def _init(cli: Cli, tmp_path: Path, options: list[str]) -> tuple[Path, Path]:
    data_dir, token_file = tmp_path / "d", tmp_path / "admin.token"
    status, _out, err = cli(
        "init",
        "--data-dir",
        data_dir,
        "--admin-token-file",
        token_file,
        "--local-demo",
        *options,
    )
    assert status == 0, err
    return data_dir, token_file


def test_a_lost_admin_token_is_recovered_with_the_master_key(
    cli: Cli, tmp_path: Path, init_options: list[str]
) -> None:
    data_dir, token_file = _init(cli, tmp_path, init_options)
    token_file.unlink()  # (1) the only administrator's token is lost

    recovered_file = tmp_path / "recovered.token"
    status, out, err = cli(  # (2) break glass: no token, only the master key
        "admin",
        "recover",
        "--data-dir",
        data_dir,
        "--admin-token-file",
        recovered_file,
    )
    assert status == 0, err
    (warning,) = [line for line in err.splitlines() if line.startswith("warning:")]
    assert "break-glass" in warning
    assert "admin_recovery" in warning
    assert stat.S_IMODE(recovered_file.stat().st_mode) == 0o600
    token = recovered_file.read_text("ascii").strip()
    assert token not in out + err  # written to the file only

    with open_deployment(data_dir, {}) as deployment:  # (3) the token works over the API
        client = TestClient(create_app(deployment))
        headers = {"Authorization": f"Bearer {token}"}
        listed = client.get("/v1/principals", headers=headers)
        assert listed.status_code == 200, listed.text
        names = {p["name"]: p for p in listed.json()}
        recovered = [n for n in names if n.startswith("recovered-admin-")]
        assert len(recovered) == 1
        assert names[recovered[0]]["role"] == "admin"
        # The lost token's principal can now be revoked: another administrator remains.
        assert client.delete("/v1/principals/admin", headers=headers).status_code == 200
        client.close()

    # (4) the log verifies and shows the recovery, under its own action.
    env = {"SERVINFO_TOKEN": token}
    status, out, err = cli("audit", "verify", "--json", "--data-dir", data_dir, env=env)
    assert status == 0, err
    assert json.loads(out)["ok"] is True
    status, out, err = cli("audit", "tail", "-n", "50", "--json", "--data-dir", data_dir, env=env)
    assert status == 0, err
    entries = json.loads(out)
    (entry,) = [e for e in entries if e["action"] == "admin_recovery"]
    assert entry["actor"] == "break-glass"
    assert entry["outcome"] == "issued"
    assert entry["details"]["principal"] == recovered[0]
    assert entry["details"]["role"] == "admin"
    status, out, err = cli("audit", "tail", "-n", "50", "--data-dir", data_dir, env=env)
    assert "admin_recovery" in out


def test_without_a_token_file_the_token_is_printed_once(cli: Cli, tmp_path: Path) -> None:
    data_dir, _ = _init(cli, tmp_path, [])
    status, out, err = cli("admin", "recover", "--data-dir", data_dir, "--json")
    assert status == 0, err
    shown = json.loads(out)
    assert shown["token"].startswith("svi_")
    assert shown["principal"].startswith("recovered-admin-")
    status, out, err = cli(
        "principals",
        "list",
        "--data-dir",
        data_dir,
        env={"SERVINFO_TOKEN": shown["token"]},
    )
    assert status == 0, err


def test_a_wrong_master_key_recovers_nothing(cli: Cli, tmp_path: Path) -> None:
    data_dir, _ = _init(cli, tmp_path, [])
    wrong = {MASTER_KEY_ENV: encode_master_key(bytes(32))}
    status, out, err = cli("admin", "recover", "--data-dir", data_dir, env=wrong)
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert "svi_" not in out + err
    with open_deployment(data_dir, {}) as deployment:
        assert [p.name for p in deployment.principals.list()] == ["admin"]


def test_an_existing_token_file_is_refused_before_anything_is_issued(
    cli: Cli, tmp_path: Path
) -> None:
    data_dir, token_file = _init(cli, tmp_path, [])
    status, _out, err = cli(
        "admin", "recover", "--data-dir", data_dir, "--admin-token-file", token_file
    )
    assert status == 2
    assert "already exists" in err
    with open_deployment(data_dir, {}) as deployment:
        assert [p.name for p in deployment.principals.list()] == ["admin"]


def test_the_cli_refuses_to_revoke_the_last_admin(cli: Cli, tmp_path: Path) -> None:
    data_dir, token_file = _init(cli, tmp_path, [])
    status, _out, err = cli(
        "principals",
        "revoke",
        "admin",
        "--data-dir",
        data_dir,
        "--token-file",
        token_file,
    )
    assert status == 2
    assert "'admin' is the last active principal whose role may manage principals" in err
    status, _out, err = cli(
        "principals", "list", "--data-dir", data_dir, "--token-file", token_file
    )
    assert status == 0, err


def test_a_policy_that_would_leave_no_administrator_is_not_activated(
    cli: Cli, tmp_path: Path
) -> None:
    data_dir, token_file = _init(cli, tmp_path, [])
    text = default_policy_text()
    granted = "permissions: [manage_principals, "
    assert granted in text  # the shipped policy: the admin role alone grants it
    demoting = tmp_path / "demoting.yaml"
    demoting.write_text(text.replace(granted, "permissions: [", 1), "utf-8")

    status, _out, err = cli(
        "policy", "activate", demoting, "--data-dir", data_dir, "--token-file", token_file
    )
    assert status == 2
    assert "would leave no active principal who may manage principals" in err
    with open_deployment(data_dir, {}) as deployment:
        active = deployment.policy_versions.active()
        assert active is not None
        assert "manage_principals" in deployment.policy.roles["admin"].permissions
    status, _out, err = cli(
        "principals", "list", "--data-dir", data_dir, "--token-file", token_file
    )
    assert status == 0, err
