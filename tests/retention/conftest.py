"""Fixtures of the retention tests: a real deployment on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.retention.world import RetentionWorld, build_world
from tests.support import PostgresDatabases, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RetentionWorld]:
    if request.param == "sqlite":
        with build_world(tmp_path) as built:
            yield built
        return
    with _postgres_world(tmp_path) as built:
        yield built


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[RetentionWorld]:
    """The world on PostgreSQL alone (partitions)."""
    with _postgres_world(tmp_path) as built:
        yield built


@contextmanager
def _postgres_world(tmp_path: Path) -> Iterator[RetentionWorld]:
    require_postgres()
    databases = PostgresDatabases()
    try:
        with build_world(tmp_path, databases.url_template) as built:
            yield built
    finally:
        databases.drop_all()


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[RetentionWorld]:
    with build_world(tmp_path) as built:
        yield built
