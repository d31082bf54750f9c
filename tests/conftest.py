"""Fixtures shared by every test package; see ``tests/support.py`` for the helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support import PostgresDatabases, require_postgres


@pytest.fixture
def postgres_databases() -> Iterator[PostgresDatabases]:
    """Fresh PostgreSQL databases for one test, every one dropped after it."""
    require_postgres()
    databases = PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture(scope="session")
def postgres_session_databases() -> Iterator[PostgresDatabases]:
    """PostgreSQL databases shared by a whole run (migrated once), dropped at its end."""
    require_postgres()
    databases = PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()
