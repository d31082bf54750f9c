"""The command line as an operator uses it, end to end, in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _servinfo(
    *args: str, data_dir: Path, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")}
    if token is not None:
        env["SERVINFO_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "servinfo", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_operator_flow(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    init = _servinfo("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    admin = json.loads(init.stdout)["admin_token"]

    # A command that touches data without a token is refused in one line.
    anonymous = _servinfo("principals", "list", data_dir=data_dir)
    assert anonymous.returncode == 2
    no_token = "error: no token: pass --token-file FILE, or set SERVINFO_TOKEN"
    assert anonymous.stderr.strip() == no_token

    added = _servinfo(
        "principals", "add", "sre-eu", "--kind", "employee", "--role", "sre", "--region", "eu",
        "--json", data_dir=data_dir, token=admin,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    sre = json.loads(added.stdout)["token"]

    # The SRE role may not manage principals or read the audit log.
    denied = _servinfo("principals", "list", data_dir=data_dir, token=sre)
    assert denied.returncode == 2
    assert "lacks the permission 'manage_principals'" in denied.stderr
    assert _servinfo("audit", "verify", data_dir=data_dir, token=sre).returncode == 2

    verified = _servinfo("audit", "verify", "--json", data_dir=data_dir, token=admin)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True

    proof_file, policy_file = tmp_path / "entry.tlog-proof", tmp_path / "policy.txt"
    proved = _servinfo(
        "audit", "prove", "0", "--out", str(proof_file), data_dir=data_dir, token=admin
    )
    assert proved.returncode == 0, proved.stderr
    policy = _servinfo("audit", "policy", "--out", str(policy_file), data_dir=data_dir, token=admin)
    assert policy.returncode == 0, policy.stderr
    # An auditor needs only the proof and the trust policy: no deployment, no token.
    offline = subprocess.run(
        [sys.executable, "-m", "servinfo", "audit", "verify-proof", str(proof_file),
         "--policy", str(policy_file)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr + offline.stdout

    assert (
        _servinfo("keys", "rotate", "--region", "eu", data_dir=data_dir, token=sre).returncode == 2
    )
    rotated = _servinfo(
        "keys", "rotate", "--region", "eu", "--json", data_dir=data_dir, token=admin
    )
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["key_id"] == "kek:eu:v2"
