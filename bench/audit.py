"""Audit log benchmark: batched append throughput and full verification time.

For each backend, in a fresh control database created for the run (SQLite in
a temporary folder with the control database's settings — WAL,
``synchronous=FULL`` — or a new PostgreSQL database dropped at the end):

* **append** — :meth:`servinfo.audit.AuditLog.record_many` of N synthetic
  entries in batches (default 1,000,000 in batches of 10,000, the size the
  issue's "batched append" leaves to us: each batch is one durable commit,
  which at ``synchronous=FULL`` costs a WAL sync; ``--batch`` changes it): canonical bytes,
  subject pseudonyms with per-subject salts, leaf hashes, the frontier, bulk
  insert, a signed tree head per 1,000 entries; one transaction per batch;
* **plain** — the baseline: the same stored canonical bytes inserted into a
  table ``(seq, entry)`` with SQLAlchemy Core ``insert`` executemany, one
  transaction per batch, nothing hashed or signed;
* **driver** — the floor: the same rows inserted with the driver's own bulk
  path (sqlite3 ``executemany``, psycopg binary ``COPY``), one transaction per
  batch: what the database alone costs at this durability;
* **verify** — :meth:`servinfo.audit.AuditLog.verify` of all N entries:
  stream every row, rehash the stored bytes, rebuild the tree, check every
  signed head.

Targets: append at least 100,000 entries/s on SQLite; verification of
1,000,000 entries in at most 5 s. Prints PASS/MISS on wall-clock time; never
run as a test. This process's CPU time for append and verify is printed too,
with the load average: on a shared machine it moves far less than wall clock.

    python bench/audit.py --entries 1000000 --batch 10000 --backend both
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    insert,
    select,
)

from _machine import machine
from servinfo.audit import AUDIT_MIGRATIONS, Action, AuditLog, RecordedEvent
from servinfo.audit.models import audit_metadata
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.engines import write_transaction

APPEND_TARGET = 100_000  # entries/s, SQLite
VERIFY_TARGET = 5.0  # seconds for 1,000,000 entries
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
START_MS = 1_735_689_600_000
PURPOSES = ("technical_support", "billing", "security", "service_improvement", "pre_credit_check")

_entries = audit_metadata.tables["audit_entries"]
_baselines = MetaData()
_plain = Table(
    "plain_entries",
    _baselines,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("entry", LargeBinary, nullable=False),
)
_driver_plain = Table(
    "driver_entries",
    _baselines,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("entry", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class Result:
    backend: str
    entries: int
    batch: int
    append_per_s: float
    plain_per_s: float
    driver_per_s: float
    verify_s: float
    #: This process's CPU time (``time.process_time()``): steadier than wall clock on a
    #: shared machine. It includes SQLite's work, not PostgreSQL's nor waits for syncs.
    append_cpu_us: float
    verify_cpu_s: float

    @property
    def ratio(self) -> float:
        return self.append_per_s / self.plain_per_s

    @property
    def driver_ratio(self) -> float:
        return self.append_per_s / self.driver_per_s


def synthetic_events(count: int, seed: int = 6) -> list[RecordedEvent]:
    """Access decisions and reads of 10,000 subjects by 200 staff: what the log mostly holds."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        allowed = rng.random() < 0.9
        ids = tuple(f"01JF{rng.getrandbits(100):021X}"[:26] for _ in range(rng.randint(1, 3)))
        events.append(
            RecordedEvent(
                action=Action.READ if allowed and i % 2 else Action.DECISION,
                actor=f"p_{rng.randrange(200):03d}",
                subject_id=f"subj-{rng.randrange(10_000):05d}",
                purpose=rng.choice(PURPOSES),
                outcome="allow" if allowed else "deny",
                reasons=("role support may use account for technical_support",),
                record_ids=ids if allowed else (),
                details={"rows": len(ids), "region": rng.choice(("eu", "us"))},
            )
        )
    return events


class FixedClock:
    """Milliseconds advancing 1 ms per call: heads come due by count, as in steady use."""

    def __init__(self) -> None:
        self.now = START_MS / 1000

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="servinfo-audit-bench-") as folder:
        engine = create_engine_for(f"sqlite:///{Path(folder) / 'control.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgresql_engine() -> Iterator[Engine]:
    name = f"servinfo_bench_audit_{secrets.token_hex(4)}"
    with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    engine = create_engine_for(PG_SERVER + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(backend: str, entries: int, batch: int, keyring: Keyring) -> Result:
    events = synthetic_events(min(entries, 100_000))
    maker = sqlite_engine if backend == "sqlite" else postgresql_engine
    with maker() as engine:
        migrate_control(engine, [AUDIT_MIGRATIONS])
        _baselines.create_all(engine)
        log = AuditLog(engine, keyring, head_every_entries=1000, clock=FixedClock())
        # Append.
        started, cpu = time.perf_counter(), time.process_time()
        done = 0
        while done < entries:
            size = min(batch, entries - done)
            offset = done % len(events)
            chunk = events[offset : offset + size]
            if len(chunk) < size:  # wrap around the synthetic events
                chunk += events[: size - len(chunk)]
            log.record_many(chunk)
            done += size
            _progress("append", done, entries)
        append_s = time.perf_counter() - started
        append_cpu_s = time.process_time() - cpu
        # Plain inserts of the same stored bytes.
        plain_count = min(entries, 200_000)
        with engine.connect() as connection:
            query = select(_entries.c.seq, _entries.c.entry).where(_entries.c.seq < plain_count)
            stored = connection.execute(query.order_by(_entries.c.seq)).all()
        started = time.perf_counter()
        for i in range(0, len(stored), batch):
            rows = [{"seq": seq, "entry": data} for seq, data in stored[i : i + batch]]
            with write_transaction(engine) as connection:
                connection.execute(insert(_plain), rows)
        plain_s = time.perf_counter() - started
        # The driver's own bulk insert of the same bytes.
        started = time.perf_counter()
        for i in range(0, len(stored), batch):
            with write_transaction(engine) as connection:
                driver_insert(connection, [(seq, data) for seq, data in stored[i : i + batch]])
        driver_s = time.perf_counter() - started
        # Verify.
        started, cpu = time.perf_counter(), time.process_time()
        report = log.verify()
        verify_s = time.perf_counter() - started
        verify_cpu_s = time.process_time() - cpu
        assert report.entries == entries, report
    _progress("", 0, 0)
    return Result(
        backend,
        entries,
        batch,
        entries / append_s,
        plain_count / plain_s,
        plain_count / driver_s,
        verify_s,
        append_cpu_s * 1e6 / entries,
        verify_cpu_s,
    )


def driver_insert(connection: Connection, rows: list[tuple[int, bytes]]) -> None:
    """Insert ``(seq, entry)`` rows into the driver baseline's table, bypassing SQLAlchemy."""
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        driver.executemany("INSERT INTO driver_entries (seq, entry) VALUES (?, ?)", rows)
        return
    statement = "COPY driver_entries (seq, entry) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(["int8", "bytea"])
        for row in rows:
            copy.write_row(row)


def _progress(what: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        line = f"{what} {done:,}/{total:,}" if total else ""
        print(f"\r{line:<40}", end="" if total else "\r", file=sys.stderr, flush=True)


def postgresql_version() -> str:
    with psycopg.connect(PG_SERVER + "postgres", connect_timeout=3) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def report(results: list[Result]) -> None:
    print()
    print(
        "| backend | entries | batch | append entries/s | plain inserts/s | append / plain "
        "| driver inserts/s | append / driver | verify all (s) | verify per 1M (s) "
        "| append CPU µs/entry | verify CPU (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        per_million = r.verify_s * 1_000_000 / r.entries
        print(
            f"| {r.backend} | {r.entries:,} | {r.batch:,} | {r.append_per_s:,.0f} | "
            f"{r.plain_per_s:,.0f} | {r.ratio:.0%} | {r.driver_per_s:,.0f} | "
            f"{r.driver_ratio:.0%} | {r.verify_s:.2f} | {per_million:.2f} | "
            f"{r.append_cpu_us:.1f} | {r.verify_cpu_s:.2f} |"
        )
    print()
    for r in results:
        if r.backend == "sqlite":
            verdict = "PASS" if r.append_per_s >= APPEND_TARGET else "MISS"
            print(
                f"{verdict}: SQLite append {r.append_per_s:,.0f}/s (target >= {APPEND_TARGET:,}/s)"
            )
        per_million = r.verify_s * 1_000_000 / r.entries
        verdict = "PASS" if per_million <= VERIFY_TARGET else "MISS"
        print(
            f"{verdict}: {r.backend} verification {per_million:.2f} s per 1,000,000 entries "
            f"(target <= {VERIFY_TARGET:.0f} s)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"machine: {machine(postgresql_version())}")
    print(f"command: python bench/audit.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    with tempfile.TemporaryDirectory(prefix="servinfo-audit-keys-") as folder:
        keyring = Keyring.create(
            Path(folder) / "keyring.json", LocalMasterKeyWrapper(bytes(range(32))), ["eu"]
        )
        results = [run(b, args.entries, args.batch, keyring) for b in backends]
    report(results)
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
