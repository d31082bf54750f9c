"""Write transactions: SQLite writers queue on a file lock; commits synced or not on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from tests.support import PostgresDatabases

from servinfo.store import create_engine_for
from servinfo.store.engines import CommitMode, write_transaction, writers_waiting

FULL, NORMAL = 2, 1


@pytest.fixture
def control(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def _settings(engine: Engine, commit: CommitMode) -> tuple[int, int]:
    """``PRAGMA synchronous`` and ``wal_autocheckpoint`` inside a write transaction."""
    with write_transaction(engine, commit=commit) as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        level: int = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        pages: int = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        return level, pages


def _synchronous(engine: Engine, commit: CommitMode) -> int:
    return _settings(engine, commit)[0]


def test_an_unsynced_commit_never_leaves_the_connection_syncing_less(control: Engine) -> None:
    assert _synchronous(control, "default") == FULL
    assert _synchronous(control, "unsynced") == NORMAL
    # The pool hands the same connection back: its next transaction is durable again.
    assert _synchronous(control, "default") == FULL
    with control.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == FULL


def test_a_synced_commit_skips_the_automatic_checkpoint_for_that_transaction_only(
    control: Engine,
) -> None:
    default = _settings(control, "default")
    assert default[0] == FULL
    assert default[1] > 0
    assert _settings(control, "synced") == (FULL, 0)
    assert _settings(control, "default") == default


def test_a_failed_lazy_transaction_leaves_nothing_behind(control: Engine) -> None:
    def fail_before_commit() -> None:
        with write_transaction(control, commit="unsynced") as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
            raise RuntimeError("fails before commit")

    with pytest.raises(RuntimeError):
        fail_before_commit()
    assert _synchronous(control, "default") == FULL
    with control.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t WHERE n = 2").scalar_one() == 0


def test_a_waiting_writer_goes_next_as_soon_as_the_writer_before_commits(
    control: Engine,
) -> None:
    holding, waiting_started = threading.Event(), threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with write_transaction(control) as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (10)")
            holding.set()
            release.wait(10)
            order.append("first commits")

    def second() -> None:
        holding.wait(10)
        waiting_started.set()
        with write_transaction(control) as connection:
            order.append("second writes")
            connection.exec_driver_sql("INSERT INTO t VALUES (20)")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    waiting_started.wait(10)
    time.sleep(0.2)  # the second writer is blocked in the queue by now
    assert order == []
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second writes"]
    with control.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2


def test_a_writer_blocked_in_the_queue_is_seen_waiting_until_it_has_the_lock(
    control: Engine,
) -> None:
    got_in = threading.Event()

    def second() -> None:
        with write_transaction(control) as connection:
            got_in.set()
            connection.exec_driver_sql("INSERT INTO t VALUES (20)")

    with write_transaction(control) as first:
        first.exec_driver_sql("INSERT INTO t VALUES (10)")
        assert not writers_waiting(first)  # alone
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 10
        while not writers_waiting(first):  # seen from the holder's own connection
            assert time.monotonic() < deadline, "the second writer was never seen waiting"
            time.sleep(0.001)
        assert not got_in.is_set()
    thread.join(10)
    assert got_in.is_set()
    with control.connect() as connection:
        assert not writers_waiting(connection)
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2


def test_a_writer_holding_one_queue_does_not_block_on_another(tmp_path: Path) -> None:
    """Lock-order inversion between two databases ends in SQLite's busy timeout, not a hang."""
    left = create_engine_for(f"sqlite:///{tmp_path / 'left.db'}")
    right = create_engine_for(f"sqlite:///{tmp_path / 'right.db'}")
    for engine in (left, right):
        event.listen(engine, "connect", _short_busy_timeout)
        with write_transaction(engine) as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    right_held, done = threading.Event(), threading.Event()

    def hold_right() -> None:
        with write_transaction(right) as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            right_held.set()
            done.wait(10)

    holder = threading.Thread(target=hold_right)
    holder.start()
    right_held.wait(10)
    try:
        with write_transaction(left) as outer:
            outer.exec_driver_sql("INSERT INTO t VALUES (1)")
            started = time.monotonic()
            # Not queued behind the holder of ``right`` (this thread holds ``left``):
            # SQLite's own lock answers, busy after its timeout.
            with pytest.raises(Exception, match="locked"), write_transaction(right) as inner:
                inner.exec_driver_sql("INSERT INTO t VALUES (2)")
            assert time.monotonic() - started < 9
    finally:
        done.set()
        holder.join(10)
        left.dispose()
        right.dispose()


def _short_busy_timeout(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=200")


@pytest.mark.postgres
def test_an_unsynced_commit_on_postgresql_is_scoped_to_its_transaction(
    postgres_databases: PostgresDatabases,
) -> None:
    engine = create_engine_for(postgres_databases.new("writers"))
    try:
        show = text("SHOW synchronous_commit")
        with write_transaction(engine, commit="unsynced") as connection:
            assert connection.execute(show).scalar_one() == "off"
        with write_transaction(engine) as connection:
            assert connection.execute(show).scalar_one() == "on"
    finally:
        engine.dispose()
