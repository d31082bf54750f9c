"""servinfo's own job kinds and schedules, and the calls that enqueue them.

=================== ============================================ ==========================
kind                what it runs                                 why a rerun changes nothing
=================== ============================================ ==========================
``export_purge``    :func:`servinfo.rights.purge.                only expired rows are
                    purge_expired_exports` (hourly)              deleted; none are left
``kek_rewrap``      :func:`servinfo.store.rewrap_data_keys`      only keys not yet under the
                    for one region (after ``keys rotate``)       current KEK are re-wrapped
``dsr_process``     :meth:`servinfo.rights.RightsService.        a request already answered
                    process` for one request                     is left as it is
``retention_sweep`` :func:`servinfo.retention.sweep.run_sweep`    only records past retention
                    for one region (daily), as the sweep named   are deleted; the counts of
                    by the job's id                              every attempt are kept
``request_purge``   :func:`servinfo.rights.unlinking.            only case files past their
                    purge_request_records` (daily)               retention are deleted
``backup_expiry``   :func:`servinfo.retention.backup.            only keys of backups past
                    expire_backups` (daily)                      their end are destroyed
``drp_callback``    :meth:`servinfo.rights.drp.DrpService.       a status the agent received
                    deliver` for one DRP request                 is not posted again
``drp_sync``        :meth:`servinfo.rights.drp.DrpService.sync`  a status already stored
                    (every 5 minutes): statuses derived again,   queues no callback again
                    a callback queued per change
``redaction_rerun`` :func:`servinfo.collect.reredaction.         records already redacted by
                    rerun_redaction` for one region (after a     the current policy and
                    policy or detector change)                   detectors are skipped
``redaction_check`` queues a ``redaction_rerun`` per region       one rerun job per region
                    when the policy's redaction or the           and version (dedupe key)
                    detectors changed (hourly)
=================== ============================================ ==========================

Parameters are ids and region names; the handlers' results are counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from servinfo.jobs.errors import JobFailed
from servinfo.jobs.queue import Job, JobQueue
from servinfo.jobs.registry import JobContext, JobKind, Registry
from servinfo.jobs.schedules import Schedule

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = [
    "BACKUP_EXPIRY",
    "DRP_CALLBACK",
    "DRP_SYNC",
    "DSR_PROCESS",
    "EXPORT_PURGE",
    "KEK_REWRAP",
    "REDACTION_CHECK",
    "REDACTION_RERUN",
    "REQUEST_PURGE",
    "RETENTION_SWEEP",
    "SWEEP_DAILY_AT",
    "WORKER_ACTOR",
    "enqueue_drp_callback",
    "enqueue_dsr_processing",
    "enqueue_redaction_rerun",
    "enqueue_rewrap",
    "queue_dsr_processing",
    "servinfo_registry",
]

EXPORT_PURGE = "export_purge"
KEK_REWRAP = "kek_rewrap"
DSR_PROCESS = "dsr_process"
RETENTION_SWEEP = "retention_sweep"
REQUEST_PURGE = "request_purge"
BACKUP_EXPIRY = "backup_expiry"
DRP_CALLBACK = "drp_callback"
REDACTION_RERUN = "redaction_rerun"
REDACTION_CHECK = "redaction_check"
#: How often the worker looks for a new redaction version to bring stored text up to.
REDACTION_CHECK_INTERVAL = dt.timedelta(hours=1)
DRP_SYNC = "drp_sync"
#: How often live DRP requests' statuses are derived again, so that a change an operator
#: made (a request processed, refused, extended) reaches the agent without a status read.
DRP_SYNC_INTERVAL = dt.timedelta(minutes=5)
#: Attempts at one status callback (the queue's backoff between them: 10 s doubling, to 1 h).
DRP_CALLBACK_ATTEMPTS = 10
#: The actor the audit log names for what jobs do on their own schedule.
WORKER_ACTOR = "servinfo-worker"
#: When the daily retention sweep of each region is enqueued (UTC).
SWEEP_DAILY_AT = dt.time(3, 0)


def _export_purge(context: JobContext) -> Mapping[str, Any]:
    from servinfo.rights.purge import purge_expired_exports

    deployment = context.deployment
    purged = purge_expired_exports(
        deployment.rights.exports,
        deployment.audit,
        actor=WORKER_ACTOR,
        now=context.now(),
        audit_empty=False,  # the hourly runs of an idle deployment would fill the log
    )
    return {"purged": purged}


def _region(context: JobContext) -> str:
    region = context.params.get("region")
    if not isinstance(region, str) or region not in context.deployment.regions:
        raise JobFailed(f"no region {region!r} in this deployment", final=True)
    return region


def _progress_and_check(context: JobContext) -> Callable[[int, int], None]:
    """A batch loop's ``progress`` callback that also stops the loop between batches once
    another worker took the job over (the lease ran out): never two runs at once."""

    def progress(done: int, total: int) -> None:
        context.progress(done, total)
        context.check()

    return progress


def _kek_rewrap(context: JobContext) -> Mapping[str, Any]:
    from servinfo.store import rewrap_data_keys

    deployment = context.deployment
    region = _region(context)
    report = rewrap_data_keys(
        deployment.regions[region],
        region,
        deployment.keyring,
        batch_size=int(context.params.get("batch_size", 1000)),
        progress=_progress_and_check(context),
    )
    deployment.audit.record(
        "key_rewrap",
        actor=WORKER_ACTOR,
        outcome="rewrapped",
        details={"region": region, "key_id": report.kek_id, "rewrapped": report.rewrapped},
    )
    return {"region": region, "key_id": report.kek_id, "rewrapped": report.rewrapped}


def _dsr_process(context: JobContext) -> Mapping[str, Any]:
    from servinfo.rights.entries import CLOSED_STATES
    from servinfo.rights.errors import FlaggedRequest

    rights = context.deployment.rights
    request_id = str(context.params["request_id"])
    actor = str(context.params.get("actor", WORKER_ACTOR))
    request = rights.get(request_id)
    if request.state in CLOSED_STATES:  # an earlier attempt finished it
        return {"request_id": request_id, "state": request.state}
    if request.state == "in_progress" and context.job.attempts > 1:
        # An earlier attempt of this job died in the middle of the work: do it again.
        rights.reopen_interrupted(request_id, actor=actor)
    elif request.state != "verified":
        raise JobFailed(f"request {request_id} is {request.state}, not verified", final=True)
    try:
        done = rights.process(
            request_id,
            actor=actor,
            proceed_flagged=bool(context.params.get("proceed_flagged", False)),
            now=context.now(),
        )
    except FlaggedRequest:
        raise JobFailed(
            f"request {request_id} is flagged: an operator decides (--proceed-flagged)",
            final=True,
        ) from None
    return {"request_id": request_id, "state": done.state}


def _retention_sweep(context: JobContext) -> Mapping[str, Any]:
    from servinfo.retention.sweep import run_sweep

    report = run_sweep(
        context.deployment,
        _region(context),
        now=context.now(),
        dry_run=False,
        progress=_progress_and_check(context),
        # Every attempt at the job is the same sweep: its audit entry counts them all.
        sweep_id=context.job.id,
    )
    return {
        "region": report.region,
        "deleted": report.deleted_total,
        "kept": report.kept_total,
        "keys_destroyed": report.keys_destroyed,
        "attempts": report.attempts,
    }


def _request_purge(context: JobContext) -> Mapping[str, Any]:
    from servinfo.rights.drp.purge import forget_requests
    from servinfo.rights.unlinking import expired_requests, purge_request_records

    deployment = context.deployment
    resumed = deployment.rights.resume_unlinking()  # erasures a crash left linked
    retention = dt.timedelta(days=deployment.settings.request_retention_days)
    expired = expired_requests(deployment.control, context.now(), retention)
    # The DRP's rows first: a crash between the two leaves case files the next run deletes.
    drp = forget_requests(deployment.control, expired)
    purged = purge_request_records(deployment.control, expired)
    counts = {**purged, "drp_requests": drp, "erasures_unlinked": resumed}
    if any(counts.values()):  # idle daily runs would fill the log
        deployment.audit.record(
            "request_purge", actor=WORKER_ACTOR, outcome="purged", details=counts
        )
    return counts


def _drp_callback(context: JobContext) -> Mapping[str, Any]:
    from servinfo.rights.drp.service import DrpService

    drp = DrpService.for_deployment(context.deployment)
    return drp.callback_job(str(context.params["request_id"]), now=context.now())


def _drp_sync(context: JobContext) -> Mapping[str, Any]:
    from servinfo.rights.drp.service import DrpService

    changed = DrpService.for_deployment(context.deployment).sync(now=context.now())
    return {"changed": changed}


def _backup_expiry(context: JobContext) -> Mapping[str, Any]:
    from servinfo.retention.backup import expire_backups

    deployment = context.deployment
    destroyed = expire_backups(
        deployment.backup_catalogue,
        deployment.shred_ledger,
        deployment_id=deployment.deployment_id,
        now=context.now(),
    )
    if destroyed:  # idle daily runs would fill the log
        deployment.audit.record(
            "backup_expiry",
            actor=WORKER_ACTOR,
            outcome="keys_destroyed",
            details={"backups": ",".join(destroyed), "count": len(destroyed)},
        )
    return {"destroyed": len(destroyed)}


def _redaction_rerun(context: JobContext) -> Mapping[str, Any]:
    from servinfo.collect.reredaction import rerun_redaction

    report = rerun_redaction(
        context.deployment,
        _region(context),
        actor=WORKER_ACTOR,
        progress=_progress_and_check(context),
    )
    return {
        "region": report.region,
        "version": report.version,
        "changed": report.changed,
        "restamped": report.restamped,
        "current": report.current,
        "raced": report.raced,
    }


def _redaction_check(context: JobContext) -> Mapping[str, Any]:
    from servinfo.collect.redaction.by_policy import PolicyRedaction
    from servinfo.collect.reredaction import redaction_version

    deployment = context.deployment
    version = redaction_version(PolicyRedaction(deployment.runtime.refresh(force=True).policy))
    queued = [
        region
        for region in sorted(deployment.regions)
        if enqueue_redaction_rerun(deployment.jobs.queue, region, version, now=context.now())[1]
    ]
    return {"version": version, "queued": len(queued)}


def servinfo_registry(regions: tuple[str, ...] | list[str]) -> Registry:
    """Every kind servinfo runs as a job, and its schedules for ``regions``."""
    registry = Registry(
        [
            JobKind(EXPORT_PURGE, _export_purge, "Delete expired exports and destroy their keys."),
            JobKind(KEK_REWRAP, _kek_rewrap, "Re-wrap a region's data keys under its newest KEK."),
            JobKind(DSR_PROCESS, _dsr_process, "Process a verified data-subject request."),
        ]
    )
    from servinfo.rights.purge import EXPORT_PURGE_INTERVAL

    registry.schedule(Schedule("export-purge", EXPORT_PURGE, every=EXPORT_PURGE_INTERVAL))
    registry.add(
        JobKind(
            RETENTION_SWEEP,
            _retention_sweep,
            "Delete the records of a region past their retention.",
        )
    )
    registry.add(
        JobKind(
            REQUEST_PURGE,
            _request_purge,
            "Delete the case files of requests past their retention.",
        )
    )
    registry.schedule(Schedule("request-purge", REQUEST_PURGE, daily_at=SWEEP_DAILY_AT))
    registry.add(
        JobKind(
            BACKUP_EXPIRY,
            _backup_expiry,
            "Destroy the keys of backups past the policy's backup period.",
        )
    )
    registry.schedule(Schedule("backup-expiry", BACKUP_EXPIRY, daily_at=SWEEP_DAILY_AT))
    registry.add(
        JobKind(
            DRP_CALLBACK,
            _drp_callback,
            "Post a DRP request's new status to the authorized agent.",
            max_attempts=DRP_CALLBACK_ATTEMPTS,
        )
    )
    registry.add(
        JobKind(DRP_SYNC, _drp_sync, "Derive live DRP requests' statuses; queue their callbacks.")
    )
    registry.schedule(Schedule("drp-sync", DRP_SYNC, every=DRP_SYNC_INTERVAL))
    registry.add(
        JobKind(
            REDACTION_RERUN,
            _redaction_rerun,
            "Redact a region's stored free text again under the current policy and detectors.",
        )
    )
    registry.add(
        JobKind(
            REDACTION_CHECK,
            _redaction_check,
            "Queue a re-redaction of each region when the policy's redaction or the detectors "
            "changed.",
        )
    )
    registry.schedule(Schedule("redaction-check", REDACTION_CHECK, every=REDACTION_CHECK_INTERVAL))
    for region in regions:
        registry.schedule(
            Schedule(
                f"retention-sweep-{region}",
                RETENTION_SWEEP,
                {"region": region},
                daily_at=SWEEP_DAILY_AT,
            )
        )
    return registry


def enqueue_rewrap(
    queue: JobQueue, region: str, kek_id: str, *, batch_size: int = 1000
) -> tuple[Job, bool]:
    """The re-wrap of ``region`` to KEK version ``kek_id``: one job per version."""
    return queue.enqueue(
        KEK_REWRAP,
        {"region": region, "batch_size": batch_size},
        dedupe_key=f"{KEK_REWRAP}:{region}:{kek_id}",
    )


def enqueue_drp_callback(queue: JobQueue, request_id: str, status: str) -> tuple[Job, bool]:
    """The callback telling the agent that DRP request ``request_id`` is now ``status``."""
    return queue.enqueue(
        DRP_CALLBACK,
        {"request_id": request_id},
        dedupe_key=f"{DRP_CALLBACK}:{request_id}:{status}",
        max_attempts=DRP_CALLBACK_ATTEMPTS,
    )


def enqueue_redaction_rerun(
    queue: JobQueue, region: str, version: str, *, now: dt.datetime | None = None
) -> tuple[Job, bool]:
    """The re-redaction of ``region`` up to ``version`` (of the policy's redaction and the
    detectors): one job per region and version, however often it is asked for."""
    return queue.enqueue(
        REDACTION_RERUN,
        {"region": region},
        dedupe_key=f"{REDACTION_RERUN}:{region}:{version}",
        now=now,
    )


def enqueue_dsr_processing(
    queue: JobQueue, request_id: str, *, actor: str, proceed_flagged: bool = False
) -> tuple[Job, bool]:
    """The processing of one request: one job per request (and per operator decision)."""
    return queue.enqueue(
        DSR_PROCESS,
        {"request_id": request_id, "actor": actor, "proceed_flagged": proceed_flagged},
        dedupe_key=_dsr_key(request_id, proceed_flagged),
    )


def _dsr_key(request_id: str, proceed_flagged: bool) -> str:
    return f"{DSR_PROCESS}:{request_id}{':proceed' if proceed_flagged else ''}"


def queue_dsr_processing(
    deployment: Deployment, request_id: str, *, actor: str, proceed_flagged: bool = False
) -> tuple[Job, bool]:
    """Processing a request as a job, for ``dsr process --background`` and the API.

    (1) Asked before: the job the request's key already holds, whatever the
    request's state now — asking twice changes nothing. (2) Otherwise refused at
    once, as processing it in the foreground would be (not verified, or flagged
    without ``proceed_flagged``), rather than by a job that fails. (3) Queued.
    Two callers racing past (1) still make one job: the key is unique.
    """
    queue = deployment.jobs.queue
    existing = queue.by_dedupe_key(_dsr_key(request_id, proceed_flagged))
    if existing is not None:
        return existing, False
    request = deployment.rights.ready_to_process(request_id, proceed_flagged=proceed_flagged)
    return enqueue_dsr_processing(
        queue, request.request_id, actor=actor, proceed_flagged=proceed_flagged
    )


def deployment_registry(deployment: Deployment) -> Registry:
    return servinfo_registry(list(deployment.regions))
