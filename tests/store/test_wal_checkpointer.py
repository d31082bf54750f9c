"""Bulk writers' WAL checkpoints run beside them, and the WAL starts over instead of growing."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servinfo.store import create_engine_for
from servinfo.store._checkpointer import ROWS_PER_CHECKPOINT, WalCheckpointer, wal_checkpointer
from servinfo.store.engines import CommitMode, write_transaction

ROW = "x" * 200


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "region.db"
    engine = create_engine_for(f"sqlite:///{path}")
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
    yield engine, path
    engine.dispose()


def _bulk_write(engine: Engine, rows: int, commit: CommitMode = "default") -> None:
    with write_transaction(engine, commit=commit) as connection:
        connection.exec_driver_sql(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
            "INSERT INTO t (v) SELECT ? FROM s",
            (rows, ROW),
        )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _checkpoints(path: Path) -> int:
    """Background checkpoints of ``path`` so far (the store names it as its URL does)."""
    return wal_checkpointer.completed[str(path)]


def _checkpointed(path: Path, count: int) -> bool:
    return _checkpoints(path) >= count


def _wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_bulk_commits_keep_the_wal_small(database: tuple[Engine, Path]) -> None:
    """Twenty bulk commits of ~1 MB: each is checkpointed in the background before the
    next begins, so the WAL starts over and holds about one commit, where the writers'
    own checkpoint alone (every 16,384 pages) would let it grow to all twenty."""
    engine, path = database
    for batch in range(1, 21):
        _bulk_write(engine, ROWS_PER_CHECKPOINT + 1)
        _wait_for(functools.partial(_checkpointed, path, batch), "a background checkpoint")
    assert _wal_bytes(path) < 3 * 1024 * 1024
    with engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
    assert count == 20 * (ROWS_PER_CHECKPOINT + 1)


def test_small_commits_never_wake_it(database: tuple[Engine, Path]) -> None:
    """An API request's few rows: the writers' own checkpoint will do."""
    engine, path = database
    for _ in range(20):
        _bulk_write(engine, 10)
    time.sleep(0.2)
    assert _checkpoints(path) == 0


def test_synced_commits_leave_their_checkpoint_to_the_caller(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database
    _bulk_write(engine, ROWS_PER_CHECKPOINT + 1, commit="synced")
    time.sleep(0.2)
    assert _checkpoints(path) == 0
    assert _wal_bytes(path) > 0


def test_a_removed_database_is_not_created_again(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(rows_per_checkpoint=1)
    assert checkpointer.checkpoint(str(missing)) is False
    assert checkpointer.failed[str(missing)] == 1
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_thread_checkpoints_what_it_is_told(database: tuple[Engine, Path]) -> None:
    _, path = database
    checkpointer = WalCheckpointer(rows_per_checkpoint=10)
    checkpointer.note_commit(str(path), 9)
    time.sleep(0.2)
    assert checkpointer.completed[str(path)] == 0
    checkpointer.note_commit(str(path), 1)
    _wait_for(lambda: checkpointer.completed[str(path)] == 1, "the checkpoint")
    assert not checkpointer.failed


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(
    database: tuple[Engine, Path],
) -> None:
    """The parent's thread is not in the child: the child starts its own."""
    engine, path = database
    _bulk_write(engine, ROWS_PER_CHECKPOINT + 1)
    _wait_for(functools.partial(_checkpointed, path, 1), "the parent's checkpoint")
    engine.dispose()  # the child opens connections of its own
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        code = 1
        try:
            forked = create_engine_for(f"sqlite:///{path}")
            _bulk_write(forked, ROWS_PER_CHECKPOINT + 1)
            deadline = time.monotonic() + 10
            while _checkpoints(path) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            code = 0 if _checkpoints(path) >= 2 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
