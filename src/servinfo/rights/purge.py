"""Purging expired exports: a plain function, and the loop ``servinfo serve`` runs it in.

An export expires (30 days after it was made, by default); from then on it is
refused, and the purge destroys its data key and deletes its row
(:meth:`servinfo.rights.exports.ExportVault.purge_expired`). Three callers:

* ``servinfo dsr purge-exports`` — an operator, any time;
* ``servinfo serve`` — each worker at start-up, then every hour
  (:func:`purge_exports_every`, started in the application's lifespan);
* a job of the job queue, later: it calls :func:`purge_expired_exports`.

Several workers (or hosts) may purge at once: each expired row is deleted by
exactly one transaction, so the counts add up and the audit log records each
export's purge once. A run that found nothing is audited only when an
operator asked for it (the hourly runs of every worker would fill the log
with zeros).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from servinfo.audit import AuditSink
from servinfo.rights.exports import ExportVault

__all__ = [
    "EXPORT_PURGE_INTERVAL",
    "SERVE_ACTOR",
    "purge_expired_exports",
    "purge_exports_every",
    "run_logged",
    "start_export_purges",
]

#: How often ``servinfo serve`` purges, besides once at start-up.
EXPORT_PURGE_INTERVAL = dt.timedelta(hours=1)
#: The actor the audit log names for the purges ``servinfo serve`` runs.
SERVE_ACTOR = "servinfo-serve"

_log = logging.getLogger(__name__)


def purge_expired_exports(
    exports: ExportVault,
    audit: AuditSink,
    *,
    actor: str,
    now: dt.datetime | None = None,
    audit_empty: bool = True,
) -> int:
    """Destroy the keys of the exports expired by ``now`` and delete them; how many. Audited.

    ``now`` defaults to the current time; the entry (action ``export_purge``)
    names no subject and no export, only how many were purged.
    """
    purged = exports.purge_expired(dt.datetime.now(dt.UTC) if now is None else now)
    if purged or audit_empty:
        audit.record("export_purge", actor=actor, outcome="purged", details={"purged": purged})
    return purged


async def purge_exports_every(
    exports: ExportVault, audit: AuditSink, seconds: float, *, actor: str
) -> None:
    """Purge every ``seconds`` until cancelled; a failed run is logged and the next one tried.

    The purge runs in a worker thread: it commits and, when it deleted
    something, checkpoints (SQLite) or vacuums (PostgreSQL), which must not
    hold up the event loop.
    """
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(run_logged, exports, audit, actor)


async def start_export_purges(exports: ExportVault, audit: AuditSink) -> asyncio.Task[None]:
    """For ``servinfo serve``: purge now, then every hour; the task to cancel at shutdown."""
    await asyncio.to_thread(run_logged, exports, audit, SERVE_ACTOR)
    seconds = EXPORT_PURGE_INTERVAL.total_seconds()
    return asyncio.create_task(
        purge_exports_every(exports, audit, seconds, actor=SERVE_ACTOR),
        name="servinfo-export-purge",
    )


def run_logged(exports: ExportVault, audit: AuditSink, actor: str) -> int | None:
    """One purge by the server: how many, or None when it failed (logged, never raised)."""
    try:
        purged = purge_expired_exports(exports, audit, actor=actor, audit_empty=False)
    except Exception as error:  # a background run must not end the server
        # The class only: a driver's message may quote the statement's parameters.
        _log.warning("purging expired exports failed (%s); retrying later", type(error).__name__)
        return None
    if purged:
        _log.info("purged %d expired exports", purged)
    return purged
