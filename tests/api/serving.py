"""``servinfo serve`` started for real, as a subprocess on a free loopback port.

Plain HTTP (``--insecure-http``) keeps the client simple; what these tests
look at (start-up, workers, ``/metrics``) does not depend on TLS. The server's
output goes to a file the test can read; every wait has a deadline, and the
server is stopped (then killed, if it lingers) when the block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: What uvicorn logs when a worker has finished starting.
STARTED = "Application startup complete."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command(data_dir: Path, port: int, workers: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "servinfo",
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *extra,
    ]


@dataclass
class Served:
    url: str
    log_file: Path
    #: The server's process (with one worker, the worker itself).
    pid: int = 0

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


@contextmanager
def serving(
    data_dir: Path, log_file: Path, *, workers: int, timeout: float = 120
) -> Iterator[Served]:
    """Start the server; yield once every worker has started and the port accepts connections.

    No HTTP request is made before the test's own: what is counted is the test's.
    """
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}", log_file)
    with log_file.open("wb") as sink:
        process = subprocess.Popen(
            serve_command(data_dir, port, workers, "--insecure-http"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")},
        )
        served.pid = process.pid
        try:
            _wait_until_started(process, served, port, workers, time.monotonic() + timeout)
            yield served
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _wait_until_started(
    process: subprocess.Popen[bytes], served: Served, port: int, workers: int, deadline: float
) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"servinfo serve exited ({process.returncode}):\n{served.log()}")
        if served.log().count(STARTED) >= workers:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except OSError:
                pass
            else:
                return
        time.sleep(0.2)
    raise AssertionError(f"servinfo serve did not start in time:\n{served.log()}")
