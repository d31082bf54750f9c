"""Disclosures through the sharing service against the bare read path, on the same records.

Run: ``.venv/bin/python bench/sharing.py [--subjects 300 --rounds 3]``

A fresh SQLite deployment holds ``--subjects`` subjects with an account record
each. Each round reads every subject once, in random order, two ways,
interleaved per subject so that the machine's load falls on both alike:

* baseline — the bare read path: ``ReadService.read_subject`` by staff whose role
  serves ``provide`` (decide, read, decrypt, narrow, audit; the group commit's wait);
* sharing — ``SharingService.to_processor`` by a processor under contract: the contract
  checked at the instant, a grant issued and checked, the same read, the disclosure
  registered (one row) with its audit entry, the manifest and its digest.

It prints disclosures per second of each and their ratio (target ≥ 0.70).
docs/benchmarks.md records the figures. Never run as a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from _machine import machine
from servinfo.deployment import create_deployment, open_deployment
from servinfo.store import NewRecord


def _record(subject: str) -> NewRecord:
    return NewRecord(
        subject_id=subject,
        category="account",
        kind="account.profile",
        source="identity",
        collected_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        fields={"username": subject, "email": f"{subject}@example.test"},
        retention_class="standard",
        retain_until=dt.date(2036, 11, 1),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "deployment"
        create_deployment(data_dir, {})
        with open_deployment(data_dir, {}) as deployment:
            deployment.directory.add_organization("org-eu", "Example Org", "eu")
            subjects = [f"subj-{i:05d}" for i in range(args.subjects)]
            for subject in subjects:
                deployment.directory.register_subject(subject, "org-eu", "DE")
                deployment.writer.put(_record(subject))
            service = deployment.principal_service
            staff = service.add(
                "support-eu", kind="employee", role="support_engineer", region="eu",
                actor="admin",
            ).principal  # fmt: skip
            mailer = service.add(
                "mailer", kind="processor", role="processor", region=None,
                binding="relay_mail", actor="admin",
            ).principal  # fmt: skip
            reads, sharing = deployment.reads, deployment.sharing
            # Warm both paths (policy compiled, caches filled) outside the timing.
            reads.read_subject(staff, "provide", subjects[0], categories=["account"])
            sharing.to_processor(mailer, subjects[0], "provide", ["account"])
            bare = shared = 0.0
            count = 0
            for _ in range(args.rounds):
                order = subjects[:]
                random.shuffle(order)
                for subject in order:
                    start = time.perf_counter()
                    reads.read_subject(staff, "provide", subject, categories=["account"])
                    middle = time.perf_counter()
                    sharing.to_processor(mailer, subject, "provide", ["account"])
                    bare += middle - start
                    shared += time.perf_counter() - middle
                    count += 1
            registered = len(deployment.ledgers.disclosures(recipient="relay_mail"))
    print(f"reads: {count} each way; disclosures registered: {registered}")
    print(f"bare read path      {count / bare:10.1f} reads/s")
    print(f"sharing service     {count / shared:10.1f} disclosures/s")
    print(f"ratio (sharing / bare): {bare / shared:.3f}  (target >= 0.70)")


if __name__ == "__main__":
    main()
