"""What the cloud platform reports: settings, metering, performance, status, crashes and bugs."""

from __future__ import annotations

import datetime as dt
import random

from servinfo.collect.simulator._context import Day
from servinfo.collect.simulator._text import free_text
from servinfo.collect.simulator.world import RESOURCE_TYPES, Org, Resource

#: What is metered per resource type: (metric, unit, typical daily quantity).
USAGE: dict[str, tuple[tuple[str, str, float], ...]] = {
    "virtual_machine": (("vcpu_hours", "h", 48), ("egress", "GB", 12), ("disk_io", "GB", 30)),
    "bucket": (("storage", "GB-day", 800), ("requests", "1k", 120), ("egress", "GB", 25)),
    "database": (("vcpu_hours", "h", 96), ("storage", "GB-day", 250), ("backup", "GB-day", 90)),
    "kubernetes_cluster": (("node_hours", "h", 72), ("egress", "GB", 40)),
    "function": (("invocations", "1k", 350), ("compute", "GB-s", 5_000)),
    "load_balancer": (("lb_hours", "h", 24), ("processed", "GB", 60)),
}
#: Quality measures: (metric, unit, typical value).
PERFORMANCE: tuple[tuple[str, str, float], ...] = (
    ("latency_p95", "ms", 85),
    ("error_rate", "%", 0.4),
    ("cpu_utilization", "%", 45),
    ("availability", "%", 99.95),
)
FEATURES: tuple[str, ...] = (
    "auto_backup", "cost_alerts", "audit_log_export", "private_networking", "gpu_instances",
    "beta_console", "deletion_protection",
)  # fmt: skip
COMPONENTS: tuple[str, ...] = (
    "compute-agent", "console-web", "object-storage-gateway", "k8s-node-agent",
    "metering-exporter", "dns-resolver",
)  # fmt: skip
STATUS_MESSAGES: dict[str, tuple[str, ...]] = {
    "degraded": ("Elevated latency on the storage backend.", "Packet loss on the host uplink."),
    "down": ("Host unreachable; instance is being migrated.", "Health checks failing."),
    "maintenance": ("Scheduled maintenance: kernel security update.",),
    "healthy": ("Recovered.", "All health checks passing."),
}


def simulate(day: Day, rng: random.Random, org: Org) -> None:
    if day.index == 0:
        _inventory(day, rng, org)
    _changes(day, rng, org)
    for resource in day.resources(org):
        _meter(day, rng, resource)
    if day.chance(rng, 0.15):
        crash(day, rng, org, "platform")
    if day.chance(rng, 0.06):
        _bug(day, rng, org)


def _owner_time(day: Day, rng: random.Random, resource: Resource) -> dt.datetime:
    owner = day.run.person(resource.owner_id)
    start = day.since(owner)
    if resource.created is not None and resource.created > start:
        start = resource.created
    return day.anytime(rng, start)


def resource_fields(resource: Resource) -> dict[str, object]:
    return {
        "resource_id": resource.id,
        "resource_type": resource.type,
        "name": resource.name,
        "public_endpoint": resource.public,
    }


def security_fields(day: Day, org: Org) -> dict[str, object]:
    security = day.run.world.security[org.id]
    return {
        "mfa_enabled": security.mfa_enabled,
        "sso_enabled": security.sso_enabled,
        "key_rotation_days": security.key_rotation_days,
        "public_endpoints": sum(r.public for r in day.resources(org)),
    }


def _inventory(day: Day, rng: random.Random, org: Org) -> None:
    """The first day begins with the platform's inventory of resources and settings."""
    at = day.start + dt.timedelta(minutes=40 + rng.randrange(20))
    admin = day.run.world.members(org.id)[0]
    day.timeline.record(rng, admin.id, "settings.security", at, security_fields(day, org))
    for feature in rng.sample(FEATURES, 2):
        fields = {"feature": feature, "enabled": rng.random() < 0.7, "plan": org.plan}
        day.timeline.record(rng, admin.id, "settings.feature", at, fields)
    for resource in day.resources(org):
        if resource.created is None:
            at += dt.timedelta(seconds=rng.randrange(1, 5))
            day.timeline.record(
                rng, resource.owner_id, "settings.resource", at, resource_fields(resource)
            )


def _changes(day: Day, rng: random.Random, org: Org) -> None:
    world = day.run.world
    members = day.members(org)
    if not members:
        return
    admin = members[0]
    timeline = day.timeline
    if day.chance(rng, 0.2):  # a new resource
        owner = rng.choice(members)
        kind = rng.choice(list(RESOURCE_TYPES))
        prefix, names, _weight = RESOURCE_TYPES[kind]
        at = day.local(rng, owner)
        resource = Resource(
            world.unique_id(rng, prefix, 32), org.id, owner.id, kind, rng.choice(names),
            kind != "database" and rng.random() < 0.35, created=at,
        )  # fmt: skip
        world.resources.append(resource)
        timeline.record(rng, owner.id, "settings.resource", at, resource_fields(resource))
    existing = day.resources(org)
    if existing and day.chance(rng, 0.08):  # an endpoint opened or closed
        resource = rng.choice(existing)
        resource.public = not resource.public
        at = _owner_time(day, rng, resource)
        timeline.record(rng, resource.owner_id, "settings.resource", at, resource_fields(resource))
        timeline.record(rng, admin.id, "settings.security", at, security_fields(day, org))
    if day.chance(rng, 0.1):
        fields = {"feature": rng.choice(FEATURES), "enabled": rng.random() < 0.6, "plan": org.plan}
        timeline.record(rng, admin.id, "settings.feature", day.local(rng, admin), fields)
    if day.chance(rng, 0.04):  # MFA switched, or the key rotation period changed
        security = world.security[org.id]
        if rng.random() < 0.5:
            security.mfa_enabled = not security.mfa_enabled
        else:
            security.key_rotation_days = rng.choice((30, 60, 90, 180, 365))
        timeline.record(
            rng, admin.id, "settings.security", day.local(rng, admin), security_fields(day, org)
        )


def _meter(day: Day, rng: random.Random, resource: Resource) -> None:
    timeline = day.timeline
    for _ in range(day.count(rng, 2.0)):  # metering intervals closed today
        metric, unit, typical = rng.choice(USAGE[resource.type])
        quantity = round(typical * rng.lognormvariate(0, 0.5), 3)
        fields = {"resource_id": resource.id, "metric": metric, "quantity": quantity, "unit": unit}
        timeline.record(
            rng, resource.owner_id, "telemetry.usage", _owner_time(day, rng, resource), fields
        )
    for _ in range(day.count(rng, 2.5)):
        metric, unit, typical = rng.choice(PERFORMANCE)
        if unit == "%" and typical > 90:
            value = round(min(100.0, typical + rng.uniform(-0.3, 0.05)), 3)
        else:
            value = round(typical * rng.lognormvariate(0, 0.4), 3)
        if unit == "%":
            value = min(100.0, value)
        fields = {"resource_id": resource.id, "metric": metric, "value": value, "unit": unit}
        timeline.record(
            rng, resource.owner_id, "telemetry.performance", _owner_time(day, rng, resource), fields
        )
    if day.chance(rng, 0.05):
        _incident(day, rng, resource)


def _incident(day: Day, rng: random.Random, resource: Resource) -> None:
    """A resource degrades, goes down or enters maintenance, then recovers."""
    shaper = day.run.shaper
    kind = "telemetry.status"
    wanted = rng.choice(("degraded", "degraded", "down", "maintenance"))
    at = _owner_time(day, rng, resource)
    for state in (wanted, "healthy"):
        value = shaper.enum(rng, kind, "state", state)
        message = rng.choice(STATUS_MESSAGES.get(value or "", ("State changed.",)))
        fields = {"resource_id": resource.id, "state": value, "message": message}
        day.timeline.record(rng, resource.owner_id, kind, at, fields)
        at += dt.timedelta(minutes=rng.randrange(10, 120))


def crash(day: Day, rng: random.Random, org: Org, source: str) -> None:
    """A crash report; its stack trace and log lines may carry e-mail addresses or tokens."""
    members = day.members(org)
    if not members:
        return
    person = rng.choice(members)
    component = rng.choice(COMPONENTS)
    kind = "telemetry.crash_report"
    fields = {
        "component": component,
        "version": f"{rng.randrange(1, 5)}.{rng.randrange(30)}.{rng.randrange(10)}",
        "signature": f"{component}!{rng.getrandbits(32):08x}",
        "stack_trace": free_text(rng, kind, "stack_trace"),
        "log_excerpt": free_text(rng, kind, "log_excerpt"),
    }
    day.timeline.record(rng, person.id, kind, day.local(rng, person, 0, 24), fields, source)


def _bug(day: Day, rng: random.Random, org: Org) -> None:
    members = day.members(org)
    if not members:
        return
    person = rng.choice(members)
    kind = "telemetry.bug_report"
    details = free_text(rng, kind, "details")
    fields = {
        "component": rng.choice(COMPONENTS),
        "version": f"{rng.randrange(1, 5)}.{rng.randrange(30)}.{rng.randrange(10)}",
        "summary": details.splitlines()[0][:200] if details else "Unexpected behaviour",
        "details": details,
    }
    source = rng.choice(("platform", "support"))
    day.timeline.record(rng, person.id, kind, day.local(rng, person), fields, source)
