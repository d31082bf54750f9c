"""The factory each ``servinfo serve`` worker calls prepares the worker before its first request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from servinfo.config import DATA_DIR_ENV
from servinfo.deployment import create_deployment

_PROBE = """
import gc, sys
from servinfo.api.app import WORKER_SWITCH_INTERVAL, app_from_environment
from fastapi.testclient import TestClient
app = app_from_environment()
assert sys.getswitchinterval() == WORKER_SWITCH_INTERVAL, sys.getswitchinterval()
with TestClient(app):  # the worker's start-up: the lifespan builds, then freezes
    print(gc.get_freeze_count())
"""


def test_a_worker_freezes_what_it_built_before_serving(tmp_path: Path) -> None:
    """The app, the compiled policy and the libraries are out of the cyclic collector's walk."""
    create_deployment(tmp_path / "deployment", {})
    env = {**os.environ, DATA_DIR_ENV: str(tmp_path / "deployment")}
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    # Tens of thousands of objects: everything imported and built, not a handful.
    assert int(probe.stdout.strip()) > 10_000
