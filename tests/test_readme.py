"""README.md is a script that works: its shell commands run, top to bottom, in a fresh clone.

The first ``sh`` block is the quickstart: ``make run`` (started in the
background, until the server answers) and ``make test`` (the suite this test
belongs to, so not run again). Every later ``sh`` block runs in order, in one
bash session with ``set -euo pipefail``, exactly as written — but for the
server's port, moved to a free one so that a developer's own ``make run`` does
not answer in its place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_QUICKSTART = ("make run", "make test")
_DEFAULT_ADDRESS = "127.0.0.1:8443"
# Each command as written, before expansion: ``set -x`` would print the tokens.
_TRACE = """trap 'printf "+ %s\\n" "$BASH_COMMAND" >&2' DEBUG"""


def shell_blocks(readme: str) -> list[str]:
    return [match.group(1) for match in _SHELL_BLOCK.finditer(readme)]


def quickstart_commands(block: str) -> list[str]:
    """The commands of the quickstart block, comments left out."""
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_quickstart_is_exactly_make_run_and_make_test() -> None:
    blocks = shell_blocks((REPO / "README.md").read_text("utf-8"))
    assert len(blocks) > 1, "README.md shows no commands after the quickstart"
    assert tuple(quickstart_commands(blocks[0])) == _QUICKSTART


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(port: int) -> dict[str, str]:
    """This environment without servinfo's own settings and without the suite's venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")}
    venv = env.pop("VIRTUAL_ENV", None)
    outer = {str(REPO / ".venv" / "bin")} | ({str(Path(venv) / "bin")} if venv else set())
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in outer)
    env["SERVINFO_SERVER_PORT"] = str(port)
    return env


def _wait_until_served(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900  # a fresh clone installs every dependency first
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"make run stopped ({server.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False).status_code == 200:  # noqa: S501 (loopback health probe)
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    pytest.fail(f"make run did not serve within 900 s:\n{log.read_text()[-4000:]}")


@pytest.mark.slow
def test_the_readme_runs_top_to_bottom_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "servinfo"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    quickstart, *walkthrough = shell_blocks((clone / "README.md").read_text("utf-8"))
    assert tuple(quickstart_commands(quickstart)) == _QUICKSTART
    port = _free_port()
    env = _environment(port)
    log = tmp_path / "make-run.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            ["make", "run"], cwd=clone, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_served(port, server, log)
        script = "\n".join(walkthrough).replace(_DEFAULT_ADDRESS, f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{_TRACE}\n{script}"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-6000:]
        made = log.read_text()
        assert "source .venv/bin/activate" in made, "make run does not say how to get servinfo"
        assert "servinfo read --subject" in made, "make run suggests no subject to try"
        assert "(retention_sweep)" in made, "make run names no jobs the demo left the worker"
        _assert_the_demo_jobs_ran(clone, env)
        untracked = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert untracked == "", f"files the README's commands left, not ignored:\n{untracked}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(clone / ".venv", ignore_errors=True)


def _assert_the_demo_jobs_ran(clone: Path, env: dict[str, str]) -> None:
    """What the README says of them: the purge and a sweep per region, done by serve's worker."""
    listed = subprocess.run(
        [str(clone / ".venv" / "bin" / "servinfo"), "jobs", "list", "--json"],
        cwd=clone,
        env={**env, "SERVINFO_TOKEN_FILE": "servinfo-data/admin.token"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    jobs = json.loads(listed)
    done = {(j["kind"], j["params"].get("region")) for j in jobs if j["state"] == "done"}
    assert ("export_purge", None) in done, jobs
    sweeps = {region for kind, region in done if kind == "retention_sweep"}
    assert len(sweeps) >= 5, jobs  # every region of the shipped policy
    assert not [j for j in jobs if j["state"] == "failed"], jobs
