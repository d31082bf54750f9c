"""The metrics folder of a server with several workers is its user's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.serving import serving

from servinfo.api.server import MULTIPROC_ENV, prepare_metrics
from servinfo.deployment import create_deployment


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def environment_kept() -> Iterator[None]:
    yield
    os.environ.pop(MULTIPROC_ENV, None)


def test_the_metrics_folder_is_private(tmp_path: Path, environment_kept: None) -> None:
    (tmp_path / "run").mkdir(mode=0o755)  # left by an older version
    before = os.umask(0o022)
    try:
        prepare_metrics(tmp_path, 2)
        assert os.umask(before) == 0o022  # the caller's umask is left alone
    finally:
        os.umask(before)
    assert _mode(tmp_path / "run") == 0o700
    assert _mode(tmp_path / "run" / "metrics") == 0o700


@pytest.mark.slow
def test_the_workers_metrics_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {})
    with serving(data_dir, tmp_path / "serve.log", workers=2) as served:
        for _ in range(4):
            httpx.get(f"{served.url}/healthz", timeout=10).raise_for_status()
        folder = data_dir / "run" / "metrics"
        files = list(folder.iterdir())
        modes = {path.name: _mode(path) for path in files}
        assert _mode(folder) == 0o700
    assert files
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
