"""Fixtures of the job tests: a control database with the jobs branch, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.rights.world import World, build_world

from servinfo.jobs import JOBS_MIGRATIONS, JobQueue
from servinfo.store import create_engine_for
from servinfo.store.migrations import migrate_control

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def control(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A control database migrated with the jobs branch, one per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.new("control")
    engine = create_engine_for(url)
    migrate_control(engine, [JOBS_MIGRATIONS])
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def queue(control: Engine) -> JobQueue:
    return JobQueue(control, lease=LEASE)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The rights tests' deployment: admin, a privacy officer (dpo), support-eu, subjects."""
    with build_world(tmp_path) as built:
        yield built
