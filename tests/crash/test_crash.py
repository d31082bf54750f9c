"""The crash suite of issue 13: ``kill -9`` rounds per backend against ``servinfo serve``.

Each test runs ``SERVINFO_CRASH_ROUNDS`` rounds (default 20) of
:mod:`tests.crash.harness` on a deployment of its own; ``SERVINFO_CRASH_SEED``
replays a run's kill moments and batch sizes (a run without it draws a seed and
names it in its report). ``make crash`` runs only these tests.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
from tests.crash.harness import build_world, run_rounds, summary
from tests.crash.server import CrashServer
from tests.support import PostgresDatabases

ROUNDS = int(os.environ.get("SERVINFO_CRASH_ROUNDS", "20"))

pytestmark = [pytest.mark.crash, pytest.mark.slow]


def _seed() -> int:
    chosen = os.environ.get("SERVINFO_CRASH_SEED")
    return int(chosen) if chosen else secrets.randbelow(2**31)


def _crash_rounds(tmp_path: Path, backend: str, url_template: str | None = None) -> None:
    seed = _seed()
    started = time.monotonic()
    world = build_world(tmp_path / "deployment", ROUNDS, url_template)
    with CrashServer(world.data_dir, tmp_path) as server:
        server.start()
        reports = run_rounds(world, server, ROUNDS, seed)
        server.stop()
    report = summary(reports, seed, backend, time.monotonic() - started)
    print(report)
    assert not any(r.failures for r in reports), report


def test_crash_rounds_sqlite(tmp_path: Path) -> None:
    _crash_rounds(tmp_path, "sqlite")


@pytest.mark.postgres
def test_crash_rounds_postgres(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    _crash_rounds(tmp_path, "postgresql", postgres_databases.url_template)
