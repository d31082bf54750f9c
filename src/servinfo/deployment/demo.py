"""Demo data: the simulator's Service Information, ingested as the services would.

``servinfo demo`` (and ``make run`` on a fresh deployment) gives each cloud
service of the policy its own service principal, simulates customers, and
sends every object through the same :class:`~servinfo.collect.service.Collector`
the API uses, as the service that reports it — so the demo data is validated,
minimized, redacted, encrypted and audited exactly like real data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from servinfo.collect.simulator import simulate
from servinfo.collect.simulator.sending import service_of
from servinfo.deployment.runtime import Deployment
from servinfo.store import Principal, UnknownPrincipal

DEMO_PREFIX = "demo-"
_CHUNK = 1000


@dataclass
class DemoSummary:
    accepted: int = 0
    rejected: int = 0
    first_rejections: list[str] = field(default_factory=list)


def service_principals(deployment: Deployment, actor: str) -> dict[str, Principal]:
    """One ``ingest`` service principal per service of the policy, created when missing."""
    found: dict[str, Principal] = {}
    for service in deployment.runtime.current.policy.services:
        name = f"{DEMO_PREFIX}{service}"
        try:
            found[service] = deployment.principals.get(name)
        except UnknownPrincipal:
            issued = deployment.principal_service.add(
                name, kind="service", role="ingest", region=None, binding=service, actor=actor
            )
            found[service] = issued.principal
    return found


def _runs(objects: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[bytes]]]:
    """Consecutive objects of one service, as NDJSON lines, in chunks; order is kept."""
    service, lines = "", list[bytes]()
    for obj in objects:
        sender = service_of(obj)
        if lines and (sender != service or len(lines) >= _CHUNK):
            yield service, lines
            lines = []
        service = sender
        lines.append(json.dumps(obj, separators=(",", ":")).encode())
    if lines:
        yield service, lines


def load_demo(
    deployment: Deployment,
    *,
    customers: int,
    days: int,
    seed: int,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    principals = service_principals(deployment, actor)
    policy = deployment.runtime.current.policy
    summary = DemoSummary()
    for service, lines in _runs(simulate(policy, customers, days, seed)):
        result = deployment.collector.ingest_lines(principals[service], lines)
        summary.accepted += len(result.accepted)
        summary.rejected += len(result.rejected)
        for rejection in result.rejected[: 3 - len(summary.first_rejections)]:
            summary.first_rejections.append(f"{rejection['error']}: {rejection['detail']}")
        if progress is not None:
            progress(len(lines))
    return summary
