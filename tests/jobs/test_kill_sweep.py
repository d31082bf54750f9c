"""``kill -9`` of a real ``servinfo worker`` in the middle of a retention sweep, on both backends.

The worker's own daily schedule enqueues the sweep of every region (the
records were collected long ago, so the real clock the worker runs on finds
them expired). Region ``eu`` holds thousands of expired records of several
kinds and both retention classes, swept a small batch at a time; beside them
records that must stay: under a hold on the subject, under a hold on its
organization, needed by the subject's open access request, live records (a
recent collection, an open account's profile) of subjects whose other records
expired. Region ``us`` has a few expired records and a live one.

The worker is killed in the middle of the sweep of ``eu``, at one of three
points observed in the region's database: once half its expired records are
deleted (the deletes by predicate), once some of the records a hold or the
request keeps are marked kept and not all (the record-by-record decisions), or
once some of the data keys left idle are destroyed and not all. A new worker
takes the job over when the dead one's lease runs out. Then the job finished
once in effect: every expired, unkept record is gone, each deleted by one of
the two attempts (the second deleted exactly what the first had left);
everything kept or live is there and readable through the read path; the data
keys nothing live is sealed under are destroyed (the second attempt destroyed
exactly those the first had left) and the others kept; the sweep's job is done
at its second attempt.

The audit entry of the killed attempt: none. ``run_sweep`` writes its entry
after the last batch, so an attempt killed mid-sweep wrote nothing, and the
log holds exactly one ``retention_sweep`` entry per region. Each batch added
its counts to the sweep's progress in the region database in the batch's own
transaction, so the entry of ``eu`` counts every record either attempt deleted
(per kind), every key either destroyed, and says two attempts contributed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.jobs.killing import kill_when, take_over
from tests.retention.world import RetentionWorld, build_world
from tests.support import PostgresDatabases
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.collect.outcome import Outcome
from servinfo.deployment import open_deployment
from servinfo.jobs.errors import LeaseLost
from servinfo.jobs.kinds import RETENTION_SWEEP, deployment_registry
from servinfo.jobs.queue import Job
from servinfo.jobs.registry import JobContext
from servinfo.store.models import DataKeyRow, RecordRow

#: Subjects in eu whose every record expired: both their data keys go.
EXPIRED_SUBJECTS = 600
#: Expired telemetry records of each of them (beside a charge; every tenth has more kinds).
EXPIRED_EACH = 10
#: Subjects in eu with expired records and live ones of both classes: their keys stay.
MIXED_SUBJECTS = 30
#: Records per sweep transaction: small, so that the sweep lasts a few seconds.
BATCH_SIZE = 3
#: Expired records of each subject that a hold or a request keeps.
KEPT_EACH = 120
#: Records past their end that the holds and the request keep (their telemetry and a charge).
KEPT = 4 * (KEPT_EACH + 1)

_OLD = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)  # and up to 600 days on: all past their end
_CHARGE_OLD = dt.datetime(2014, 6, 2, 9, 0, tzinfo=dt.UTC)  # past GDPR's 10 years
_CHARGE_LIVE = dt.datetime(2020, 6, 2, 9, 0, tzinfo=dt.UTC)
_CLOSED_AT = dt.datetime(2025, 1, 10, 8, 0, tzinfo=dt.UTC)  # + 30 / 90 days: past

_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "telemetry.status": ("platform", {"resource_id": "vm-1", "state": "healthy"}),
    "telemetry.auth_event": ("identity", {"event": "login_success"}),
    "telemetry.usage": (
        "platform",
        {"resource_id": "vm-1", "metric": "cpu_seconds", "quantity": 1.5},
    ),
    "payments.credit_check": ("platform", {"check_id": "CC-1", "decision": "approve"}),
    "payments.charge": ("platform", {"invoice_id": "INV-1", "amount": 12.5, "currency": "EUR"}),
    "account.profile": ("identity", {"username": "ada", "email": "ada@example.test"}),
    "settings.feature": ("platform", {"feature": "backups", "enabled": True}),
}


@dataclass
class Seeded:
    """What the sweep must delete and what it must leave, by region."""

    #: Record ids the sweep deletes (expired, nothing keeps them), per region.
    gone: dict[str, set[str]] = field(default_factory=dict)
    #: Record ids that stay, per subject (kept past their end, or live).
    stays: dict[str, set[str]] = field(default_factory=dict)
    #: (region, subject, retention class) of the keys the sweep destroys, and of those it keeps.
    keys_gone: set[tuple[str, str, str]] = field(default_factory=set)
    keys_kept: set[tuple[str, str, str]] = field(default_factory=set)
    #: Records per region before the sweep.
    before: dict[str, int] = field(default_factory=dict)
    #: The records of ``gone`` counted by kind, per region, as the audit entry names them.
    gone_kinds: dict[str, dict[str, int]] = field(default_factory=dict)

    def gone_by_kind(self, region: str) -> dict[str, int]:
        return {f"deleted.{kind}": n for kind, n in self.gone_kinds[region].items()}


class _Ingest:
    """Records and subjects into a world through the collector, as the services send them."""

    def __init__(self, world: RetentionWorld) -> None:
        self.world = world
        self.pending: list[tuple[str, dict[str, Any]]] = []

    def subject(self, subject: str, org: str, jurisdiction: str, **extra: Any) -> None:
        obj = {"type": "subject", "id": subject, "org": org, "jurisdiction": jurisdiction}
        self.pending.append(("identity", {**obj, **extra}))

    def record(self, subject: str, kind: str, collected_at: dt.datetime, n: int = 1) -> range:
        service, fields = _FIELDS[kind]
        start = len(self.pending)
        for i in range(n):
            at = collected_at + dt.timedelta(minutes=i)
            obj = {"type": "record", "subject": subject, "kind": kind, "fields": fields}
            self.pending.append((service, {**obj, "collected_at": at.isoformat()}))
        return range(start, start + n)

    def flush(self) -> list[str]:
        services = self.world.services
        outcomes = self.world.deployment.collector.ingest_many(
            [(services[service], obj, None) for service, obj in self.pending]
        )
        self.pending = []
        ids = []
        for outcome in outcomes:
            assert isinstance(outcome, Outcome), outcome
            ids.append(outcome.id)
        return ids


def _seed(world: RetentionWorld, today: dt.date) -> Seeded:
    seeded = Seeded(gone={"eu": set(), "us": set()})
    deployment = world.deployment
    directory = deployment.directory
    directory.add_organization("org-held", "Example Held", "eu")
    recent = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC)
    add = _Ingest(world)
    gone: list[tuple[str, range]] = []  # (region, positions) of records the sweep deletes
    stays: list[tuple[str, range]] = []  # (subject, positions) of records that stay
    for n in range(EXPIRED_SUBJECTS):
        # A day apart, so that the sweep (oldest end first) finishes subjects one after
        # another and destroys their keys as it goes, in the killed attempt too.
        subject, later = f"subj-x{n:04d}", dt.timedelta(days=n)
        add.subject(subject, "org-eu", "DE" if n % 2 else "FR")
        gone.append(("eu", add.record(subject, "telemetry.status", _OLD + later, EXPIRED_EACH)))
        gone.append(("eu", add.record(subject, "payments.charge", _CHARGE_OLD + later)))
        if n % 10 == 0:  # kinds with longer periods: this subject's key goes last
            gone.append(("eu", add.record(subject, "telemetry.auth_event", _OLD, 2)))
            gone.append(("eu", add.record(subject, "telemetry.usage", _OLD)))
            gone.append(("eu", add.record(subject, "payments.credit_check", _OLD)))
        seeded.keys_gone |= {("eu", subject, "standard"), ("eu", subject, "legal_obligation")}
    for n in range(MIXED_SUBJECTS):
        subject = f"subj-m{n:04d}"
        add.subject(subject, "org-eu", "DE")
        gone.append(("eu", add.record(subject, "telemetry.status", _OLD, 10)))
        gone.append(("eu", add.record(subject, "payments.charge", _CHARGE_OLD)))
        stays.append((subject, add.record(subject, "telemetry.status", recent)))
        stays.append((subject, add.record(subject, "account.profile", _OLD)))  # account open
        stays.append((subject, add.record(subject, "payments.charge", _CHARGE_LIVE)))
        seeded.keys_kept |= {("eu", subject, "standard"), ("eu", subject, "legal_obligation")}
    # Closed accounts: kinds counted from closure, decided record by record.
    for n in range(10):
        subject = f"subj-c{n:04d}"
        add.subject(subject, "org-eu", "DE", closed_at=_CLOSED_AT.isoformat())
        gone.append(("eu", add.record(subject, "account.profile", _OLD)))
        gone.append(("eu", add.record(subject, "settings.feature", _OLD, 2)))
        seeded.keys_gone.add(("eu", subject, "standard"))
    # Kept past their end: a hold on the subject, a hold on its organization, a request.
    for subject, org in (
        ("subj-held", "org-eu"),
        ("subj-org-held-1", "org-held"),
        ("subj-org-held-2", "org-held"),
        ("subj-asks", "org-eu"),
    ):
        add.subject(subject, org, "DE")
        stays.append((subject, add.record(subject, "telemetry.status", _OLD, KEPT_EACH)))
        stays.append((subject, add.record(subject, "payments.charge", _CHARGE_OLD)))
        seeded.keys_kept |= {("eu", subject, "standard"), ("eu", subject, "legal_obligation")}
    # The second region: a few expired records, and a subject with a live one.
    for n in range(5):
        subject = f"subj-u{n:04d}"
        add.subject(subject, "org-us", "US-CA")
        gone.append(("us", add.record(subject, "telemetry.status", _OLD, 8)))
        seeded.keys_gone.add(("us", subject, "standard"))
    add.subject("subj-u-live", "org-us", "US-CA")
    gone.append(("us", add.record("subj-u-live", "telemetry.status", _OLD, 8)))
    stays.append(("subj-u-live", add.record("subj-u-live", "telemetry.status", recent)))
    seeded.keys_kept.add(("us", "subj-u-live", "standard"))
    ids = add.flush()
    for region, positions in gone:
        seeded.gone[region].update(ids[p] for p in positions)
    for subject, positions in stays:
        seeded.stays.setdefault(subject, set()).update(ids[p] for p in positions)
    ledgers = deployment.ledgers
    ledgers.place_hold(subject_id="subj-held", reason="case 1", actor="admin")
    ledgers.place_hold(org_id="org-held", reason="case 2", actor="admin")
    deployment.rights.open("access", "subj-asks", channel="cli", actor="admin", verified=True)
    seeded.before = {r: _records(deployment.regions[r]) for r in ("eu", "us")}
    for region in ("eu", "us"):
        kinds = (
            select(RecordRow.kind, func.count())
            .where(RecordRow.id.in_(seeded.gone[region]))
            .group_by(RecordRow.kind)
        )
        with deployment.regions[region].connect() as connection:
            seeded.gone_kinds[region] = {k: int(n) for k, n in connection.execute(kinds)}
    return seeded


def _records(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(RecordRow)) or 0)


def _live_keys(engine: Engine) -> set[tuple[str, str]]:
    query = select(DataKeyRow.subject_id, DataKeyRow.retention_class).where(
        DataKeyRow.wrapped.is_not(None)
    )
    with engine.connect() as connection:
        return {(row.subject_id, row.retention_class) for row in connection.execute(query)}


def _sweep_jobs(data_dir: Path) -> dict[str, Job]:
    with open_deployment(data_dir, {}) as deployment:
        jobs = deployment.jobs.queue.list(kind=RETENTION_SWEEP)
    return {job.params["region"]: job for job in jobs}


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RetentionWorld]:
    template = None
    if request.param == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    with build_world(tmp_path, template) as built:
        yield built


def _live_key_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(select(func.count()).where(DataKeyRow.wrapped.is_not(None))) or 0
        )


def _kept_marks(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).where(RecordRow.legal_hold)) or 0)


@pytest.mark.parametrize("phase", ["deleting", "marking_kept", "destroying_keys"])
def test_a_worker_killed_mid_sweep_leaves_it_to_finish_once(
    world: RetentionWorld, phase: str
) -> None:
    """Killed once half the expired records of eu are deleted (``deleting``), while the
    records a hold or the request keeps are being marked (``marking_kept``), or once
    some of the keys left idle are destroyed and not all (``destroying_keys``)."""
    today = dt.datetime.now(dt.UTC).date()  # the worker sweeps on the real clock
    seeded = _seed(world, today)
    data_dir = world.data_dir
    config = data_dir / "servinfo.toml"
    config.write_text(config.read_text().replace("batch_size = 0", f"batch_size = {BATCH_SIZE}", 1))
    eu = world.deployment.regions["eu"]
    keys_before = len(_live_keys(eu))
    keys_after = keys_before - len({k for k in seeded.keys_gone if k[0] == "eu"})

    def mid_sweep() -> bool:
        """Whether the sweep of eu is at the phase of the kill; raises if it went past it."""
        if phase == "deleting":
            return _records(eu) <= seeded.before["eu"] - len(seeded.gone["eu"]) // 2
        if phase == "marking_kept":
            marks = _kept_marks(eu)
            assert marks < KEPT, "every kept record was marked before the kill"
            return marks > 0
        keys = _live_key_count(eu)
        assert keys > keys_after, "every idle key was destroyed before the kill"
        return keys < keys_before

    # (1) a worker enqueues the day's sweeps from its schedules and runs them;
    # kill -9 in the middle of the sweep of eu
    kill_when(data_dir, mid_sweep, every=0.005, within=120)
    at_kill, keys_at_kill = _records(eu), len(_live_keys(eu))
    assert mid_sweep(), "the sweep went on after the kill"
    killed = _sweep_jobs(data_dir)["eu"]
    assert (killed.state, killed.attempts) == ("running", 1)
    # (2) a new worker takes the job over once the dead one's lease has run out
    out = take_over(data_dir, killed)
    assert " 0 failed" in out, out
    # (3) once in effect: the expired and unkept records gone, the others there
    with open_deployment(data_dir, {}) as deployment:
        jobs = _sweep_jobs(data_dir)
        assert set(jobs) == set(deployment.regions)
        assert {r: (j.state, j.attempts) for r, j in jobs.items() if r != "eu"} == {
            r: ("done", 1) for r in deployment.regions if r != "eu"
        }
        finished = jobs["eu"]
        assert (finished.state, finished.attempts) == ("done", 2)
        assert finished.result is not None
        # What both attempts deleted, the first's as counted in its batches' own
        # transactions: the second deleted exactly what the first had left, none twice.
        assert seeded.before["eu"] - at_kill > 0
        assert finished.result["deleted"] == len(seeded.gone["eu"])
        assert finished.result["kept"] == KEPT
        assert finished.result["keys_destroyed"] == keys_before - len(_live_keys(eu))
        assert keys_at_kill >= len(_live_keys(eu))
        for region in ("eu", "us"):
            engine = deployment.regions[region]
            with engine.connect() as connection:
                left_over = connection.scalars(
                    select(RecordRow.id).where(RecordRow.id.in_(seeded.gone[region]))
                ).all()
            assert left_over == [], f"{len(left_over)} expired records left in {region}"
            assert _records(engine) == seeded.before[region] - len(seeded.gone[region])
            live_keys = _live_keys(engine)
            assert {(r, s, c) for r, s, c in seeded.keys_kept if r == region} <= {
                (region, s, c) for s, c in live_keys
            }
            assert not {(region, s, c) for s, c in live_keys} & seeded.keys_gone
        reads = RetentionWorld(
            deployment, world.services, world.reader, data_dir, world.tokens
        ).reads(today)
        for subject, record_ids in seeded.stays.items():
            result = reads.read_subject(world.reader, "legal", subject)
            assert {r.record_id for r in result.records} == record_ids, subject
        # (4) the audit log: one sweep entry per region, and intact
        entries = deployment.audit.entries(0, deployment.audit.size())
        sweeps = [dict(e.details) for e in entries if e.action == "retention_sweep"]
        assert sorted(str(s["region"]) for s in sweeps) == sorted(deployment.regions)
        (eu_entry,) = [s for s in sweeps if s["region"] == "eu"]
        # Every record deleted by either attempt, per kind; the keys both destroyed.
        assert eu_entry["deleted"] == len(seeded.gone["eu"])
        by_kind = {k: v for k, v in eu_entry.items() if k.startswith("deleted.")}
        assert sum(int(str(n)) for n in by_kind.values()) == len(seeded.gone["eu"])
        assert by_kind == seeded.gone_by_kind("eu")
        assert eu_entry["keys_destroyed"] == keys_before - len(_live_keys(eu))
        assert (eu_entry["sweep"], eu_entry["attempts"]) == (finished.id, 2)
        assert eu_entry["kept"] == finished.result["kept"]
        (us_entry,) = [s for s in sweeps if s["region"] == "us"]
        assert us_entry["deleted"] == len(seeded.gone["us"])
    verified = CliRunner().invoke(
        app,
        ["audit", "verify"],
        env={"SERVINFO_DATA_DIR": str(data_dir), "SERVINFO_TOKEN": world.tokens["officer"]},
    )
    assert verified.exit_code == 0, verified.output


def test_a_sweep_whose_lease_was_lost_stops_between_batches(tmp_path: Path) -> None:
    """A worker that stalled past its lease while sweeping (another worker has taken the
    job over) stops at the next batch instead of sweeping the region alongside it."""
    with build_world(tmp_path) as world:
        add = _Ingest(world)
        for n in range(10):
            add.subject(f"subj-x{n:04d}", "org-eu", "DE")
            add.record(f"subj-x{n:04d}", "telemetry.status", _OLD, 10)
        add.flush()
        eu = world.deployment.regions["eu"]
        before = _records(eu)
    env = {"SERVINFO_RETENTION_BATCH_SIZE": str(BATCH_SIZE)}
    with open_deployment(world.data_dir, env) as deployment:
        queue = deployment.jobs.queue
        queue.enqueue(RETENTION_SWEEP, {"region": "eu"}, dedupe_key="sweep-eu")
        claim = queue.claim("stalled-worker", kinds=[RETENTION_SWEEP])
        assert claim is not None
        context = JobContext(claim.job, deployment, lambda: dt.datetime.now(dt.UTC))
        context.lease_lost.set()  # what the heartbeat does when the lease is gone
        with pytest.raises(LeaseLost):
            deployment_registry(deployment).get(RETENTION_SWEEP).handler(context)
        assert _records(deployment.regions["eu"]) >= before - BATCH_SIZE
        entries = deployment.audit.entries(0, deployment.audit.size())
        assert not [e for e in entries if e.action == "retention_sweep"]
