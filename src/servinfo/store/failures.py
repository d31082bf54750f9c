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

This module imports no driver: it reads error classes, codes and messages,
so the CLI's last line of defence can use it without loading SQLAlchemy.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from servinfo.store.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import ExceptionContext

__all__ = ["StoreUnavailable", "install", "name_store", "storage_failure", "store_name"]

_STORE_OPTION = "servinfo_store"

#: SQLite's messages (lower case) and what they mean for the operator.
_SQLITE_CAUSES: tuple[tuple[str, str], ...] = (
    ("readonly database", "is read-only"),
    ("database or disk is full", "is out of space: disk full"),
    ("disk i/o error", "had a disk I/O error"),
    ("database disk image is malformed", "is corrupt: database disk image is malformed"),
    ("file is not a database", "is corrupt: file is not a database"),
    ("unable to open database file", "cannot be opened: unable to open database file"),
)
#: PostgreSQL SQLSTATEs (classes 53, 58 and XX, and read-only transactions).
_POSTGRES_CAUSES: dict[str, str] = {
    "53100": "is out of space: disk full",
    "25006": "is read-only",
    "58030": "had a disk I/O error",
    "XX001": "is corrupt: data corrupted",
    "XX002": "is corrupt: index corrupted",
}
_OS_CAUSES: dict[int, str] = {
    errno.EROFS: "is read-only",
    errno.ENOSPC: "is out of space: disk full",
    errno.EDQUOT: "is out of space: disk quota exceeded",
    errno.EACCES: "is not writable: permission denied",
    errno.EPERM: "is not writable: operation not permitted",
    errno.EIO: "had a disk I/O error",
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
    store = store_name(context.engine) if context.engine is not None else None
    failure = storage_failure(context.original_exception, store)
    if failure is not None:
        raise failure from None


def storage_failure(error: BaseException, store: str | None = None) -> StoreUnavailable | None:
    """The StoreUnavailable ``error`` means, or None when it is not a storage failure."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnavailable):
            return current
        cause = _cause(current)
        if cause is not None:
            return StoreUnavailable(store, cause)
        # SQLAlchemy keeps the driver's error in ``orig``; Python chains the rest.
        orig = getattr(current, "orig", None)
        nxt = orig if isinstance(orig, BaseException) else None
        current = nxt or current.__cause__ or current.__context__
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
        return _POSTGRES_CAUSES.get(sqlstate) if isinstance(sqlstate, str) else None
    return None
