"""``servinfo ingest FILE.ndjson`` end to end, straight into the deployment."""

from __future__ import annotations

import json
from pathlib import Path

from tests.collect.world import login, ndjson, usage
from typer.testing import CliRunner, Result

from servinfo.cli.app import app
from servinfo.deployment import open_deployment
from servinfo.errors import ServinfoError


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
    assert result.exit_code == 2, "a rejected line fails the command"
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["accepted"], summary["rejected_count"]) == (3, 2, 1)
    assert summary["rejected"][0]["line"] == 2
    assert summary["rejected"][0]["error"] == "malformed_json"
    table = CliRunner().invoke(
        app, ["ingest", str(file), "--data-dir", str(deployment_dir), "--token", token]
    )
    assert table.exit_code == 2
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


# --- a file that mixes services ------------------------------------------------------


def _mixed(tmp_path: Path) -> Path:
    """Organizations and subjects (identity), logins (identity) and usage (platform)."""
    file = tmp_path / "mixed.ndjson"
    file.write_bytes(
        ndjson(
            [
                {"type": "organization", "id": "org-mix", "name": "Mix AG", "home_region": "eu"},
                {"type": "subject", "id": "sub-mix", "org": "org-mix", "jurisdiction": "DE"},
                {**usage(subject="sub-mix"), "source": "platform"},
                login(subject="sub-mix"),
                b"",
                {**usage(subject="sub-ada"), "source": "platform"},
            ]
        )
    )
    return file


def _ingest(deployment_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["ingest", *args, "--data-dir", str(deployment_dir), "--json"])


def _token_file(tmp_path: Path, name: str, token: str) -> Path:
    path = tmp_path / f"{name}.token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_one_service_token_cannot_load_a_mixed_file_and_says_so(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    result = _ingest(deployment_dir, str(_mixed(tmp_path)), "--token", template[1]["platform"])
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    # Both registrations, the identity service's login, and the usage of the subject
    # that could not be registered.
    assert [(r["line"], r["error"]) for r in summary["rejected"]] == [
        (1, "not_registrar"),
        (2, "not_registrar"),
        (3, "unknown_subject"),
        (4, "not_your_kind"),
    ]


def test_an_operator_sends_each_object_as_its_service(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    file = _mixed(tmp_path)
    result = _ingest(deployment_dir, str(file), "--token", template[1]["admin"], "--as-services")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["accepted"], summary["rejected_count"]) == (5, 5, 0)
    assert summary["accepted_by_service"] == {"identity": 3, "platform": 2}
    with open_deployment(deployment_dir, {}) as deployment:
        entries = deployment.audit.tail(50)
    sent = [e for e in entries if e.action == "ingest_as_services"]
    assert len(sent) == 1
    assert sent[0].actor == "admin"


def test_as_services_needs_the_manage_principals_permission(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    file = _mixed(tmp_path)
    result = _ingest(deployment_dir, str(file), "--token", template[1]["identity"], "--as-services")
    assert isinstance(result.exception, ServinfoError)
    assert "manage_principals" in str(result.exception)


def test_a_token_file_per_service_loads_a_mixed_file(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    tokens = template[1]
    result = _ingest(
        deployment_dir,
        str(_mixed(tmp_path)),
        "--service-token",
        f"identity={_token_file(tmp_path, 'identity', tokens['identity'])}",
        "--service-token",
        f"platform={_token_file(tmp_path, 'platform', tokens['platform'])}",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 5


def test_objects_of_a_service_without_a_token_are_refused_with_their_lines(
    tmp_path: Path, deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    identity = _token_file(tmp_path, "identity", template[1]["identity"])
    result = _ingest(
        deployment_dir, str(_mixed(tmp_path)), "--service-token", f"identity={identity}"
    )
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert [(r["line"], r["error"]) for r in summary["rejected"]] == [
        (3, "no_sender"),
        (6, "no_sender"),
    ]
    assert summary["accepted"] == 3


def test_a_bad_service_token_option_is_one_clear_error(
    tmp_path: Path, deployment_dir: Path
) -> None:
    file = str(_mixed(tmp_path))
    for value, message in (
        ("identity", "expected SERVICE=FILE"),
        (f"identity={tmp_path / 'absent'}", "does not exist"),
    ):
        result = _ingest(deployment_dir, file, "--service-token", value)
        assert isinstance(result.exception, ServinfoError)
        assert message in str(result.exception)
