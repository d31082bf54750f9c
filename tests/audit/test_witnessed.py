"""A deployment and a witness as separate processes: a rolled-back and forked log is refused by the
witness and flagged by the deployment.

The witness is ``servinfo witness serve`` on a loopback port; the deployment's
side is ``servinfo audit witness`` and ``servinfo audit verify`` run as
commands. The rollback is what a key holder can do alone: put back an older
copy of the whole data directory (database, keyring, signer's state) and
append a different history from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.witness.support import serving

from servinfo.deployment import create_deployment, open_deployment

WITNESS = "witness.example/w1"


def _servinfo(
    *args: str, token: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")} | (env or {})
    if token is not None:
        env["SERVINFO_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "servinfo", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def _append(data_dir: Path, actor: str, count: int) -> None:
    """Entries appended by this process; closing the deployment signs their checkpoint."""
    with open_deployment(data_dir, {}) as deployment:
        for n in range(count):
            deployment.audit.record("policy_change", actor=actor, details={"n": n})


@pytest.fixture
def deployment_dir(tmp_path: Path) -> tuple[Path, str]:
    data_dir = tmp_path / "deployment"
    result = create_deployment(data_dir, {}, local_demo=True)
    return data_dir, result.admin_token


def test_a_rolled_back_fork_is_refused_by_the_witness_and_flagged(
    deployment_dir: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, token = deployment_dir
    with open_deployment(data_dir, {}) as deployment:
        origin, log_key = deployment.audit.origin, deployment.audit.vkeys()[-1]
    witness_dir = tmp_path / "witness"
    assert (
        _servinfo("witness", "init", "--dir", str(witness_dir), "--name", WITNESS).returncode == 0
    )
    added = _servinfo(
        "witness", "add-log", "--dir", str(witness_dir), "--origin", origin, "--key", log_key
    )
    assert added.returncode == 0, added.stderr
    witness_keys = _servinfo("witness", "key", "--dir", str(witness_dir)).stdout.split()
    policy_file = tmp_path / "auditor-policy.txt"

    with serving(witness_dir, tmp_path / "witness.log") as url:
        (data_dir / "witness-policy.txt").write_text(
            f"log {log_key}\nwitness w1 {witness_keys[0]} {url}\nquorum w1\n"
        )
        policy_file.write_text(f"log {log_key}\nwitness w1 {witness_keys[0]}\nquorum w1\n")
        data = ("--data-dir", str(data_dir))

        # (1) The honest log is cosigned, and verifies against the auditor's policy.
        _append(data_dir, "admin", 5)
        witnessed = _servinfo("audit", "witness", *data, token=token)
        assert witnessed.returncode == 0, witnessed.stderr
        assert "w1: cosigned" in witnessed.stdout
        verified = _servinfo("audit", "verify", "--policy", str(policy_file), *data, token=token)
        assert verified.returncode == 0, verified.stderr
        assert "witnessed:" in verified.stdout

        # (2) A copy of everything, taken now; the log grows and is cosigned further.
        earlier = tmp_path / "copy-of-deployment"
        shutil.copytree(data_dir, earlier)
        _append(data_dir, "admin", 7)
        assert _servinfo("audit", "witness", *data, token=token).returncode == 0
        saved = tmp_path / "saved-checkpoint.txt"
        taken = _servinfo("audit", "checkpoint", "--out", str(saved), *data, token=token)
        assert taken.returncode == 0, taken.stderr

        # (3) The key holder rolls back to the copy and appends another history.
        shutil.rmtree(data_dir)
        shutil.copytree(earlier, data_dir)
        _append(data_dir, "forger", 9)
        alone = _servinfo("audit", "verify", *data, token=token)
        assert alone.returncode == 0, alone.stderr  # consistent with itself and its signer

        # The witness refuses it; the deployment says why, in one line per witness.
        refused = _servinfo("audit", "witness", *data, token=token)
        assert refused.returncode == 2
        assert "w1: rollback" in refused.stderr, refused.stderr
        assert "rolled back or forked" in refused.stderr

        # The auditor's saved checkpoint is not in the log any more.
        against_saved = _servinfo("audit", "verify", "--trusted", str(saved), *data, token=token)
        assert against_saved.returncode == 2
        assert against_saved.stderr.startswith("FAILED: ")
        assert len(against_saved.stderr.strip().splitlines()) == 1

    # And without a saved checkpoint: no quorum vouches for the forked tail.
    unwitnessed = _servinfo(
        "audit", "verify", "--policy", str(policy_file), *data, token=token,
        env={"SERVINFO_AUDIT_MAX_UNWITNESSED_SECONDS": "0"},
    )  # fmt: skip
    assert unwitnessed.returncode == 2
    assert "not covered by a checkpoint a quorum of witnesses cosigned" in unwitnessed.stderr
