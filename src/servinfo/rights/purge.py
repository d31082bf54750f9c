"""Purging expired exports: a plain function, which the hourly ``export_purge`` job calls.

An export expires (30 days after it was made, by default); from then on it is
refused, and the purge destroys its data key and deletes its row
(:meth:`servinfo.rights.exports.ExportVault.purge_expired`). Three callers:

* ``servinfo dsr purge-exports`` — an operator, any time;
* the ``export_purge`` job (:mod:`servinfo.jobs.kinds`), scheduled hourly: a
  worker (``servinfo worker``, or the one ``servinfo serve`` starts) runs it
  at the start of each hour, or as soon as a worker runs after it;
* a test or a script, with the time passed in.

Two purges may still run at once (an operator's and the job's): each expired
row is deleted by exactly one transaction, so the counts add up and the audit
log records each export's purge once. A run that found nothing is audited
only when an operator asked for it (the hourly runs would fill the log with
zeros).
"""

from __future__ import annotations

import datetime as dt

from servinfo.audit import AuditSink
from servinfo.rights.exports import ExportVault

__all__ = ["EXPORT_PURGE_INTERVAL", "purge_expired_exports"]

#: How often the ``export_purge`` job is scheduled.
EXPORT_PURGE_INTERVAL = dt.timedelta(hours=1)


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
