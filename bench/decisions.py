"""Access decisions per second: servinfo, pycasbin and cedarpy on the same rules, in one run.

Run: ``.venv/bin/python bench/decisions.py [--subjects 10000 --decisions 200000]``
(``--only decisions`` or ``--only read-path`` runs one half; ``--in-flight`` sets how
many reads one worker serves at once in the read path, 64 by default).

Staff of the default policy read subjects' data (10 % of subjects restricted);
the peers get the same rules, derived here from the policy model: pycasbin as an
ABAC model (``FastEnforcer``), cedarpy as one permit and one forbid over entities
parsed once (``is_authorized_batch``). The engines must first agree on a sample;
then repeated decisions (servinfo answers from its cache; the peers have none,
which is the point), first-time decisions (distinct requests, servinfo's cache
empty) and the read path (:func:`bench_read_path`) are timed. Peers run the first
``--peer-decisions`` requests: rates are compared, not counts. docs/benchmarks.md
("Decisions") describes the models and records the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import itertools
import json
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _machine import machine
from _peers import require_peers
from servinfo.access.decisions import Actor, Decider, SubjectState, compile_policy
from servinfo.audit.buffer import Held
from servinfo.policy import Policy, load_policy

STAFF = ("employee", "contractor", "agent")
RESTRICTION_ALLOWS = frozenset({"legal"})
REPEATED_TARGET = 1_000_000
FIRST_TIME_TARGET = 100_000
CEDAR_BATCH = 1_000

CASBIN_MODEL = """\
[request_definition]
r = role, purpose, category, region, kind, placement, restricted
[policy_definition]
p = role, purpose, category, region, kind
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.role == p.role && r.purpose == p.purpose && r.category == p.category \
&& r.region == p.region && r.kind == p.kind && g(r.placement, r.region) \
&& (r.restricted == "no" || r.purpose == "legal")
"""

CEDAR_POLICIES = """\
permit (principal, action == Action::"read", resource)
when {
  principal.role.grants.contains({
    "purpose": context.purpose,
    "category": context.category,
    "region": resource.region,
    "kind": principal.kind
  }) &&
  principal.placement.reach.contains(resource.region)
};
forbid (principal, action, resource)
when { resource.restricted && context.purpose != "legal" };
"""


#: (actor index, subject index, purpose, category)
Request = tuple[int, int, str, str]


@dataclass(frozen=True)
class Workload:
    """Principals, subjects and the requests over them, as each engine takes them."""

    actors: list[Actor]
    states: list[SubjectState]
    regions: list[str]  # home region of each subject
    requests: list[Request]


def _transfer_valid(policy: Policy, today: dt.date, entity: str, where: str, region: str) -> bool:
    """Whether staff of ``entity`` working in ``where`` may reach data in ``region``."""
    if policy.regions[region].entity == entity:
        return True
    importer = policy.legal_entities[entity]
    destination: str | None = where
    if where == region:
        try:
            destination = policy.transfer_destination(region, importer.country)
        except KeyError:
            return False
        if destination is None:
            return True
    for mechanism_id in policy.transfers[region].get(destination or "", []):
        mechanism = policy.mechanisms[mechanism_id]
        if mechanism.expires is not None and mechanism.expires < today:
            continue
        if mechanism.type != "dpf" or importer.dpf_certified:
            return True
    return False


def _grants(policy: Policy) -> dict[str, list[tuple[str, str, str, str]]]:
    """Per role, every allowed (purpose, category, region, kind)."""
    return {
        role_id: [
            (purpose, category, region, kind)
            for purpose in role.purposes
            for category in role.categories
            if category in policy.purposes[purpose].categories
            for region in role.regions
            for kind in role.principal_kinds
        ]
        for role_id, role in policy.roles.items()
    }


def _placements(policy: Policy) -> list[tuple[str, str]]:
    return list(itertools.product(policy.legal_entities, policy.regions))


def _reach(policy: Policy, today: dt.date, entity: str, where: str) -> list[str]:
    return [r for r in policy.regions if _transfer_valid(policy, today, entity, where, r)]


def build_workload(policy: Policy, subjects: int, requests: int, seed: int) -> Workload:
    rng = random.Random(seed)
    staff_roles = [
        (role_id, kind)
        for role_id, role in policy.roles.items()
        for kind in role.principal_kinds
        if kind in STAFF and role.purposes
    ]
    placements = [rng.choice(_placements(policy)) for _ in range(200)]
    actors = [
        Actor(principal_id=f"p{i}", kind=kind, role=role, entity=entity, region=where)
        for i, ((role, kind), (entity, where)) in enumerate(
            zip(itertools.cycle(staff_roles), placements)
        )
    ]
    regions = [rng.choice(sorted(policy.regions)) for _ in range(subjects)]
    restricted = [rng.random() < 0.10 for _ in range(subjects)]
    states = [
        SubjectState(
            subject_id=f"s{i}",
            regime=rng.choice(sorted(policy.regimes)),
            restricted=flag,
            restriction_allows=RESTRICTION_ALLOWS if flag else frozenset(),
        )
        for i, flag in enumerate(restricted)
    ]
    purposes, categories = sorted(policy.purposes), sorted(policy.categories)
    seen: set[Request] = set()
    ordered: list[Request] = []
    while len(ordered) < requests:
        who = rng.randrange(len(actors))
        own = policy.roles[actors[who].role].purposes
        purpose = rng.choice(own) if rng.random() < 0.7 else rng.choice(purposes)
        request = (who, rng.randrange(subjects), purpose, rng.choice(categories))
        if request not in seen:
            seen.add(request)
            ordered.append(request)
    return Workload(actors, states, regions, ordered)


#: Decides prepared requests; an engine prepares them (untimed) in its own form.
Runner = Callable[[], list[bool]]
Engine = Callable[[Sequence[Request]], Runner]
Reset = Callable[[], None]


def servinfo_engine(decider: Decider, work: Workload) -> Engine:
    actors, states, regions = work.actors, work.states, work.regions

    def prepare(requests: Sequence[Request]) -> Runner:
        calls = [(actors[a], p, c, regions[s], states[s]) for a, s, p, c in requests]
        run = decider.decide
        return lambda: [run(a, p, c, r, s).allowed for a, p, c, r, s in calls]

    return prepare


def casbin_engine(policy: Policy, today: dt.date, work: Workload, folder: Path) -> Engine:
    import casbin  # type: ignore[import-untyped]  # a peer: only the decisions half needs it

    lines = [
        f"p, {role}, {purpose}, {category}, {region}, {kind}"
        for role, grants in _grants(policy).items()
        for purpose, category, region, kind in grants
    ]
    lines += [
        f"g, {entity}@{where}, {region}"
        for entity, where in _placements(policy)
        for region in _reach(policy, today, entity, where)
    ]
    (folder / "model.conf").write_text(CASBIN_MODEL)
    (folder / "policy.csv").write_text("\n".join(lines) + "\n")
    enforcer = casbin.FastEnforcer(
        str(folder / "model.conf"), str(folder / "policy.csv"), cache_key_order=[0, 1, 2, 3]
    )
    subjects = [(a.role, a.kind, f"{a.entity}@{a.region}") for a in work.actors]
    flags = ["yes" if s.restricted else "no" for s in work.states]
    regions = work.regions
    enforce = enforcer.enforce

    def prepare(requests: Sequence[Request]) -> Runner:
        calls = [
            (subjects[a][0], p, c, regions[s], subjects[a][1], subjects[a][2], flags[s])
            for a, s, p, c in requests
        ]
        return lambda: [enforce(*call) for call in calls]

    return prepare


def _entity(type_: str, uid: str, **attrs: Any) -> dict[str, Any]:
    return {"uid": {"type": type_, "id": uid}, "attrs": attrs, "parents": []}


def cedar_engine(policy: Policy, today: dt.date, work: Workload) -> Engine:
    import cedarpy

    keys = ("purpose", "category", "region", "kind")
    entities = [
        _entity("Role", role, grants=[dict(zip(keys, grant, strict=True)) for grant in grants])
        for role, grants in _grants(policy).items()
    ]
    entities += [
        _entity("Placement", f"{entity}@{where}", reach=_reach(policy, today, entity, where))
        for entity, where in _placements(policy)
    ]
    entities += [
        _entity(
            "Staff",
            a.principal_id,
            kind=a.kind,
            role={"__entity": {"type": "Role", "id": a.role}},
            placement={"__entity": {"type": "Placement", "id": f"{a.entity}@{a.region}"}},
        )
        for a in work.actors
    ]
    entities += [
        _entity("Subject", s.subject_id, region=region, restricted=s.restricted)
        for s, region in zip(work.states, work.regions, strict=True)
    ]
    handle = cedarpy.Entities.from_json_str(json.dumps(entities))
    policies = cedarpy.PolicySet.from_str(CEDAR_POLICIES)
    principals = [f'Staff::"{a.principal_id}"' for a in work.actors]
    resources = [f'Subject::"{s.subject_id}"' for s in work.states]

    def prepare(requests: Sequence[Request]) -> Runner:
        calls = [
            {
                "principal": principals[a],
                "action": 'Action::"read"',
                "resource": resources[s],
                "context": {"purpose": purpose, "category": category},
            }
            for a, s, purpose, category in requests
        ]
        batches = [calls[i : i + CEDAR_BATCH] for i in range(0, len(calls), CEDAR_BATCH)]

        def run() -> list[bool]:
            return [
                result.allowed
                for batch in batches
                for result in cedarpy.is_authorized_batch(batch, policies, handle)
            ]

        return run

    return prepare


def measure(engine: Engine, requests: Sequence[Request], repeat: int, before: Reset) -> float:
    """Decisions per CPU second, best of ``repeat``: CPU time ignores other jobs on a shared
    machine, and every engine (cedarpy's Rust too) runs in this process, on this thread."""
    best = float("inf")
    run = engine(requests)
    for _ in range(repeat):
        before()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return len(requests) / best


#: Read requests in flight at once on one server worker in the full pass: each is
#: decided, fetched and decrypted on a thread of the worker's pool, then awaits its
#: audit commit on the event loop, as the read routes do.
IN_FLIGHT = 64


@dataclass(frozen=True)
class Pass:
    """One timed pass over the records: reads per wall and per CPU second."""

    wall: float
    cpu: float
    #: CPU microseconds per read of the threads that read; the rest of the process's
    #: CPU time is the audit flusher's (and the interpreter's other threads').
    reader_us: float
    flusher_us: float


def _timed(count: int, run: Callable[[], None]) -> Pass:
    """Time ``run`` doing ``count`` reads: rates per wall and CPU second; ``reader_us`` is
    this thread's CPU a read, ``flusher_us`` the rest of the process's (the audit flusher)."""
    start, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
    run()
    wall, cpu, thread = (
        time.perf_counter() - start,
        time.process_time() - cpu,
        time.thread_time() - thread,
    )
    return Pass(count / wall, count / cpu, 1e6 * thread / count, 1e6 * (cpu - thread) / count)


def _plain_pass(items: Sequence[str], read: Callable[[str], object]) -> Pass:
    """``read`` each item once, in a plain loop on this thread."""

    def run() -> None:
        for item in items:
            read(item)

    return _timed(len(items), run)


def _answered_pass(
    items: Sequence[str], in_flight: int, held_of: Callable[[str], Held[Any]]
) -> Pass:
    """Each item read as the read routes answer it, on this thread: ``held_of(item)``
    decides, fetches and decrypts, and its answer is released once its audit entries are
    committed (:meth:`Held.wait`). Up to ``in_flight`` answers wait for their commit
    while the thread reads on, as a worker's requests await theirs on its event loop
    without holding a thread; the pass ends when the last answer is released."""

    def run() -> None:
        waiting: deque[Held[Any]] = deque()
        for item in items:
            waiting.append(held_of(item))
            if len(waiting) >= in_flight:
                waiting.popleft().wait()
        while waiting:
            waiting.popleft().wait()

    return _timed(len(items), run)


def _median(passes: Sequence[Pass]) -> Pass:
    """The pass with the median wall-clock rate (the figure the target is about)."""
    return sorted(passes, key=lambda p: p.wall)[len(passes) // 2]


def bench_read_path(decisions: int, repeat: int = 3, in_flight: int = IN_FLIGHT) -> float:
    """Full single-record reads (decide + fetch + decrypt + audit) against bare decryption.

    A fresh SQLite deployment holds ``reads`` records of 1,000 subjects; an SRE
    reads each once by id for ``provide``, through ``ReadService.read_record_held``
    (the one read path: fetch the sealed record, decide, decrypt, narrow, audit
    through the group-committed buffer), each answered only once its entries are
    committed: ``in_flight`` reads at once, as a server worker serves the read
    route (the interpreter's switch interval set as a worker sets it). The
    baseline, the strongest there is, fetches and decrypts the same records with
    the store's reader alone, in a plain loop on one thread (no decision, no
    audit, no event loop). Each is timed ``repeat`` times and the median pass
    reported; before each full pass the subject-state and decision caches are
    emptied, so every pass pays the same state misses (one per subject: 1 read in 20).
    """
    from servinfo.api.app import WORKER_SWITCH_INTERVAL
    from servinfo.deployment import create_deployment, open_deployment
    from servinfo.store import NewRecord
    from servinfo.store.reading import RecordReader

    reads = min(decisions, 20_000)
    switch_interval = sys.getswitchinterval()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "deployment"
        create_deployment(data_dir, {})
        deployment = open_deployment(data_dir, {})
        try:
            deployment.directory.add_organization("org-bench", "Bench Org", "eu")
            for i in range(1_000):
                deployment.directory.register_subject(f"sub-{i:04d}", "org-bench", "DE")
            collected = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
            ids = deployment.writer.put_many(
                NewRecord(
                    subject_id=f"sub-{i % 1_000:04d}",
                    category="telemetry",
                    kind="telemetry.auth_event",
                    source="identity",
                    collected_at=collected,
                    fields={"event": "login_success", "ip_address": "203.0.113.9"},
                    retention_class="standard",
                    retain_until=dt.date(2027, 11, 1),
                )
                for i in range(reads)
            )
            principal = deployment.principal_service.add(
                "bench-sre", kind="employee", role="sre", region="eu", actor="bench"
            ).principal

            reader = RecordReader(deployment.directory, deployment.regions, deployment.keyring)
            service, buffer, audit = deployment.reads, deployment.audit_buffer, deployment.audit

            def bare(record_id: str) -> None:
                reader.open(reader.fetch(record_id))

            def full(record_id: str) -> Held[Any]:
                return service.read_record_held(principal, "provide", record_id)

            sys.setswitchinterval(WORKER_SWITCH_INTERVAL)
            baselines, fulls = [], []
            entries, appends = audit.size(), buffer.appends
            for _ in range(repeat):
                baselines.append(_plain_pass(ids, bare))
                deployment.subject_states.clear()
                deployment.runtime.decider.cache.clear()
                fulls.append(_answered_pass(ids, in_flight, full))
                buffer.flush()  # nothing is left when every read waited; the check is cheap
            entries, appends = audit.size() - entries, buffer.appends - appends
        finally:
            sys.setswitchinterval(switch_interval)
            deployment.close()
    baseline, median = _median(baselines), _median(fulls)
    print(
        f"read path, {in_flight} reads in flight: "
        f"{median.wall:,.0f} full reads/s (decide+fetch+decrypt+audit, each answered after its "
        f"commit) vs {baseline.wall:,.0f} bare fetch+decrypt/s on one thread "
        f"(ratio {median.wall / baseline.wall:.2f}); "
        f"per CPU second {median.cpu:,.0f} vs {baseline.cpu:,.0f}; target 5,000/s: "
        f"{'PASS' if median.wall >= 5_000 else 'MISS'}"
    )
    print(
        f"  median of {repeat} passes of {len(ids):,} reads; CPU per read: reading thread "
        f"{median.reader_us:.0f} µs (bare {baseline.reader_us:.0f} µs), audit flusher "
        f"{median.flusher_us:.0f} µs; {entries / max(appends, 1):,.1f} entries per append "
        f"({appends:,} appends); all passes: {', '.join(f'{p.wall:,.0f}' for p in fulls)} "
        "full reads/s"
    )
    return median.wall


def nothing() -> None:
    """No reset between timed runs."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    for flag, default in (
        ("--subjects", 10_000),
        ("--decisions", 200_000),
        ("--peer-decisions", 20_000),
        ("--distinct-repeated", 10_000),  # repeated decisions cycle over this many
        ("--sample", 5_000),  # requests the three engines must agree on
        ("--repeat", 3),
        ("--seed", 4),
    ):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=IN_FLIGHT,
        help="read requests one worker serves at once in the read path",
    )
    parser.add_argument(
        "--only",
        choices=("decisions", "read-path"),
        help="run only the decision engines, or only the read path (bench_read_path)",
    )
    args = parser.parse_args(argv)

    today = dt.date.today()
    if args.only == "read-path":  # the peers need not be installed
        print(f"machine: {machine()}")
        bench_read_path(args.decisions, args.repeat, args.in_flight)
        return 0
    require_peers(parser, "casbin", "cedarpy")
    versions = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in ("pycasbin", "cedarpy"))
    print(f"machine: {machine(versions)}")
    policy = load_policy(today=today)
    work = build_workload(policy, args.subjects, args.decisions, args.seed)
    compiled = compile_policy(policy, today)
    restricted = sum(s.restricted for s in work.states) / len(work.states)
    print(
        f"workload: {len(work.actors)} principals, {args.subjects} subjects, {restricted:.0%}",
        end=" ",
    )
    print(f"restricted; {args.decisions} decisions, peers on {args.peer_decisions}")

    with tempfile.TemporaryDirectory() as folder:
        engines = {
            "servinfo": servinfo_engine(Decider(compiled), work),
            "casbin": casbin_engine(policy, today, work, Path(folder)),
            "cedar": cedar_engine(policy, today, work),
        }
        sample = work.requests[: args.sample]
        answers = [engine(sample)() for engine in engines.values()]
        mismatches = sum(1 for row in zip(*answers, strict=True) if len(set(row)) > 1)
        print(f"agreement: {len(sample)} requests, {sum(answers[0])} allowed, {mismatches} differ")
        if mismatches:
            return 1

        distinct = work.requests[: args.distinct_repeated]
        repeated = (distinct * (args.decisions // len(distinct) + 1))[: args.decisions]
        warm, cold = Decider(compiled), Decider(compiled)
        servinfo_engine(warm, work)(distinct)()
        runs = {
            "repeated": (servinfo_engine(warm, work), repeated, nothing),
            "first-time": (servinfo_engine(cold, work), work.requests, cold.cache.clear),
        }
        rates: dict[str, dict[str, float]] = {}
        for name, (engine, requests, reset) in runs.items():
            peers = requests[: args.peer_decisions]
            rates[name] = {
                "servinfo": measure(engine, requests, args.repeat, reset),
                "casbin": measure(engines["casbin"], peers, args.repeat, nothing),
                "cedar": measure(engines["cedar"], peers, args.repeat, nothing),
            }
    if args.only is None:
        bench_read_path(args.decisions, args.repeat, args.in_flight)

    targets = {"repeated": REPEATED_TARGET, "first-time": FIRST_TIME_TARGET}
    print()
    print(
        "| decisions | servinfo /s | pycasbin /s | cedarpy /s | ÷ pycasbin | ÷ cedarpy | target |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, row in rates.items():
        ours, peer_casbin, peer_cedar = (row[e] for e in ("servinfo", "casbin", "cedar"))
        met = ours >= targets[name] and ours > max(peer_casbin, peer_cedar)
        verdict = "PASS" if met else "MISS"
        print(
            f"| {name} | {ours:,.0f} | {peer_casbin:,.0f} | {peer_cedar:,.0f} "
            f"| {ours / peer_casbin:,.1f}× | {ours / peer_cedar:,.1f}× "
            f"| ≥ {targets[name]:,}/s: {verdict} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
