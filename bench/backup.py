"""Backup and restore benchmark: servinfo's sealed backup and its restore against the plain copy.

For each backend (SQLite, PostgreSQL) a fresh deployment is created (databases
created and dropped by the run), ``--subjects`` subjects registered in bulk and
region eu filled through :meth:`RecordWriter.put_many` with ``--records``
records (populating is timed and printed, not judged). Then, in the same run:

* **backup** — :func:`servinfo.retention.backup.take_backup`: every database
  copied (SQLite's online backup API; ``pg_dump --format=custom``), the data
  directory's files, all in a tar stream sealed a chunk at a time under the
  backup's own key, its key wrapped into the catalogue;
* **plain copy** (the baseline) — the same databases copied the same way
  (SQLite's backup API to files; ``pg_dump --format=custom`` to files), with no
  archive, no encryption, no catalogue: what an operator's own script would do.
* ``--erasures`` subjects are then erased (store-level, each written to the
  shred ledger first), so the restore has something to replay;
* **restore** — :func:`servinfo.retention.restore.restore_backup` into a new
  directory (PostgreSQL: new databases): decrypt and unpack, place the
  databases (``pg_restore``), raise the stamps, start the new audit log,
  replay the erasures, sweep each region;
* **plain restore** (the baseline) — the plain copies put back (SQLite: the
  files copied into a new directory; PostgreSQL: ``pg_restore`` into new
  databases), nothing checked or replayed.

Printed: each time, the ratio servinfo / plain (lower is better), the backup's
size against the plain copies'. Never run as a test.

    .venv/bin/python bench/backup.py --backend both --records 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from _deployments import PG_SERVER, deployment_for, drop_databases, register_subjects, subject_name
from _machine import machine
from servinfo.crypto import load_master_key
from servinfo.deployment import Deployment
from servinfo.retention.backup import run_pg_tool, take_backup
from servinfo.retention.restore import restore_backup
from servinfo.store import NewRecord

REGION = "eu"
ORG = "bench-org"
AT = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def synthetic(records: int, subjects: int) -> Iterator[NewRecord]:
    for i in range(records):
        yield NewRecord(
            subject_id=subject_name(i % subjects),
            category="telemetry",
            kind="telemetry.usage",
            source="platform",
            collected_at=AT + dt.timedelta(seconds=i),
            fields={"resource_id": f"vm-{i % 977}", "metric": "cpu_seconds", "quantity": i % 3600},
            retention_class="standard",
            retain_until=dt.date(2036, 1, 1),
        )


@dataclass
class Result:
    backend: str
    records: int
    populate_s: float = 0.0
    backup_s: float = 0.0
    plain_copy_s: float = 0.0
    restore_s: float = 0.0
    plain_restore_s: float = 0.0
    backup_bytes: int = 0
    plain_bytes: int = 0
    replayed: int = 0
    #: The restore's steps, in seconds.
    steps: dict[str, float] = field(default_factory=dict)


def _engines(deployment: Deployment) -> dict[str, Engine]:
    return {"control": deployment.control} | {
        f"region-{r}": e for r, e in sorted(deployment.regions.items())
    }


def plain_copy(deployment: Deployment, folder: Path) -> int:
    """The baseline: each database copied as servinfo copies it, nothing else; bytes."""
    folder.mkdir()
    total = 0
    for name, engine in _engines(deployment).items():
        url = engine.url
        if url.get_backend_name() == "sqlite":
            target = folder / f"{name}.sqlite"
            source = sqlite3.connect(url.database or "")
            copy = sqlite3.connect(target)
            source.backup(copy)
            copy.close()
            source.close()
        else:
            target = folder / f"{name}.pgdump"
            run_pg_tool("pg_dump", url, ["--format=custom", "--no-owner", f"--file={target}"])
        total += target.stat().st_size
    return total


def plain_restore(folder: Path, target: Path, backend: str, prefix: str) -> None:
    """The baseline: the plain copies put back, nothing checked or replayed."""
    if backend == "sqlite":
        shutil.copytree(folder, target)
        return
    import psycopg
    from psycopg import sql

    for dump in sorted(folder.glob("*.pgdump")):
        name = f"{prefix}_{dump.stem.replace('-', '_')}"
        with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        run_pg_tool("pg_restore", url, ["--no-owner", "--exit-on-error", str(dump)])


def measure(backend: str, args: argparse.Namespace) -> Result:
    result = Result(backend, args.records)
    with (
        deployment_for(backend, "bench-backup") as deployment,
        tempfile.TemporaryDirectory(prefix="servinfo-bench-backup-") as scratch,
    ):
        work = Path(scratch)
        register_subjects(deployment, args.subjects, org=ORG, region=REGION, created_at=AT)
        started = time.perf_counter()
        deployment.writer.put_many(synthetic(args.records, args.subjects), batch_size=2000)
        result.populate_s = time.perf_counter() - started
        print(f"{backend}: populated {args.records:,} records in {result.populate_s:.1f} s")
        settings = deployment.settings

        started = time.perf_counter()
        result.plain_bytes = plain_copy(deployment, work / "plain")
        result.plain_copy_s = time.perf_counter() - started

        backup_file = work / "deployment.servinfo-backup"
        started = time.perf_counter()
        taken = take_backup(
            deployment,
            out=backup_file,
            master_key=load_master_key({}, settings.master_key_file),
            master_key_file=str(settings.master_key_file.resolve()),
            catalogue=deployment.backup_catalogue,
            ledger=deployment.shred_ledger,
            now=NOW,
        )
        result.backup_s = time.perf_counter() - started
        result.backup_bytes = taken.size_bytes

        for i in range(args.erasures):  # each erasure written to the ledger, then shredded
            subject = subject_name(i)
            deployment.record_erasure(subject, [], False, NOW)
            deployment.writer.erase_subject(subject, [], now=NOW)

        prefix = f"servinfo_bench_restored_{taken.backup_id.lower()[-8:]}"
        template = (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{prefix}_{{name}}"
            if backend == "postgresql"
            else None
        )
        try:
            marks: list[tuple[str, float]] = [("checking", time.perf_counter())]
            started = time.perf_counter()
            report = restore_backup(
                backup_file,
                work / "restored",
                {},
                now=NOW + dt.timedelta(hours=1),
                database_url_template=template,
                progress=lambda step: marks.append((step, time.perf_counter())),
            )
            result.restore_s = time.perf_counter() - started
            ends = [at for _, at in marks[1:]] + [started + result.restore_s]
            result.steps = {step: end - at for (step, at), end in zip(marks, ends, strict=True)}
            result.replayed = int(report.replayed.get("subjects_erased", 0))
            started = time.perf_counter()
            plain_restore(work / "plain", work / "plain-restored", backend, prefix + "_plain")
            result.plain_restore_s = time.perf_counter() - started
        finally:
            if backend == "postgresql":
                drop_databases(prefix)
    return result


def report(results: list[Result]) -> None:
    print()
    print(
        f"{'backend':<11}{'records':>10}{'backup s':>10}{'plain s':>9}{'ratio':>7}"
        f"{'restore s':>11}{'plain s':>9}{'ratio':>8}{'size MB':>9}{'plain MB':>10}"
    )
    for r in results:
        print(
            f"{r.backend:<11}{r.records:>10,}{r.backup_s:>10.1f}{r.plain_copy_s:>9.1f}"
            f"{r.backup_s / r.plain_copy_s:>7.2f}{r.restore_s:>11.1f}{r.plain_restore_s:>9.1f}"
            f"{r.restore_s / r.plain_restore_s:>8.2f}{r.backup_bytes / 1e6:>9.1f}"
            f"{r.plain_bytes / 1e6:>10.1f}"
        )
    print("ratio: servinfo's time / the plain copy's (lower is better)")
    for r in results:
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in r.steps.items())
        print(f"  {r.backend} restore ({r.replayed} erasures replayed): {steps}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--erasures", type=int, default=100)
    args = parser.parse_args(argv)
    print(machine())
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report([measure(backend, args) for backend in backends])
    return 0


if __name__ == "__main__":
    sys.exit(main())
