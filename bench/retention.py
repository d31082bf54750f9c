"""Retention benchmark: the sweep against a plain DELETE, and ingest while a sweep runs.

For each backend (SQLite, PostgreSQL) a fresh deployment is created (databases
created and dropped by the run), ``--subjects`` subjects registered in bulk
(GDPR, home region eu) and the region filled through
:meth:`RecordWriter.put_many` with ``--records`` records, ``--expired`` of them
past their retention (``telemetry.status``, 90 days, collected in January 2025)
among live ones (``telemetry.usage`` collected in June 2026, kept until
2036), in random order, as a store accumulates them: on PostgreSQL the
expired records are then a month partition of their own, as a store's old
records are (with ``--expired`` equal to ``--records``: a month of telemetry
alone). Populating is timed and
printed, not judged. The region database is then copied twice (SQLite: the
file, after a checkpoint; PostgreSQL: ``CREATE DATABASE … TEMPLATE``), so
every measurement starts from the same store:

* **plain DELETE** (copy 1) — ``DELETE FROM records WHERE retain_until < today
  AND NOT legal_hold`` in one statement and one transaction: the baseline,
  which deletes the same records and nothing else (no blind indexes, no data
  keys, no holds or open requests looked at, no storage purge, writers blocked
  throughout on SQLite);
* **sweep** (the original) — :func:`servinfo.retention.sweep.sweep_region`
  with the deployment's batch size (or ``--batch-size``): the same records
  deleted in batches, decided against the policy, their blind indexes with
  them, then a pass over the live data keys destroying the idle ones, then
  the WAL checkpointed (SQLite) or ``data_keys`` vacuumed (PostgreSQL).
  Target: at least 50 % of plain DELETE's rate;
* **ingest alone** (copy 1, after its DELETE: the same live records) and
  **ingest during a sweep** (copy 2, a sweep running in another thread):
  ``RecordWriter.put_many`` (the store's write path, without the collector's
  validation) of batches of 1,000 records for as long as the sweep runs, in
  the same process (alone: the same number of batches). Target: at least 70 %
  of ingest alone.

Never run as a test.

    .venv/bin/python bench/retention.py --backend both --records 400000 --expired 100000
    .venv/bin/python bench/retention.py --backend both --records 4000000 --expired 1000000
    .venv/bin/python bench/retention.py --backend postgresql --records 1000000 \
        --expired 1000000 --skip-ingest     # a month of telemetry, dropped whole
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from _deployments import PG_SERVER, deployment_for, register_subjects, subject_name
from _machine import machine
from servinfo.deployment import Deployment
from servinfo.retention.sweep import Keepers, SweepReport, batch_size_for, sweep_region
from servinfo.store import NewRecord, RecordWriter, checkpoint, create_engine_for
from servinfo.store.engines import is_sqlite
from servinfo.store.partitions import record_leaves

REGION = "eu"
ORG = "bench-org"
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
#: The expired records were collected in January 2025, the live ones in June 2026: a
#: store's old records are the ones past retention. On PostgreSQL each month is a
#: partition of its own (telemetry).
EXPIRED_AT = dt.datetime(2025, 1, 3, 0, 0, tzinfo=dt.UTC)
LIVE_AT = dt.datetime(2026, 6, 3, 0, 0, tzinfo=dt.UTC)
#: Collection times spread over 25 days, whatever the number of records.
SPREAD_S = 25 * 86_400
INGEST_BATCH = 1_000
#: ``--batch-size``: records per sweep transaction (0: the deployment's setting).
BATCH = 0


def _expired(subject: str, i: int) -> NewRecord:
    collected = EXPIRED_AT + dt.timedelta(seconds=i % SPREAD_S)
    return NewRecord(
        subject_id=subject,
        category="telemetry",
        kind="telemetry.status",
        source="platform",
        collected_at=collected,
        fields={"resource_id": f"vm-{i % 977}", "state": "healthy", "message": "synthetic"},
        retention_class="standard",
        retain_until=collected.date() + dt.timedelta(days=90),
    )


def _live(subject: str, i: int, at: dt.datetime = LIVE_AT) -> NewRecord:
    return NewRecord(
        subject_id=subject,
        category="telemetry",
        kind="telemetry.usage",
        source="platform",
        collected_at=at + dt.timedelta(seconds=i % SPREAD_S),
        fields={"resource_id": f"vm-{i % 977}", "metric": "cpu_seconds", "quantity": i % 3600},
        retention_class="standard",
        retain_until=dt.date(2036, 1, 1),
    )


def synthetic(records: int, expired: int, subjects: int, seed: int = 11) -> Iterator[NewRecord]:
    """``records`` records, ``expired`` of them past retention, in random order."""
    rng = random.Random(seed)
    left_expired, left = expired, records
    for i in range(records):
        subject = subject_name(rng.randrange(subjects))
        if rng.random() < left_expired / left:
            left_expired -= 1
            yield _expired(subject, i)
        else:
            yield _live(subject, i)
        left -= 1


def copy_region(deployment: Deployment, label: str) -> Engine:
    """A copy of the region database as it stands (nothing may write to it meanwhile)."""
    engine = deployment.regions[REGION]
    if is_sqlite(engine):
        checkpoint(engine)
        source = Path(str(engine.url.database))
        target = source.with_name(f"{source.stem}-{label}.db")
        shutil.copyfile(source, target)
        return create_engine_for(f"sqlite:///{target}")
    engine.dispose()  # a template database must have no other session
    source_name = str(engine.url.database)
    name = f"{source_name}_{label}"  # dropped with the deployment's (same prefix)
    with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(source_name)
            )
        )
    return create_engine_for(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")


@dataclass
class Result:
    backend: str
    records: int
    expired: int
    populate_s: float = 0.0
    plain_s: float = 0.0
    plain_deleted: int = 0
    sweep_s: float = 0.0
    swept: int = 0
    keys_destroyed: int = 0
    ingest_alone: float = 0.0
    ingest_during: float = 0.0
    during_batches: int = 0
    sweep_during_s: float = 0.0
    #: Month partitions the sweep dropped whole (PostgreSQL).
    dropped: tuple[str, ...] = ()

    @property
    def delete_ratio(self) -> float:
        return self.plain_s / self.sweep_s if self.sweep_s else 0.0

    @property
    def ingest_ratio(self) -> float:
        return self.ingest_during / self.ingest_alone if self.ingest_alone else 0.0


def _sweep(deployment: Deployment, engine: Engine) -> SweepReport:
    return sweep_region(
        policy=deployment.policy,
        directory=deployment.directory,
        region=REGION,
        engine=engine,
        keepers=Keepers(),
        now=NOW,
        batch_size=BATCH or batch_size_for(engine, deployment.settings.retention_batch_size),
        # As the sweep job runs: each batch adds its counts to the sweep's progress.
        sweep_id=f"bench-{uuid.uuid4().hex}",
    )


def _ingest(writer: RecordWriter, batches: int, subjects: int, offset: int) -> float:
    """Records/s of ``batches`` batches of fresh live records."""
    started = time.perf_counter()
    for b in range(batches):
        base = offset + b * INGEST_BATCH
        writer.put_many(
            [
                _live(subject_name((base + i) % subjects), base + i, NOW)
                for i in range(INGEST_BATCH)
            ],
            batch_size=INGEST_BATCH,
            now=NOW,
        )
    return batches * INGEST_BATCH / (time.perf_counter() - started)


def measure(backend: str, args: argparse.Namespace) -> Result:
    result = Result(backend, args.records, args.expired)
    with deployment_for(backend, "bench-retention") as deployment:
        register_subjects(deployment, args.subjects, org=ORG, region=REGION, created_at=EXPIRED_AT)
        started = time.perf_counter()
        deployment.writer.put_many(
            synthetic(args.records, args.expired, args.subjects), batch_size=2000
        )
        result.populate_s = time.perf_counter() - started
        print(f"{backend}: populated {args.records:,} records in {result.populate_s:.1f} s")
        plain = copy_region(deployment, "plain")
        during = None if args.skip_ingest else copy_region(deployment, "during")
        original = deployment.regions[REGION]

        # plain DELETE, one statement
        started = time.perf_counter()
        with plain.begin() as connection:
            result.plain_deleted = connection.execute(
                text("DELETE FROM records WHERE retain_until < :today AND NOT legal_hold"),
                {"today": NOW.date()},
            ).rowcount
        result.plain_s = time.perf_counter() - started

        # the sweep, alone
        before = {leaf.name for leaf in record_leaves(original)}
        started = time.perf_counter()
        report = _sweep(deployment, original)
        result.sweep_s = time.perf_counter() - started
        result.swept, result.keys_destroyed = report.deleted_total, report.keys_destroyed
        result.dropped = tuple(sorted(before - {leaf.name for leaf in record_leaves(original)}))
        print(
            f"{backend}: plain DELETE {result.plain_deleted:,} in {result.plain_s:.2f} s; "
            f"sweep {result.swept:,} in {result.sweep_s:.2f} s"
        )
        if during is None:
            plain.dispose()
            return result

        # ingest during a sweep (copy 2), then alone (copy 1) for as many batches
        writer_during = RecordWriter(deployment.directory, {REGION: during}, deployment.keyring)
        writer_alone = RecordWriter(deployment.directory, {REGION: plain}, deployment.keyring)
        _ingest(writer_alone, 2, args.subjects, 10_000_000)  # warm-up, both
        _ingest(writer_during, 2, args.subjects, 10_000_000)
        sweep_done = threading.Event()
        timing: dict[str, float] = {}

        def sweep_in_thread() -> None:
            begun = time.perf_counter()
            _sweep(deployment, during)
            timing["sweep"] = time.perf_counter() - begun
            sweep_done.set()

        thread = threading.Thread(target=sweep_in_thread)
        ingested, started = 0, time.perf_counter()
        thread.start()
        while not sweep_done.is_set() or ingested == 0:
            _ingest(writer_during, 1, args.subjects, 20_000_000 + ingested * INGEST_BATCH)
            ingested += 1
        elapsed = time.perf_counter() - started
        thread.join()
        result.during_batches = ingested
        result.ingest_during = ingested * INGEST_BATCH / elapsed
        result.sweep_during_s = timing["sweep"]
        result.ingest_alone = _ingest(writer_alone, ingested, args.subjects, 30_000_000)
        for engine in (plain, during):
            engine.dispose()
    return result


def report(results: list[Result]) -> bool:
    ok = True
    print()
    print(machine())
    header = (
        f"{'backend':<11} {'records':>10} {'expired':>9} {'plain DELETE':>13} {'sweep':>9} "
        f"{'ratio':>6} {'ingest alone':>13} {'during sweep':>13} {'ratio':>6}"
    )
    print(header)
    for r in results:
        print(
            f"{r.backend:<11} {r.records:>10,} {r.expired:>9,} {r.plain_s:>11.2f} s "
            f"{r.sweep_s:>7.2f} s {r.delete_ratio:>5.0%} {r.ingest_alone:>9,.0f} r/s "
            f"{r.ingest_during:>9,.0f} r/s {r.ingest_ratio:>5.0%}"
        )
        print(
            f"  ({r.swept:,} swept, {r.keys_destroyed:,} data keys destroyed; plain DELETE "
            f"{r.plain_deleted:,}; the sweep under ingest took {r.sweep_during_s:.2f} s over "
            f"{r.during_batches} batches of {INGEST_BATCH:,})"
        )
        if r.dropped:
            print(f"  (month partitions dropped whole: {', '.join(r.dropped)})")
        if r.swept != r.expired or r.plain_deleted != r.expired:
            print("  MISMATCH: the sweep and plain DELETE must delete exactly the expired records")
            ok = False
        ok &= r.delete_ratio >= 0.5 and (r.ingest_ratio >= 0.7 or not r.during_batches)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--records", type=int, default=400_000, help="all records, expired included"
    )
    parser.add_argument("--expired", type=int, default=100_000, help="of which past retention")
    parser.add_argument("--subjects", type=int, default=0, help="default: one per 20 records")
    parser.add_argument(
        "--batch-size", type=int, default=0, help="records per sweep batch (default: the setting's)"
    )
    parser.add_argument(
        "--skip-ingest",
        action="store_true",
        help="measure the sweep against plain DELETE only (one copy fewer: large runs)",
    )
    args = parser.parse_args(argv)
    global BATCH
    BATCH = args.batch_size
    if not 0 < args.expired <= args.records:
        parser.error("--expired must be between 1 and --records")
    args.subjects = args.subjects or max(1, args.records // 20)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [measure(backend, args) for backend in backends]
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
