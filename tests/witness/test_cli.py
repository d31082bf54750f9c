"""``servinfo witness …``: init, add-log, logs, key; one-line errors with exit 2; a quick help."""

from __future__ import annotations

import base64
import json
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.witness.support import SyntheticLog

from servinfo.audit.note import parse_vkey
from servinfo.cli.app import main
from servinfo.witness.directory import STATE_FILE, open_witness
from servinfo.witness.errors import Inconsistent
from servinfo.witness.keys import KEY_FILE


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["witness", *args])
    except SystemExit as done:
        code = done.code
    else:  # pragma: no cover - main always exits
        code = 0
    captured = capsys.readouterr()
    assert isinstance(code, int)
    return code, captured.out, captured.err


def test_init_creates_a_private_directory_and_prints_the_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "w"
    code, out, _ = run(capsys, "init", "--dir", str(directory), "--name", "witness.example/w1")
    assert code == 0
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / KEY_FILE).stat().st_mode) == 0o600
    assert (directory / STATE_FILE).is_file()
    vkeys = [line for line in out.splitlines() if line.startswith("witness.example/w1+")]
    assert len(vkeys) == 2
    code, out, _ = run(capsys, "key", "--dir", str(directory))
    assert (code, out.split()) == (0, vkeys)
    assert [parse_vkey(v).name for v in vkeys] == ["witness.example/w1"] * 2


def test_init_twice_is_refused_in_one_line(
    witness_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (witness_dir / KEY_FILE).read_bytes()
    code, _, err = run(capsys, "init", "--dir", str(witness_dir), "--name", "other.example/w")
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert (witness_dir / KEY_FILE).read_bytes() == before


def test_init_refuses_a_name_a_key_cannot_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "init", "--dir", str(tmp_path / "w"), "--name", "a b")
    assert code == 2
    assert "witness name" in err
    assert not (tmp_path / "w").exists()


def test_add_log_then_logs(witness_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, rotated = SyntheticLog(), SyntheticLog()
    code, out, _ = run(
        capsys,
        "add-log",
        "--dir",
        str(witness_dir),
        "--origin",
        log.origin,
        "--key",
        log.vkey,
        "--key",
        rotated.vkey,
    )
    assert code == 0
    assert "2 key(s)" in out
    assert "nothing cosigned" in out
    code, out, _ = run(capsys, "logs", "--dir", str(witness_dir), "--json")
    assert code == 0
    assert f'"origin": "{log.origin}"' in out
    assert '"size": 0' in out


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--origin", "log.example/x", "--key", "not-a-vkey"], "--key number 1"),
        (["--origin", "", "--key", "k"], "--origin"),
    ],
)
def test_add_log_refuses_bad_input_in_one_line(
    witness_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], found: str
) -> None:
    code, _, err = run(capsys, "add-log", "--dir", str(witness_dir), *args)
    assert code == 2
    assert found in err
    assert err.count("\n") == 1


def test_a_missing_witness_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["key"], ["logs"], ["serve", "--port", "1"]):
        code, _, err = run(capsys, *command, "--dir", str(tmp_path / "none"))
        assert code == 2
        assert "witness init" in err
        assert err.count("\n") == 1


def test_witness_help_imports_no_web_framework_and_no_database() -> None:
    script = textwrap.dedent(
        """
        import contextlib, io, sys
        from servinfo.cli.app import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                main(["witness", "--help"])
            except SystemExit as done:
                assert done.code == 0, done.code
        assert "add-log" in out.getvalue()
        heavy = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "servinfo.audit")
        print(sorted(m for m in sys.modules if m in heavy or m.startswith(heavy)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_port_in_use_is_one_line(witness_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, _, err = run(capsys, "serve", "--dir", str(witness_dir), "--port", port)
    assert code == 2
    assert "already in use" in err
    assert err.count("\n") == 1


def test_evidence_lists_the_forks_refused(
    witness_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = SyntheticLog().append(8)
    witness = open_witness(witness_dir)
    witness.store.add_log(log.origin, [log.vkey])
    code, out, _ = run(capsys, "evidence", "--dir", str(witness_dir))
    assert (code, out) == (0, "no refused checkpoint kept\n")
    witness.add(log.request(0))
    with pytest.raises(Inconsistent):
        witness.add(log.fork(5).append(3).request(8, proof=()))
    code, out, _ = run(capsys, "evidence", "--dir", str(witness_dir), "--origin", log.origin)
    assert code == 0
    assert "a different root at size 8" in out
    code, out, _ = run(capsys, "evidence", "--dir", str(witness_dir), "--json")
    (item,) = json.loads(out)
    assert item["origin"] == log.origin
    assert item["note"].startswith(f"{log.origin}\n8\n")
    assert item["cosigned_note"].startswith(
        f"{log.origin}\n8\n{base64.b64encode(log.root()).decode()}"
    )
