"""Ingest benchmark: protected records/s against plain inserts of the same rows.

Writes N synthetic records (default 100,000 over the five categories and
10,000 subjects) twice, into fresh databases created for the run:

* **protected** — :meth:`servinfo.store.RecordWriter.put_many`: routing through
  the subject directory, AES-256-GCM sealing under per-(subject, class) data
  keys (created on first use, wrapped by the region KEK), keyed blind indexes
  of the account records' e-mail and username;
* **plain** — the same rows through the same driver's batched ``executemany``
  (SQLAlchemy Core ``insert``), into a ``records`` table of the same shape and
  indexes, with the JSON payload in clear and no blind indexes.

and prints records/s for both and the ratio against the targets (protected at
least 70 % of plain on SQLite, 60 % on PostgreSQL). Never run as a test.

    python bench/ingest.py --records 100000 --subjects 10000 --backend both
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, insert
from ulid import ULID

from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import (
    NewRecord,
    RecordWriter,
    SubjectDirectory,
    create_engine_for,
    migrate_control,
    migrate_region,
)
from servinfo.store.models import OrganizationRow, RecordRow, SubjectRow

TARGETS = {"sqlite": 0.70, "postgresql": 0.60}
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
REGION = "eu"
START = datetime(2025, 1, 1, tzinfo=UTC)
CATEGORIES = ("account", "payments", "settings", "telemetry", "communications")


# -- synthetic data ---------------------------------------------------------------


def _payload(category: str, rng: random.Random, subject: int) -> tuple[str, dict[str, Any]]:
    """A kind and realistic small fields (100–300 bytes of JSON) for ``category``."""
    if category == "account":
        return "account.profile", {
            "username": f"user{subject:05d}",
            "email": f"user{subject:05d}@example.test",
            "given_name": rng.choice(("Ada", "Grace", "Alan", "Edsger", "Barbara")),
            "family_name": rng.choice(("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov")),
            "locale": rng.choice(("de-DE", "fr-FR", "en-GB", "nl-NL")),
            "phone": f"+49 30 {rng.randrange(10**6, 10**7)}",
        }
    if category == "payments":
        return "payments.invoice", {
            "invoice_id": f"INV-{rng.randrange(10**8):08d}",
            "amount_cents": rng.randrange(100, 500_000),
            "currency": rng.choice(("EUR", "GBP", "CHF")),
            "period_start": "2025-01-01",
            "period_end": "2025-01-31",
            "card_last4": f"{rng.randrange(10**4):04d}",
        }
    if category == "settings":
        return "settings.security", {
            "mfa_enabled": rng.random() < 0.7,
            "sso_enabled": rng.random() < 0.3,
            "session_timeout_minutes": rng.choice((15, 30, 60, 240)),
        }
    if category == "telemetry":
        return "telemetry.usage", {
            "resource_id": f"vm-{rng.randrange(10**6):06d}",
            "metric": rng.choice(("cpu_seconds", "gb_hours", "requests", "egress_bytes")),
            "value": round(rng.random() * 1000, 3),
            "interval_seconds": 3600,
            "zone": rng.choice(("eu-central-1a", "eu-central-1b", "eu-west-2a")),
        }
    return "communications.ticket", {
        "ticket_id": f"T-{rng.randrange(10**7):07d}",
        "channel": rng.choice(("email", "chat", "phone")),
        "subject": "Question about my invoice",
        "body": "Hello, I would like to understand the charge for last month. Thanks.",
        "status": rng.choice(("open", "closed")),
    }


def synthetic_records(count: int, subjects: int, seed: int = 7) -> list[NewRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        subject = rng.randrange(subjects)
        category = CATEGORIES[i % len(CATEGORIES)]
        kind, fields = _payload(category, rng, subject)
        lookups = (
            {"email": fields["email"], "username": fields["username"]}
            if category == "account"
            else {}
        )
        records.append(
            NewRecord(
                subject_id=f"bench-subject-{subject:05d}",
                category=category,
                kind=kind,
                source="platform",
                collected_at=START + timedelta(seconds=i),
                fields=fields,
                retention_class="legal_obligation" if category == "payments" else "standard",
                retain_until=date(2026, 1, 1),
                lookup_fields=lookups,
            )
        )
    return records


# -- databases ----------------------------------------------------------------------


@dataclass
class Databases:
    control: Engine
    protected: Engine
    plain: Engine


@contextmanager
def sqlite_databases() -> Iterator[Databases]:
    with tempfile.TemporaryDirectory(prefix="servinfo-bench-") as folder:
        root = Path(folder)
        engines = Databases(
            create_engine_for(f"sqlite:///{root / 'control.db'}", role="control"),
            create_engine_for(f"sqlite:///{root / 'protected.db'}"),
            create_engine_for(f"sqlite:///{root / 'plain.db'}"),
        )
        try:
            yield engines
        finally:
            for engine in (engines.control, engines.protected, engines.plain):
                engine.dispose()


@contextmanager
def postgresql_databases() -> Iterator[Databases]:
    prefix = f"servinfo_bench_{secrets.token_hex(4)}"
    names = [f"{prefix}_{role}" for role in ("control", "protected", "plain")]
    with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    engines = Databases(
        create_engine_for(PG_SERVER + names[0], role="control"),
        create_engine_for(PG_SERVER + names[1]),
        create_engine_for(PG_SERVER + names[2]),
    )
    try:
        yield engines
    finally:
        for engine in (engines.control, engines.protected, engines.plain):
            engine.dispose()
        with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
            for name in names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def prepare(databases: Databases, subjects: int) -> SubjectDirectory:
    """Migrate, then register the organizations and subjects (bulk, not timed)."""
    migrate_control(databases.control)
    migrate_region(databases.protected)
    migrate_region(databases.plain)
    orgs = [f"bench-org-{i:03d}" for i in range(max(1, subjects // 100))]
    with databases.control.begin() as connection:
        connection.execute(
            insert(OrganizationRow),
            [{"id": o, "name": o, "home_region": REGION, "created_at": START} for o in orgs],
        )
        connection.execute(
            insert(SubjectRow),
            [
                {
                    "subject_id": f"bench-subject-{i:05d}",
                    "org_id": orgs[i % len(orgs)],
                    "home_region": REGION,
                    "jurisdiction": "de",
                    "created_at": START,
                }
                for i in range(subjects)
            ],
        )
    return SubjectDirectory(databases.control, [REGION])


# -- the two contenders ---------------------------------------------------------------


def run_plain(engine: Engine, records: list[NewRecord], batch_size: int) -> None:
    """The baseline: the same rows, JSON in clear, Core executemany, one transaction a batch."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    statement = insert(RecordRow)
    for start in range(0, len(records), batch_size):
        rows = [
            {
                "id": str(ULID()),
                "subject_id": r.subject_id,
                "org_id": "bench-org",
                "category": r.category,
                "kind": r.kind,
                "source": r.source,
                "collected_at": r.collected_at,
                "retain_until": r.retain_until,
                "legal_hold": r.legal_hold,
                "schema_version": r.schema_version,
                "key_id": "plain",
                "ciphertext": encoder.encode(r.fields).encode(),
            }
            for r in records[start : start + batch_size]
        ]
        with engine.begin() as connection:
            connection.execute(statement, rows)


def run_protected(writer: RecordWriter, records: list[NewRecord], batch_size: int) -> None:
    writer.put_many(records, batch_size=batch_size)


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench(backend: str, records: list[NewRecord], subjects: int, batch_size: int) -> bool:
    databases = sqlite_databases() if backend == "sqlite" else postgresql_databases()
    with databases as engines, tempfile.TemporaryDirectory() as keys:
        directory = prepare(engines, subjects)
        keyring = Keyring.create(
            Path(keys) / "keyring.json", LocalMasterKeyWrapper(secrets.token_bytes(32)), [REGION]
        )
        writer = RecordWriter(directory, {REGION: engines.protected}, keyring)
        plain = _timed(lambda: run_plain(engines.plain, records, batch_size))
        protected = _timed(lambda: run_protected(writer, records, batch_size))
    n = len(records)
    ratio = plain / protected
    target = TARGETS[backend]
    verdict = "meets" if ratio >= target else "MISSES"
    print(
        f"{backend:<10}  plain {n / plain:>9,.0f} rec/s   protected {n / protected:>9,.0f} rec/s"
        f"   ratio {ratio:6.1%}  ({verdict} the {target:.0%} target)"
    )
    return ratio >= target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(
        f"{args.records:,} records, {args.subjects:,} subjects, batches of {args.batch_size}; "
        f"Python {platform.python_version()} on {platform.machine()}"
    )
    records = synthetic_records(args.records, args.subjects)
    results = [bench(b, records, args.subjects, args.batch_size) for b in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
