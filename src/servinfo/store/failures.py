"""Storage that cannot serve: the one place that tells a broken store from a bug.

A database on a read-only file system, a full disk, an I/O error or a corrupt
file surface as driver errors (``sqlite3.OperationalError``,
``psycopg.OperationalError`` …, wrapped by SQLAlchemy) or as an ``OSError``
(EROFS, ENOSPC, EACCES) from the files beside a SQLite database. None of these
is a bug of the request: :func:`storage_failure` turns each into
:class:`StoreUnavailable` (503, ``store_unavailable``) naming the store and the
cause, which the API answers and the CLI prints as one line. Anything else is
left alone (None), to stay an internal error.

Engines opened for a deployment are named (:func:`name_store`) so that the
message says which store failed: every SQLAlchemy statement on them is
translated as it fails (:func:`install`); the driver-level cursors of bulk
writes and the edges (API, CLI) call :func:`storage_failure` themselves.

This module imports no database driver: it reads error classes' modules, codes
and messages, so it tells psycopg's errors apart where psycopg is not installed.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from servinfo.store.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import ExceptionContext

__all__ = [
    "StoreUnavailable",
    "engine_failure",
    "install",
    "name_store",
    "storage_failure",
    "store_name",
]

_STORE_OPTION = "servinfo_store"
_READ_ONLY = "is read-only"
_FULL = "is out of space: disk full"
_IO_ERROR = "had a disk I/O error"
_CANNOT_OPEN = "cannot be opened: unable to open database file"

#: SQLite's messages (lower case) and what they mean for the operator.
_SQLITE_CAUSES: tuple[tuple[str, str], ...] = (
    ("readonly database", _READ_ONLY),
    ("database or disk is full", _FULL),
    ("disk i/o error", _IO_ERROR),
    ("database disk image is malformed", "is corrupt: database disk image is malformed"),
    ("file is not a database", "is corrupt: file is not a database"),
    ("unable to open database file", _CANNOT_OPEN),
)
#: SQLite's answers when a WAL database's side files (-wal, -shm) cannot be created or
#: grown: the directory's file system is then asked whether it is read-only or full.
_VAGUE = frozenset({_IO_ERROR, _CANNOT_OPEN})
#: PostgreSQL SQLSTATEs (classes 53, 58 and XX, and read-only transactions).
_POSTGRES_CAUSES: dict[str, str] = {
    "53100": _FULL,
    "25006": _READ_ONLY,
    "58030": _IO_ERROR,
    "XX001": "is corrupt: data corrupted",
    "XX002": "is corrupt: index corrupted",
}
#: Class 08 (connection exceptions) and these: the server shuts down or starts up.
_POSTGRES_GONE = frozenset({"57P01", "57P02", "57P03"})
_UNREACHABLE = "is unreachable: the database server does not answer"
_OS_CAUSES: dict[int, str] = {
    errno.EROFS: _READ_ONLY,
    errno.ENOSPC: _FULL,
    errno.EDQUOT: "is out of space: disk quota exceeded",
    errno.EACCES: "is not writable: permission denied",
    errno.EPERM: "is not writable: operation not permitted",
    errno.EIO: _IO_ERROR,
}


class StoreUnavailable(StoreError):
    """A store cannot serve now (read-only, full, failing or corrupt); the message says which.

    Not the caller's fault: answered 503, and ingest is refused while it lasts.
    """

    code = "store_unavailable"
    http_status = 503

    def __init__(self, store: str | None, cause: str) -> None:
        where = f"the {store} store" if store else "a store"
        super().__init__(f"{where} {cause}")
        self.store = store
        self.cause = cause


def name_store(engine: Engine, name: str) -> None:
    """Name ``engine``'s store (``control`` or a region) in the failures it raises."""
    engine.update_execution_options(**{_STORE_OPTION: name})
    install(engine)


def store_name(engine: Engine) -> str | None:
    name = engine.get_execution_options().get(_STORE_OPTION)
    return name if isinstance(name, str) else None


def install(engine: Engine) -> None:
    """Translate storage failures of every statement on ``engine`` into StoreUnavailable."""
    from sqlalchemy import event

    if not event.contains(engine, "handle_error", _translate):
        event.listen(engine, "handle_error", _translate)


def _translate(context: ExceptionContext) -> None:
    if context.engine is None:
        failure = storage_failure(context.original_exception)
    else:
        failure = engine_failure(context.original_exception, context.engine)
    if failure is not None:
        raise failure from None


def engine_failure(
    error: BaseException, engine: Engine, store: str | None = None
) -> StoreUnavailable | None:
    """:func:`storage_failure` for an error of ``engine``'s database (named, or ``store``)."""
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    return storage_failure(error, store or store_name(engine), sqlite_file)


def storage_failure(
    error: BaseException, store: str | None = None, sqlite_file: str | None = None
) -> StoreUnavailable | None:
    """The StoreUnavailable ``error`` means, or None when it is not a storage failure.

    ``sqlite_file``: the store's database file, when SQLite; SQLite cannot open a
    WAL database in a read-only directory and says only "unable to open", so the
    directory is looked at to name the real cause.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnavailable):
            return current
        cause = _cause(current)
        if cause is not None:
            if cause in _VAGUE and sqlite_file:
                cause = _file_system_state(sqlite_file) or cause
            return StoreUnavailable(store, cause)
        # SQLAlchemy keeps the driver's error in ``orig``; Python chains the rest.
        orig = getattr(current, "orig", None)
        nxt = orig if isinstance(orig, BaseException) else None
        current = nxt or current.__cause__ or current.__context__
    return None


def _file_system_state(database: str) -> str | None:
    """What the database's directory says when SQLite's message is vague: read-only, or full."""
    directory = os.path.dirname(os.path.abspath(database))
    try:
        found = os.statvfs(directory)
    except OSError:
        return None
    if found.f_flag & os.ST_RDONLY or not os.access(directory, os.W_OK):
        return _READ_ONLY
    if found.f_bavail == 0 or found.f_bfree == 0:
        return _FULL
    return None


def _cause(error: BaseException) -> str | None:
    if isinstance(error, OSError):
        return _OS_CAUSES.get(error.errno or 0)
    module = type(error).__module__
    if module == "sqlite3":
        message = str(error).lower()
        for fragment, cause in _SQLITE_CAUSES:
            if fragment in message:
                return cause
        return None
    if module.startswith("psycopg"):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate.startswith("08") or sqlstate in _POSTGRES_GONE:
                return _UNREACHABLE
            return _POSTGRES_CAUSES.get(sqlstate)
        # No SQLSTATE: the server was never reached (refused, timed out, unknown host).
        return _UNREACHABLE if type(error).__name__ == "OperationalError" else None
    return None
