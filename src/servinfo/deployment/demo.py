"""Demo data: the simulator's Service Information, ingested as the services would.

``servinfo demo`` (and ``make run``) gives each cloud service of the policy its
own service principal and each staff role a reader, simulates customers, and
sends every object through the same :class:`~servinfo.collect.service.Collector`
the API uses, as the service that reports it — so the demo data is validated,
minimized, redacted, encrypted and audited exactly like real data.

The demo principals' tokens are written, mode 0600, to ``demo-tokens/`` in the
data directory when the principals are created: this is a local demo, where
the person trying servinfo is also its operator.

Loading is idempotent. The simulation is fixed by its seed, so the demo knows
the subjects it registers: when all of them are registered already, nothing is
sent again; when only some are, an earlier load stopped part-way and the demo
refuses rather than guess which records are missing.

Last, the demo leaves the job worker something to do that a new user can
watch: the schedules' runs for the current period (the export purge, a
retention sweep per region over the data just loaded) are queued, under the
keys the schedules use — the same runs a worker's first turn would queue, so
none is doubled. The demo names them; the worker ``servinfo serve`` starts
runs them as it starts, and ``servinfo jobs list`` shows them done
(docs/jobs.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servinfo.collect.by_service import CollectorSender, deliver, numbered_lines
from servinfo.collect.errors import NoSender
from servinfo.collect.simulator import simulate
from servinfo.crypto import write_secret_file
from servinfo.deployment.errors import DeploymentError
from servinfo.deployment.runtime import Deployment
from servinfo.policy.model import STAFF_KINDS
from servinfo.store import Principal, UnknownPrincipal

if TYPE_CHECKING:
    from servinfo.jobs.queue import Job

DEMO_PREFIX = "demo-"
TOKEN_DIR = "demo-tokens"  # noqa: S105 (a folder name, not a secret)
_SAMPLES = 3


@dataclass
class DemoSummary:
    accepted: int = 0
    rejected: int = 0
    first_rejections: list[str] = field(default_factory=list)
    #: The demo's subjects were all registered before: nothing was sent.
    already_loaded: bool = False
    subjects: int = 0
    #: Principal name → its token file, for the demo principals made now or before.
    token_files: dict[str, Path] = field(default_factory=dict)
    #: A few demo subjects with many records, one per home region: (subject id, region).
    samples: list[tuple[str, str]] = field(default_factory=list)
    #: The jobs left for the worker: the export purge and a retention sweep per region.
    jobs: list[Job] = field(default_factory=list)


def token_dir(deployment: Deployment) -> Path:
    return deployment.settings.data_dir / TOKEN_DIR


def _principal(
    deployment: Deployment,
    name: str,
    *,
    kind: str,
    role: str,
    region: str | None,
    binding: str | None,
    actor: str,
    tokens: dict[str, Path],
) -> Principal:
    """The demo principal ``name``, created (its token written to a file) when missing."""
    path = token_dir(deployment) / f"{name}.token"
    try:
        principal = deployment.principals.get(name)
    except UnknownPrincipal:
        issued = deployment.principal_service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor=actor
        )
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_secret_file(path, (issued.token + "\n").encode())
        principal = issued.principal
    if path.exists():
        tokens[name] = path
    return principal


def service_principals(
    deployment: Deployment, actor: str, tokens: dict[str, Path] | None = None
) -> dict[str, Principal]:
    """One ``ingest`` service principal per service of the policy, created when missing."""
    kept = tokens if tokens is not None else {}
    return {
        service: _principal(
            deployment,
            f"{DEMO_PREFIX}{service}",
            kind="service",
            role="ingest",
            region=None,
            binding=service,
            actor=actor,
            tokens=kept,
        )
        for service in deployment.runtime.current.policy.services
    }


def staff_readers(deployment: Deployment, actor: str, tokens: dict[str, Path]) -> None:
    """A reader for each staff role that serves a purpose, working in the first region."""
    policy = deployment.runtime.current.policy
    region = next(iter(policy.regions))
    for role_id, role in policy.roles.items():
        kinds = [k for k in role.principal_kinds if k in STAFF_KINDS]
        if not kinds or not role.purposes or "manage_principals" in role.permissions:
            continue  # not staff, or an administrator rather than a reader
        _principal(
            deployment,
            f"{DEMO_PREFIX}{role_id}",
            kind=kinds[0],
            role=role_id,
            region=region,
            binding=None,
            actor=actor,
            tokens=tokens,
        )


def load_demo(
    deployment: Deployment,
    *,
    customers: int,
    days: int,
    seed: int,
    actor: str,
    progress: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
) -> DemoSummary:
    """The demo data loaded (or found loaded), then jobs queued for the worker."""
    summary = _load_data(deployment, customers, days, seed, actor, progress)
    summary.jobs = queue_scheduled_jobs(deployment, now or dt.datetime.now(dt.UTC))
    return summary


def queue_scheduled_jobs(deployment: Deployment, now: dt.datetime) -> list[Job]:
    """Each schedule's run for the period of ``now``: queued now, or found queued or run.

    The keys are the schedules' own, so the worker's first turn adds nothing:
    each runs once per period whoever queued it.
    """
    from servinfo.jobs.kinds import deployment_registry
    from servinfo.jobs.schedules import enqueue_due

    queue = deployment.jobs.queue
    schedules = deployment_registry(deployment).schedules
    enqueue_due(queue, schedules, now)
    found = (queue.by_dedupe_key(schedule.dedupe_key(now)) for schedule in schedules)
    return [job for job in found if job is not None]


def _load_data(
    deployment: Deployment,
    customers: int,
    days: int,
    seed: int,
    actor: str,
    progress: Callable[[int], None] | None,
) -> DemoSummary:
    policy = deployment.runtime.current.policy
    summary = DemoSummary()
    principals = service_principals(deployment, actor, summary.token_files)
    staff_readers(deployment, actor, summary.token_files)

    objects = list(simulate(policy, customers, days, seed))
    subject_ids = sorted({str(o["id"]) for o in objects if o["type"] == "subject"})
    summary.subjects = len(subject_ids)
    summary.samples = _samples(objects, list(policy.regions))
    registered = len(deployment.directory.subjects(subject_ids))
    if subject_ids and registered == len(subject_ids):
        summary.already_loaded = True
        return summary
    if registered:
        raise DeploymentError(
            f"an earlier demo load with seed {seed} stopped part-way ({registered} of "
            f"{len(subject_ids)} demo subjects registered): load the demo into a new "
            "deployment (servinfo init --data-dir DIR), or use another --seed"
        )

    def sender_for(service: str) -> CollectorSender:
        if service not in principals:
            raise NoSender(f"the policy declares no service {service!r}")
        return CollectorSender(deployment.collector, principals[service])

    delivery = deliver(numbered_lines(objects), sender_for, chunk=1000, on_chunk=progress)
    summary.accepted = delivery.accepted_total
    summary.rejected = len(delivery.rejected)
    summary.first_rejections = [
        f"line {r.line}: {r.error}: {r.detail}" for r in delivery.rejected[:3]
    ]
    return summary


def _samples(objects: list[dict[str, Any]], regions: list[str]) -> list[tuple[str, str]]:
    """The subject with most records in each home region, in the policy's region order."""
    home = {o["id"]: o["home_region"] for o in objects if o["type"] == "organization"}
    region_of = {o["id"]: home[o["org"]] for o in objects if o["type"] == "subject"}
    counts = Counter(o["subject"] for o in objects if o["type"] == "record")
    best: dict[str, str] = {}
    for subject, _ in counts.most_common():
        region = region_of.get(subject)
        if region is not None and region not in best:
            best[region] = subject
    return [(best[r], r) for r in regions if r in best][:_SAMPLES]
