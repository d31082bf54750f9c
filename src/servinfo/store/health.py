"""Each store's health: its integrity and its stamp, checked in the background.

A check of one store (:func:`check_store`) runs, in order:

1. the stamp (:mod:`servinfo.store.identity`): a database swapped while the
   server runs is caught here, as opening catches it at start;
2. the integrity check of its backend: SQLite ``PRAGMA quick_check`` (every
   page and B-tree, without matching indexes to tables); PostgreSQL ``amcheck``'s
   ``bt_index_check`` on every B-tree index of servinfo's schema. When amcheck
   is not installed (or may not be created), the result says so in ``notes``
   and the store counts as healthy: the stamp was still checked.

:class:`StoreHealth` keeps the last result of each store (``unchecked`` until
its first check ends) and runs the checks on a daemon thread: at start, then
every ``period`` seconds. A store is *unhealthy* while its last check failed;
the API's ``/readyz`` and ingest ask :meth:`StoreHealth.require_healthy`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from servinfo.store.failures import StoreUnavailable, engine_failure
from servinfo.store.identity import StoreMismatch

__all__ = ["CheckStatus", "StoreCheck", "StoreHealth", "check_store", "integrity_check"]

logger = logging.getLogger("servinfo.store.health")

CheckStatus = Literal["ok", "failed", "unchecked"]
#: The longest reason kept: the first problems quick_check lists say enough.
_REASON_CHARS = 300
_QUICK_CHECK_ROWS = 5
_INSUFFICIENT_PRIVILEGE = "42501"

_BTREE_INDEXES = text(
    "SELECT c.oid, c.relname FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_am a ON a.oid = c.relam "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE a.amname = 'btree' AND n.nspname = current_schema() AND c.relpersistence <> 't' "
    # Indexes with pages of their own: a partitioned table's index ('I') has none, its
    # partitions' indexes are checked instead.
    "AND c.relkind = 'i' ORDER BY c.relname"
)


@dataclass(frozen=True)
class StoreCheck:
    """The last check of one store."""

    store: str
    status: CheckStatus
    #: Why it failed, in a few words; None unless failed.
    reason: str | None = None
    checked_at: dt.datetime | None = None
    #: What could not be checked, and why (e.g. amcheck missing).
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "notes": list(self.notes),
        }


def integrity_check(engine: Engine) -> tuple[str | None, tuple[str, ...]]:
    """The backend's integrity check of ``engine``'s database: (problem or None, notes)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(f"PRAGMA quick_check({_QUICK_CHECK_ROWS})")
            found = [str(row[0]) for row in rows]
        if found == ["ok"]:
            return None, ()
        # One line: SQLite starts with "*** in database main ***" and breaks lines.
        problems = (" ".join(f.replace("*** in database main ***", "").split()) for f in found)
        return "quick_check: " + "; ".join(problems), ()
    return _amcheck(engine)


def _amcheck(engine: Engine) -> tuple[str | None, tuple[str, ...]]:
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
    except DBAPIError as error:
        return None, (f"amcheck unavailable, indexes not checked: {_first_line(error)}",)
    with engine.connect() as connection:
        indexes = list(connection.execute(_BTREE_INDEXES))
        connection.rollback()
        # One transaction per index: a failed check must not abort the ones after it.
        for oid, name in indexes:
            try:
                with connection.begin():
                    connection.execute(text("SELECT bt_index_check(:oid)"), {"oid": oid})
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
                    # Installed by someone else, but not granted to servinfo's role.
                    return None, (
                        f"amcheck not permitted, indexes not checked: {_first_line(error)}",
                    )
                return f"amcheck: index {name}: {_first_line(error)}", ()
    return None, ()


def _first_line(error: BaseException) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


def check_store(
    name: str,
    engine: Engine,
    verify_stamp: Callable[[Engine], object] | None = None,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> StoreCheck:
    """Check one store: its stamp (``verify_stamp(engine)`` raises StoreMismatch), then
    its integrity.

    Through a connection of its own, opened for the check: a pooled connection
    of a SQLite engine keeps the file it first opened, so it would go on
    checking a database that has since been replaced on disk.
    """
    probe = create_engine(engine.url, poolclass=NullPool)
    try:
        if verify_stamp is not None:
            verify_stamp(probe)
        problem, notes = integrity_check(probe)
    except StoreMismatch as mismatch:
        return StoreCheck(name, "failed", mismatch.message[:_REASON_CHARS], now())
    except Exception as error:
        failure = engine_failure(error, engine, name)
        if failure is None:
            # Not a known storage cause: still a failed check, named by its type only.
            logger.exception("integrity check of the %s store failed", name)
            reason = f"the check could not run ({type(error).__name__})"
        else:
            reason = failure.cause
        return StoreCheck(name, "failed", reason, now())
    finally:
        probe.dispose()
    if problem is not None:
        return StoreCheck(name, "failed", problem[:_REASON_CHARS], now(), notes)
    return StoreCheck(name, "ok", None, now(), notes)


class StoreHealth:
    """The last check of each store of a deployment, refreshed by a background thread."""

    def __init__(
        self,
        stores: Mapping[str, Engine],
        verifiers: Mapping[str, Callable[[Engine], object]] | None = None,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._stores = dict(stores)
        self._verifiers = dict(verifiers or {})
        self._now = now
        self._results = {name: StoreCheck(name, "unchecked") for name in self._stores}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = threading.Event()

    def check_now(self) -> list[StoreCheck]:
        """Check every store in turn (in the calling thread); the new results."""
        for name, engine in self._stores.items():
            if self._stop.is_set():
                break
            result = check_store(name, engine, self._verifiers.get(name), now=self._now)
            if result.status == "failed":
                logger.error("the %s store is unhealthy: %s", name, result.reason)
            with self._lock:
                self._results[name] = result
        if not self._stop.is_set():
            self._rounds.set()
        return self.results()

    def wait_checked(self, timeout: float) -> bool:
        """Wait until every store has been checked once; False if ``timeout`` passed first."""
        return self._rounds.wait(timeout)

    def results(self) -> list[StoreCheck]:
        with self._lock:
            return list(self._results.values())

    @property
    def healthy(self) -> bool:
        """True unless a store's last check failed (a store not yet checked counts as healthy)."""
        return all(r.status != "failed" for r in self.results())

    def require_healthy(self) -> None:
        """Raise StoreUnavailable, naming the first failed store and why, if any failed."""
        for result in self.results():
            if result.status == "failed":
                raise StoreUnavailable(result.store, f"is unhealthy: {result.reason}")

    def start(self, period: float) -> None:
        """Check at once in the background, then every ``period`` seconds (never again if 0)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.is_set():
                self.check_now()
                if period <= 0 or self._stop.wait(period):
                    return

        self._thread = threading.Thread(target=run, name="servinfo-store-health", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
