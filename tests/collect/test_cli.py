"""``servinfo ingest FILE.ndjson`` end to end, straight into the deployment."""

from __future__ import annotations

import json
from pathlib import Path

from tests.collect.world import ndjson, usage
from typer.testing import CliRunner

from servinfo.cli.app import app


def test_ingest_loads_a_file_and_summarizes(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    file = tmp_path / "objects.ndjson"
    file.write_bytes(ndjson([usage(), b"not json", b"", usage(subject="sub-bob")]))
    token = template[1]["platform"]
    result = CliRunner().invoke(
        app,
        ["ingest", str(file), "--data-dir", str(deployment_dir), "--token", token, "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["accepted"], summary["rejected_count"]) == (3, 2, 1)
    assert summary["rejected"][0]["line"] == 2
    assert summary["rejected"][0]["error"] == "malformed_json"
    table = CliRunner().invoke(
        app, ["ingest", str(file), "--data-dir", str(deployment_dir), "--token", token]
    )
    assert table.exit_code == 0
    assert "line 2: malformed_json" in table.stdout


def test_ingest_exits_2_when_every_line_is_rejected(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    file = tmp_path / "bad.ndjson"
    file.write_bytes(ndjson([usage(subject="sub-nobody")]))
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(file),
            "--data-dir",
            str(deployment_dir),
            "--token",
            template[1]["platform"],
        ],
    )
    assert result.exit_code == 2


def test_ingest_of_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope.ndjson")])
    assert result.exit_code != 0
    assert "cannot read" in str(result.exception)
