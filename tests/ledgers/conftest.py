"""Fixtures of the ledger tests: every test runs on SQLite and on PostgreSQL.

SQLite: a control database file migrated once per run (store + ledgers
branch), copied for each test. PostgreSQL: one database on
``SERVINFO_TEST_POSTGRES`` (default 127.0.0.1:5432, user postgres) created and
migrated once per run, emptied before each test and dropped at the end. If the
server cannot be reached the PostgreSQL half is skipped — unless ``CI`` is
set, where it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy import table as sql_table
from tests.support import PostgresDatabases

from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import LEDGER_MIGRATIONS, Ledgers
from servinfo.ledgers.models import LEDGER_TABLES
from servinfo.policy import Policy, load_policy
from servinfo.store import SubjectDirectory, create_engine_for, migrate_control

REGIONS = ("eu", "us")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ACTOR = "privacy-officer"
#: What every test's directory holds: subject id → (organization, jurisdiction).
SUBJECTS = {
    "subj-de": ("org-eu", "DE"),
    "subj-gb": ("org-eu", "GB"),
    "subj-ca": ("org-us", "US-CA"),
    "subj-ny": ("org-us", "US-NY"),
    "subj-sg": ("org-solo", "sg"),
}

Snapshot = tuple[dict[str, int], list[tuple[Any, ...]], int]


# -- SQLite ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A control database migrated once (store and ledgers), copied into each test."""
    path = tmp_path_factory.mktemp("ledgers-template") / "control.db"
    engine = create_engine_for(f"sqlite:///{path}")
    migrate_control(engine, [LEDGER_MIGRATIONS])
    engine.dispose()
    return path


# -- PostgreSQL --------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_engine(postgres_session_databases: PostgresDatabases) -> Iterator[Engine]:
    """A fresh PostgreSQL control database for the run, migrated; dropped at the end."""
    engine = create_engine_for(postgres_session_databases.new("ledgers"))
    try:
        migrate_control(engine, [LEDGER_MIGRATIONS])
        yield engine
    finally:
        engine.dispose()


# -- the parametrized backend and what is built on it -------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The control database of one test, with the ledger tables, empty."""
    if request.param == "sqlite":
        path = tmp_path / "control.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        built = create_engine_for(f"sqlite:///{path}")
        yield built
        built.dispose()
    else:
        found: Engine = request.getfixturevalue("pg_engine")
        tables = ", ".join(sorted(LEDGER_TABLES))
        with found.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables}, subjects, organizations CASCADE"))
        yield found


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def directory(engine: Engine) -> SubjectDirectory:
    """A partner with an EU and a US customer, an organization of its own, five subjects."""
    found = SubjectDirectory(engine, REGIONS)
    found.add_organization("partner-1", "Partner One", "eu", now=NOW)
    found.add_organization("org-eu", "Org EU", "eu", parent_id="partner-1", now=NOW)
    found.add_organization("org-us", "Org US", "us", parent_id="partner-1", now=NOW)
    found.add_organization("org-solo", "Org Solo", "eu", now=NOW)
    for subject_id, (org_id, jurisdiction) in SUBJECTS.items():
        found.register_subject(subject_id, org_id, jurisdiction, now=NOW)
    return found


@pytest.fixture
def audit() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
def ledgers(
    engine: Engine, directory: SubjectDirectory, audit: MemoryAuditSink, policy: Policy
) -> Ledgers:
    return Ledgers(engine, directory, audit, lambda: policy)


@pytest.fixture
def snapshot(engine: Engine, audit: MemoryAuditSink) -> Callable[[], Snapshot]:
    """``snapshot()``: row counts of every ledger table, every version, audit events.

    Equal snapshots before and after a refused call show that nothing was written.
    """

    def take() -> Snapshot:
        with engine.connect() as connection:
            counts = {
                name: int(
                    connection.execute(
                        select(func.count()).select_from(sql_table(name))
                    ).scalar_one()
                )
                for name in sorted(LEDGER_TABLES)
            }
            versions = [
                tuple(row)
                for row in connection.execute(
                    text("SELECT subject_id, version FROM ledger_versions ORDER BY subject_id")
                )
            ]
        return counts, versions, len(audit.events)

    return take


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def policy_version(policy: Policy) -> str:
    """The version of the policy whose notice the synthetic subjects saw."""
    return policy.version
