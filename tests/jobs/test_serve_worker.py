"""``servinfo serve`` starts one job worker, stops it with itself, and it outlives no kill -9."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.api.serving import serving
from tests.rights.world import World

from servinfo.deployment import open_deployment


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has exited


def _job_worker(pid: int) -> int:
    (worker,) = [c for c in _children(pid) if b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()]
    return worker


def _wait(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def test_serve_runs_the_schedules_in_one_worker_and_stops_it(world: World, tmp_path: Path) -> None:
    with serving(world.data_dir, tmp_path / "serve.log", workers=2) as served:
        worker = _job_worker(served.pid)
        with open_deployment(world.data_dir, {}) as deployment:
            queue = deployment.jobs.queue
            assert _wait(lambda: queue.counts()["done"] >= 1, 60), served.log()
            purges = queue.list(kind="export_purge")
        # Run by the one job worker serve started, whatever the number of API workers.
        assert [(j.state, j.lease_owner) for j in purges] == [
            ("done", f"{socket.gethostname()}:{worker}")
        ]
    assert _wait(lambda: not _alive(worker), 30)


def test_the_job_worker_exits_when_serve_is_killed(world: World, tmp_path: Path) -> None:
    with serving(world.data_dir, tmp_path / "serve.log", workers=1) as served:
        worker = _job_worker(served.pid)
        os.kill(served.pid, signal.SIGKILL)
        try:
            assert _wait(lambda: not _alive(worker), 30), "the job worker outlived serve"
        finally:
            if _alive(worker):  # the test's own child's child: never left running
                os.kill(worker, signal.SIGKILL)
