"""``servinfo serve --workers 2`` in a session of its own: ``kill -9`` reaches all its processes.

The server is started the way ``tests/api/serving.py`` starts it (plain HTTP on
a free loopback port, ``SERVINFO_…`` variables left out), but in a new session:
:meth:`CrashServer.kill` sends SIGKILL to the whole process group (the
supervisor and both workers), as an operator's crashing machine would.
Every wait has a deadline; :meth:`CrashServer.close` kills what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.api.serving import Served, _wait_until_started, free_port, serve_command

WORKERS = 2
START_TIMEOUT = 120.0


class CrashServer:
    """One server process group at a time; each start writes its own log file."""

    def __init__(self, data_dir: Path, log_dir: Path) -> None:
        self._data_dir = data_dir
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        self.url = ""
        self.log_file = log_dir / "serve-0.log"

    def start(self) -> str:
        """Start the server; its URL, once every worker has started and the port accepts."""
        assert self._process is None, "the previous server is still running"
        self._starts += 1
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_file = self._log_dir / f"serve-{self._starts}.log"
        with self.log_file.open("wb") as sink:
            self._process = subprocess.Popen(
                serve_command(self._data_dir, port, WORKERS, "--insecure-http"),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")},
                start_new_session=True,
            )
        served = Served(self.url, self.log_file)
        _wait_until_started(self._process, served, port, WORKERS, time.monotonic() + START_TIMEOUT)
        return self.url

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the server's whole process group, then reap the supervisor."""
        self._signal_group(signal.SIGKILL)
        self._reap(10)

    def stop(self) -> None:
        """SIGTERM to the group (a clean shutdown); SIGKILL when it lingers."""
        if self._process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self._reap(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def close(self) -> None:
        """Kill whatever still runs (for ``finally`` blocks)."""
        if self._process is not None:
            self.kill()

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._process is not None, "no server is running"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, sig)

    def _reap(self, timeout: float) -> None:
        assert self._process is not None
        self._process.wait(timeout)
        # The workers share the group: make sure none outlives the supervisor.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process = None

    def __enter__(self) -> CrashServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
