"""A restored deployment's checkpoints are accepted by a real witness: no fork, no rollback.

The witness is ``servinfo witness serve`` on a loopback port, as in
tests/audit/test_witnessed.py; the deployment's side runs as commands:
``servinfo backup``, ``servinfo restore``, ``servinfo audit witness|verify``.
The backup is taken while the witness has cosigned size N; the log then grows
and is cosigned further. The restored deployment starts a new origin whose
first entry names the old one's last checkpoint: the witness cosigns it, and
its state for the old origin never goes back.
"""

from __future__ import annotations

from pathlib import Path

from tests.audit.test_witnessed import WITNESS, _append, _servinfo
from tests.witness.support import serving

from servinfo.deployment import create_deployment, open_deployment
from servinfo.witness.directory import STATE_FILE
from servinfo.witness.store import WitnessStore


def _sizes(witness_dir: Path) -> dict[str, int]:
    store = WitnessStore(witness_dir / STATE_FILE)
    return {log.origin: log.state.size for log in store.logs()}


def test_witnesses_accept_the_restored_deployments_checkpoints(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    token = create_deployment(data_dir, {}, local_demo=True).admin_token
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
    witness_key = _servinfo("witness", "key", "--dir", str(witness_dir)).stdout.split()[0]
    data = ("--data-dir", str(data_dir))

    with serving(witness_dir, tmp_path / "witness.log") as url:
        (data_dir / "witness-policy.txt").write_text(
            f"log {log_key}\nwitness w1 {witness_key} {url}\nquorum w1\n"
        )
        _append(data_dir, "admin", 5)
        assert _servinfo("audit", "witness", *data, token=token).returncode == 0
        backup_file = tmp_path / "deployment.servinfo-backup"
        taken = _servinfo("backup", "--out", str(backup_file), *data, token=token)
        assert taken.returncode == 0, taken.stderr
        _append(data_dir, "admin", 7)
        assert "w1: cosigned" in _servinfo("audit", "witness", *data, token=token).stdout
        old_size = _sizes(witness_dir)[origin]

        restored_dir = tmp_path / "restored"
        restored = _servinfo("restore", str(backup_file), "--data-dir", str(restored_dir))
        assert restored.returncode == 0, restored.stderr
        with open_deployment(restored_dir, {}) as deployment:
            new_origin, new_key = deployment.audit.origin, deployment.audit.vkeys()[-1]
            first = deployment.audit.entries(0, 1)[0]
        assert new_origin != origin
        assert first.action == "audit_log_restored"
        assert first.details["previous_origin"] == origin
        assert first.details["previous_size"] == old_size  # the last checkpoint signed

        # The operator tells the witness of the new origin and points the policy at it.
        added = _servinfo(
            "witness", "add-log", "--dir", str(witness_dir), "--origin", new_origin,
            "--key", new_key,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        (restored_dir / "witness-policy.txt").write_text(
            f"log {new_key}\nwitness w1 {witness_key} {url}\nquorum w1\n"
        )
        again = ("--data-dir", str(restored_dir))
        _append(restored_dir, "admin", 3)
        witnessed = _servinfo("audit", "witness", *again, token=token)
        assert witnessed.returncode == 0, witnessed.stderr
        assert "w1: cosigned" in witnessed.stdout
        policy = tmp_path / "auditor-policy.txt"
        policy.write_text(f"log {new_key}\nwitness w1 {witness_key}\nquorum w1\n")
        verified = _servinfo("audit", "verify", "--policy", str(policy), *again, token=token)
        assert verified.returncode == 0, verified.stderr

        # The old origin's log goes on, and the witness never saw it go back.
        _append(data_dir, "admin", 2)
        assert "w1: cosigned" in _servinfo("audit", "witness", *data, token=token).stdout
    sizes = _sizes(witness_dir)
    assert sizes[origin] > old_size
    assert sizes[new_origin] > 0
