"""A real ``servinfo worker`` in a child process: started, ``kill -9``'d mid-job, succeeded.

The kill tests (``test_kill.py``, ``test_kill_sweep.py``) share these steps: a
worker runs a job until a condition observed in the databases says the job is
in the middle of its work, is killed with SIGKILL, and a second worker
(``--once``) takes the job over once the dead one's lease has run out.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from servinfo.jobs.queue import Job

__all__ = ["LEASE_SECONDS", "kill_when", "start_worker", "take_over"]

#: The workers' lease: short, so that the job is taken over soon after the kill.
LEASE_SECONDS = 2.0


def start_worker(data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``servinfo worker`` on the deployment in ``data_dir``, its settings from its file only."""
    command = [sys.executable, "-m", "servinfo", "worker", "--data-dir", str(data_dir)]
    command += ["--lease", str(LEASE_SECONDS), "--poll", "0.1", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def kill_when(
    data_dir: Path, mid_job: Callable[[], bool], *, every: float = 0.02, within: float = 60
) -> None:
    """Start a worker and ``kill -9`` it as soon as ``mid_job()`` is true (it may raise
    AssertionError to say the moment was missed)."""
    worker = start_worker(data_dir)
    deadline = time.monotonic() + within
    try:
        while not mid_job():
            assert time.monotonic() < deadline, "the job never reached the point of the kill"
            assert worker.poll() is None, worker.communicate()[0].decode()
            time.sleep(every)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()


def take_over(data_dir: Path, held: Job) -> str:
    """Once ``held``'s lease has run out, run a worker ``--once``; its output (it succeeded)."""
    assert held.lease_until is not None
    time.sleep(max((held.lease_until - dt.datetime.now(dt.UTC)).total_seconds(), 0) + 0.5)
    worker = start_worker(data_dir, "--once")
    out = worker.communicate(timeout=300)[0].decode()
    assert worker.returncode == 0, out
    return out
