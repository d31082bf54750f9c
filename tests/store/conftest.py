"""Fixtures of the store tests: every test runs on SQLite and on PostgreSQL.

SQLite: fresh files per test in ``tmp_path``, copied from databases migrated
once per run. PostgreSQL: three databases (control, eu, us) named
``servinfo_test_<random>_…`` created once per run on 127.0.0.1:5432, emptied
before each test and dropped at the end. If the server cannot be reached the
PostgreSQL half is skipped — unless ``CI`` is set, where it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy import table as sql_table
from tests.support import POSTGRES_SERVER, PostgresDatabases

from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import (
    NewRecord,
    RecordWriter,
    SubjectDirectory,
    create_engine_for,
    migrate_control,
    migrate_region,
)
from servinfo.store.partitions import record_leaves
from servinfo.store.reading import RecordReader

REGIONS = ("eu", "us")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

_REGION_TABLES = "records, data_keys, blind_index, erased_records, request_marks"
_CONTROL_TABLES = "subjects, organizations, principals, policy_versions, shred_ledger"


@dataclass
class Backend:
    """The databases of one test: a control engine and one engine per region."""

    name: str
    control: Engine
    regions: dict[str, Engine]
    #: SQLite only: the folder holding every database file.
    data_dir: Path | None = None
    #: PostgreSQL only: database name by role ("control", "eu", "us").
    pg_databases: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"


# -- SQLite ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Database files migrated once, copied into each test's folder."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    for role in ("control", *REGIONS):
        engine = create_engine_for(f"sqlite:///{folder / f'{role}.db'}")
        (migrate_control if role == "control" else migrate_region)(engine)
        engine.dispose()
    return folder


def _sqlite_backend(template: Path, data_dir: Path) -> Backend:
    data_dir.mkdir()
    for role in ("control", *REGIONS):
        shutil.copyfile(template / f"{role}.db", data_dir / f"{role}.db")
    return Backend(
        name="sqlite",
        control=create_engine_for(f"sqlite:///{data_dir / 'control.db'}"),
        regions={r: create_engine_for(f"sqlite:///{data_dir / f'{r}.db'}") for r in REGIONS},
        data_dir=data_dir,
    )


# -- PostgreSQL --------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_databases(postgres_session_databases: PostgresDatabases) -> dict[str, str]:
    """Three fresh PostgreSQL databases for the run, migrated; dropped at the end."""
    names: dict[str, str] = {}
    for role in ("control", *REGIONS):
        url = postgres_session_databases.new(f"store_{role}")
        names[role] = url.rsplit("/", 1)[1]
        engine = create_engine_for(url)
        (migrate_control if role == "control" else migrate_region)(engine)
        engine.dispose()
    return names


@pytest.fixture(scope="session")
def pg_engines(pg_databases: dict[str, str]) -> Iterator[dict[str, Engine]]:
    engines = {
        role: create_engine_for(f"{POSTGRES_SERVER}/{name}") for role, name in pg_databases.items()
    }
    yield engines
    for engine in engines.values():
        engine.dispose()


def _pg_backend(names: dict[str, str], engines: dict[str, Engine]) -> Backend:
    with engines["control"].begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {_CONTROL_TABLES} CASCADE")
    for region in REGIONS:
        # A month partition an earlier test made would outlive its rows: drop it, so each
        # test starts from the migrated tables (the default and "other" partitions).
        months = [leaf.name for leaf in record_leaves(engines[region]) if leaf.month is not None]
        with engines[region].begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {_REGION_TABLES}")
            for name in months:
                connection.exec_driver_sql(f"DROP TABLE {name}")
    return Backend(
        name="postgresql",
        control=engines["control"],
        regions={r: engines[r] for r in REGIONS},
        pg_databases=names,
    )


# -- the parametrized backend and what is built on it -------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        built = _sqlite_backend(request.getfixturevalue("sqlite_template"), tmp_path / "data")
        yield built
        built.control.dispose()
        for engine in built.regions.values():
            engine.dispose()
    else:
        yield _pg_backend(
            request.getfixturevalue("pg_databases"), request.getfixturevalue("pg_engines")
        )


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(
        tmp_path / "keyring.json", LocalMasterKeyWrapper(bytes(range(32))), REGIONS, now=NOW
    )


@pytest.fixture
def directory(backend: Backend) -> SubjectDirectory:
    """A directory with a partner, an EU and a US customer, and three subjects."""
    found = SubjectDirectory(backend.control, REGIONS)
    found.add_organization("partner-1", "Partner One", "eu", now=NOW)
    found.add_organization("org-eu", "Org EU", "eu", parent_id="partner-1", now=NOW)
    found.add_organization("org-us", "Org US", "us", parent_id="partner-1", now=NOW)
    found.register_subject("subj-eu-1", "org-eu", "de", now=NOW)
    found.register_subject("subj-eu-2", "org-eu", "fr", now=NOW)
    found.register_subject("subj-us-1", "org-us", "us-ca", now=NOW)
    return found


@pytest.fixture
def writer(directory: SubjectDirectory, backend: Backend, keyring: Keyring) -> RecordWriter:
    return RecordWriter(directory, backend.regions, keyring)


@pytest.fixture
def reader(directory: SubjectDirectory, backend: Backend, keyring: Keyring) -> RecordReader:
    return RecordReader(directory, backend.regions, keyring)


@pytest.fixture
def region_engines(backend: Backend) -> dict[str, Engine]:
    return backend.regions


@pytest.fixture
def control_engine(backend: Backend) -> Engine:
    return backend.control


@pytest.fixture
def backend_name(backend: Backend) -> str:
    """``sqlite`` or ``postgresql``."""
    return backend.name


@pytest.fixture
def data_dir(backend: Backend) -> Path:
    """The folder of the SQLite files (SQLite tests only)."""
    if backend.data_dir is None:
        pytest.skip("reads SQLite files")
    return backend.data_dir


@pytest.fixture
def pg_names(backend: Backend) -> dict[str, str]:
    """The PostgreSQL database names by role (PostgreSQL tests only)."""
    if not backend.pg_databases:
        pytest.skip("reads PostgreSQL databases")
    return backend.pg_databases


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def record() -> Callable[..., NewRecord]:
    """Builds synthetic records: ``record(subject_id="subj-eu-1", **attribute_overrides)``."""
    return make_record


@pytest.fixture
def rows() -> Callable[[Engine, str], int]:
    """``rows(engine, table)``: how many rows ``table`` has."""
    return count_rows


def make_record(subject_id: str = "subj-eu-1", **overrides: Any) -> NewRecord:
    """A synthetic account record; keyword arguments replace any attribute."""
    values: dict[str, Any] = {
        "subject_id": subject_id,
        "category": "account",
        "kind": "account.profile",
        "source": "identity",
        "collected_at": NOW,
        "fields": {"username": "user-one", "given_name": "Synthetic"},
        "retention_class": "standard",
        "retain_until": date(2036, 3, 1),
        "lookup_fields": {},
    }
    values.update(overrides)
    return NewRecord(**values)


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(sql_table(table))).scalar_one()
        )
