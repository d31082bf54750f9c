"""The one line each benchmark prints about the machine it ran on."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path


def machine(*extras: str) -> str:
    """CPUs and their model, system, Python, SQLite and the load average; then ``extras``."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    models = [line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    parts = [
        f"nproc {len(os.sched_getaffinity(0))} ({models[0] if models else 'unknown CPU'})",
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
        f"load average {load}",
        *extras,
    ]
    return "; ".join(parts)
