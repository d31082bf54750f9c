"""Storage failures become StoreUnavailable naming the store and the cause; nothing else does.

Each failure is produced for real: a read-only SQLite database (``mode=ro``), a
database made full (``PRAGMA max_page_count``), a file that is not a database,
a PostgreSQL session in read-only mode.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError
from tests.store.conftest import Backend

from servinfo.store import create_engine_for
from servinfo.store.failures import StoreUnavailable, name_store, storage_failure

_INSERT_ORG = text(
    "INSERT INTO organizations (id, name, parent_id, home_region, created_at) "
    "VALUES (:id, 'Org', NULL, 'eu', CURRENT_TIMESTAMP)"
)


def _refused(engine: Engine, statement: str = "CREATE TABLE t (x INTEGER)") -> StoreUnavailable:
    with pytest.raises(StoreUnavailable) as refused, engine.begin() as connection:
        connection.execute(text(statement))
    return refused.value


def test_a_read_only_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "eu.db"
    writable = create_engine_for(f"sqlite:///{path}")
    with writable.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE kept (x INTEGER)")
    writable.dispose()
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    name_store(engine, "eu")
    try:
        failure = _refused(engine)
    finally:
        engine.dispose()
    assert failure.message == "the eu store is read-only"
    assert (failure.code, failure.http_status) == ("store_unavailable", 503)


def test_a_full_sqlite_database(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'us.db'}")

    @event.listens_for(engine, "connect")
    def _full(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 4")  # type: ignore[attr-defined]

    name_store(engine, "us")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE filler (x BLOB)")
        failure = _refused(engine, "INSERT INTO filler VALUES (zeroblob(40000))")
    finally:
        engine.dispose()
    assert failure.message == "the us store is out of space: disk full"


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "control.db"
    path.write_bytes(bytes(range(256)) * 64)
    engine = create_engine_for(f"sqlite:///{path}")
    name_store(engine, "control")
    try:
        failure = _refused(engine, "SELECT count(*) FROM sqlite_master")
    finally:
        engine.dispose()
    assert failure.message == "the control store is corrupt: file is not a database"


@pytest.mark.postgres
def test_a_read_only_postgresql_database(backend: Backend) -> None:
    if backend.is_sqlite:
        pytest.skip("a PostgreSQL session setting")
    engine = create_engine_for(backend.control.url)
    name_store(engine, "control")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SET SESSION default_transaction_read_only = on")
            connection.commit()
            with pytest.raises(StoreUnavailable) as refused:
                connection.execute(_INSERT_ORG, {"id": "org-ro"})
    finally:
        engine.dispose()
    assert refused.value.message == "the control store is read-only"


@pytest.mark.postgres
def test_a_postgresql_server_that_does_not_answer() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused.
    engine = create_engine_for("postgresql+psycopg://postgres@127.0.0.1:1/servinfo_nowhere")
    name_store(engine, "us")
    try:
        failure = _refused(engine, "SELECT 1")
    finally:
        engine.dispose()
    assert failure.message == "the us store is unreachable: the database server does not answer"


@pytest.mark.parametrize(
    ("number", "cause"),
    [
        (errno.EROFS, "is read-only"),
        (errno.ENOSPC, "is out of space: disk full"),
        (errno.EACCES, "is not writable: permission denied"),
    ],
)
def test_file_system_errors(number: int, cause: str) -> None:
    failure = storage_failure(OSError(number, "as the kernel says"), "eu")
    assert failure is not None
    assert failure.message == f"the eu {cause}".replace("the eu ", "the eu store ")


def test_other_errors_are_not_storage_failures(backend: Backend) -> None:
    name_store(backend.control, "control")
    with backend.control.begin() as connection:
        connection.execute(_INSERT_ORG, {"id": "org-1"})
    with pytest.raises(IntegrityError) as duplicate, backend.control.begin() as connection:
        connection.execute(_INSERT_ORG, {"id": "org-1"})
    assert storage_failure(duplicate.value) is None
    assert storage_failure(ValueError("bad")) is None
    assert storage_failure(FileNotFoundError(errno.ENOENT, "gone")) is None
