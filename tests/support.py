"""Helpers shared by every test package (imported as ``tests.support``).

``postgres_databases`` creates uniquely named PostgreSQL databases on the
server at ``SERVINFO_TEST_POSTGRES`` (default 127.0.0.1:5432, user postgres)
and drops them after the test. When no server answers, the test is skipped with
a message saying so — except in CI (``CI`` set), where it fails: PostgreSQL
tests must run there for real.
"""

from __future__ import annotations

import os
import secrets

import psycopg
import pytest
from psycopg import sql

POSTGRES_SERVER = os.environ.get("SERVINFO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def require_postgres() -> None:
    try:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3):
            return
    except psycopg.OperationalError as error:
        message = f"PostgreSQL not reachable at {POSTGRES_SERVER}: {str(error).strip()[:200]}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message)


class PostgresDatabases:
    """Databases of one test, all named ``<prefix>_<label>``; dropped together afterwards."""

    def __init__(self) -> None:
        self.prefix = f"servinfo_test_{secrets.token_hex(4)}"
        server = POSTGRES_SERVER.removeprefix("postgresql://")
        #: A URL with ``{name}`` where the label goes (``servinfo init`` takes this form).
        self.url_template = f"postgresql+psycopg://{server}/{self.prefix}_{{name}}"

    def new(self, label: str) -> str:
        """Create ``<prefix>_<label>`` and return its SQLAlchemy URL."""
        name = f"{self.prefix}_{label}"
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_template.format(name=label)

    def drop_all(self) -> None:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as connection:
            names = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (self.prefix + "%",)
            ).fetchall()
            for (name,) in names:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
