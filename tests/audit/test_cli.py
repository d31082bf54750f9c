"""``servinfo audit …``: the auditor's offline checks, and the commands on a deployment's log."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.audit.support import event
from typer.testing import CliRunner

from servinfo.audit import AuditLog, InclusionBundle, cli

runner = CliRunner()


@pytest.fixture
def deployed(audit_log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """The commands that open a deployment get this log instead."""

    @contextmanager
    def open_log(
        data_dir: Path | None, token: str | None, token_file: Path | None
    ) -> Iterator[AuditLog]:
        yield audit_log

    monkeypatch.setattr(cli, "_open_log", open_log)
    audit_log.record_many(event(i) for i in range(25))
    return audit_log


def _key_b64(log: AuditLog) -> str:
    return base64.b64encode(log.public_keys()[log.signing_key_id]).decode()


def test_prove_then_verify_proof_offline(deployed: AuditLog, tmp_path: Path) -> None:
    bundle_file = tmp_path / "proof.json"
    result = runner.invoke(cli.app, ["prove", "7", "--out", str(bundle_file)])
    assert result.exit_code == 0, result.output
    assert InclusionBundle.from_json(bundle_file.read_text()).index == 7
    key = _key_b64(deployed)
    ok = runner.invoke(cli.app, ["verify-proof", str(bundle_file), "--public-key", key])
    assert ok.exit_code == 0, ok.output
    assert "OK: entry 7" in ok.output
    # The key may also come from a file: base64, or the JSON of every version.
    key_file = tmp_path / "audit.pub"
    assert runner.invoke(cli.app, ["public-key", "--json", "--out", str(key_file)]).exit_code == 0
    by_file = runner.invoke(
        cli.app, ["verify-proof", str(bundle_file), "--public-key", str(key_file)]
    )
    assert by_file.exit_code == 0, by_file.output


def test_a_tampered_bundle_fails_with_exit_2(deployed: AuditLog, tmp_path: Path) -> None:
    bundle = deployed.inclusion_bundle(3).to_dict()
    bundle["index"] = 4
    bundle_file = tmp_path / "proof.json"
    bundle_file.write_text(json.dumps(bundle))
    result = runner.invoke(
        cli.app, ["verify-proof", str(bundle_file), "--public-key", _key_b64(deployed)]
    )
    assert result.exit_code == 2
    assert "FAILED" in result.output


def test_a_wrong_public_key_is_a_usage_error(deployed: AuditLog, tmp_path: Path) -> None:
    bundle_file = tmp_path / "proof.json"
    bundle_file.write_text(deployed.inclusion_bundle(3).to_json())
    result = runner.invoke(cli.app, ["verify-proof", str(bundle_file), "--public-key", "AAAA"])
    assert result.exit_code == 2
    foreign = base64.b64encode(bytes(32)).decode()
    result = runner.invoke(cli.app, ["verify-proof", str(bundle_file), "--public-key", foreign])
    assert result.exit_code == 2
    assert "signature" in result.output


def test_verify_proof_runs_in_a_process_with_no_deployment(
    deployed: AuditLog, tmp_path: Path
) -> None:
    """As an auditor runs it: a fresh interpreter, the bundle file and the key, nothing else."""
    bundle_file = tmp_path / "proof.json"
    bundle_file.write_text(deployed.inclusion_bundle(11).to_json())
    script = (
        "import sys; from servinfo.audit.cli import app; "
        "app(['verify-proof', sys.argv[1], '--public-key', sys.argv[2]])"
    )
    args = [sys.executable, "-c", script, str(bundle_file), _key_b64(deployed)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "OK: entry 11" in done.stdout
    bundle_file.write_text(bundle_file.read_text().replace('"index": 11', '"index": 12'))
    failed = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert failed.returncode == 2


def test_consistency_then_verify_consistency(deployed: AuditLog, tmp_path: Path) -> None:
    deployed.record_many(event(i) for i in range(25, 40))
    bundle_file = tmp_path / "consistency.json"
    result = runner.invoke(cli.app, ["consistency", "25", "40", "--out", str(bundle_file)])
    assert result.exit_code == 0, result.output
    ok = runner.invoke(
        cli.app, ["verify-consistency", str(bundle_file), "--public-key", _key_b64(deployed)]
    )
    assert ok.exit_code == 0, ok.output
    assert "extends the log of 25 entries" in ok.output


def test_verify_reports_ok_and_the_first_bad_entry(deployed: AuditLog) -> None:
    result = runner.invoke(cli.app, ["verify", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["ok"], report["entries"], report["latest_head"]["tree_size"]) == (True, 25, 25)
    assert "OK: 25 entries" in runner.invoke(cli.app, ["verify"]).output
    with deployed.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_entries WHERE seq = 9")
    failed = runner.invoke(cli.app, ["verify", "--json"])
    assert failed.exit_code == 2
    assert json.loads(failed.output)["first_bad_entry"] == 9


def test_tail_and_public_key(deployed: AuditLog) -> None:
    tail = runner.invoke(cli.app, ["tail", "-n", "2", "--json"])
    assert tail.exit_code == 0, tail.output
    assert [e["seq"] for e in json.loads(tail.output)] == [23, 24]
    assert runner.invoke(cli.app, ["tail"]).exit_code == 0
    key = runner.invoke(cli.app, ["public-key"])
    assert key.output.split() == [deployed.signing_key_id, _key_b64(deployed)]


def test_register_mounts_the_audit_group() -> None:
    import typer

    parent = typer.Typer()
    cli.register(parent)
    parent.command("noop")(lambda: None)
    result = runner.invoke(parent, ["audit", "--help"])
    assert result.exit_code == 0
    assert "verify-proof" in result.output
