"""``servinfo dsr …`` against a real data directory."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from tests.rights.world import World
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.rights.errors import InvalidRequest


def _dsr(world: World, *args: str) -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["dsr", *args, "--data-dir", str(world.data_dir), "--token", world.tokens["dpo"]],
    )
    return result.exit_code, result.output


def test_open_process_show_list_export(world: World, tmp_path: Path) -> None:
    code, out = _dsr(
        world, "open", "--type", "access", "--subject", "subj-de", "--verified", "--json"
    )
    assert code == 0, out
    request_id = json.loads(out)["id"]
    code, out = _dsr(world, "process", request_id, "--json")
    assert code == 0
    assert json.loads(out)["state"] == "completed"
    code, out = _dsr(world, "show", request_id, "--json")
    assert json.loads(out)["outcome"]["records"] == 6
    code, out = _dsr(world, "list", "--json")
    assert [r["id"] for r in json.loads(out)] == [request_id]
    target = tmp_path / "export.zip"
    code, out = _dsr(world, "export", request_id, "--out", str(target))
    assert code == 0, out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "report.html" in zipfile.ZipFile(target).namelist()
    code, out = _dsr(world, "export", request_id, "--out", str(target))
    assert code != 0


def test_rectification_extension_and_refusal_from_the_command_line(world: World) -> None:
    code, out = _dsr(
        world,
        "open",
        "--type",
        "rectification",
        "--subject",
        "subj-de",
        "--field",
        "job_title=Engineer",
        "--json",
    )
    assert code == 0, out
    request = json.loads(out)
    assert request["parameters"]["fields"] == {"job_title": "Engineer"}
    code, out = _dsr(world, "extend", request["id"], "--reason", "complex", "--json")
    assert code == 0
    assert json.loads(out)["extension_reason"] == "complex"
    code, out = _dsr(world, "refuse", request["id"], "--reason", "unverified", "--json")
    assert json.loads(out)["state"] == "refused"
    code, out = _dsr(world, "outbox")
    kinds = {n["kind"] for n in json.loads(out)}
    assert {"receipt_notice", "extension_notice", "completion_notice"} <= kinds


def test_an_erasure_receipt_written_and_verified_from_the_command_line(
    world: World, tmp_path: Path
) -> None:
    code, out = _dsr(
        world, "open", "--type", "erasure", "--subject", "subj-de", "--verified", "--json"
    )
    assert code == 0, out
    request_id = json.loads(out)["id"]
    code, out = _dsr(world, "process", request_id, "--json")
    assert code == 0, out
    target = tmp_path / "receipt.json"
    code, out = _dsr(world, "receipt", request_id, "--out", str(target))
    assert code == 0, out
    runner = CliRunner()
    verified = runner.invoke(
        app,
        [
            "audit", "verify-receipt", str(target),
            "--data-dir", str(world.data_dir), "--token", world.tokens["dpo"],
        ],
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output
    # A second write never overwrites; a request that is not an erasure has no receipt.
    auth = ["--data-dir", str(world.data_dir), "--token", world.tokens["dpo"]]
    again = runner.invoke(app, ["dsr", "receipt", request_id, "--out", str(target), *auth])
    # (the command's errors reach servinfo's main, which prints one line: tests/cli)
    assert isinstance(again.exception, InvalidRequest)
    assert "exists" in str(again.exception)
    code, out = _dsr(
        world, "open", "--type", "access", "--subject", "subj-fr", "--verified", "--json"
    )
    access_id = json.loads(out)["id"]
    none = runner.invoke(
        app, ["dsr", "receipt", access_id, "--out", str(tmp_path / "none.json"), *auth]
    )
    assert isinstance(none.exception, InvalidRequest)
    assert "no erasure receipt" in str(none.exception)
