"""Refusals without standing: is an existing subject any slower to refuse than a missing id?

Run: ``.venv/bin/python bench/subject_privacy.py [--subjects 2000 --rounds 2000]``

A fresh SQLite deployment holds ``--subjects`` subjects with a record each, a
quarter of them restricted and objecting. Callers without standing towards them
(another subject, a reporting service, a processor outside its contract) ask,
alternately, about an existing subject and about an id that exists nowhere —
``POST /v1/decisions``, ``GET /v1/subjects/{id}/records`` and ``GET /v1/records/{id}``
through the in-process application, and ``ReadService.explain`` without HTTP.
The missing ids are the baseline, measured in the same run and interleaved
with the existing ones: the script prints both medians and p95s, and their
ratio. docs/access.md records the figures. Never run as a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from ulid import ULID

from _machine import machine
from servinfo.access.errors import NoSuchSubject
from servinfo.api import create_app
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.store import NewRecord

OUTSIDERS = (
    ("other-subject", "subject", "account_holder", "subj-own"),
    ("reporting-service", "service", "ingest", "platform"),
    ("processor-off-contract", "processor", "processor", "sahaya_support"),
)


def _record(subject: str) -> NewRecord:
    return NewRecord(
        subject_id=subject,
        category="account",
        kind="account.profile",
        source="identity",
        collected_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        fields={"username": subject},
        retention_class="standard",
        retain_until=dt.date(2036, 11, 1),
    )


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _summary(label: str, existing: list[float], missing: list[float]) -> None:
    def ms(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    e50, m50 = statistics.median(existing) * 1000, statistics.median(missing) * 1000
    print(
        f"{label:<48} existing p50 {e50:7.3f} ms p95 {ms(existing, 95):7.3f} ms | "
        f"missing p50 {m50:7.3f} ms p95 {ms(missing, 95):7.3f} ms | ratio {e50 / m50:5.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args(argv)
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "deployment"
        create_deployment(data_dir, {})
        deployment = open_deployment(data_dir, {})
        directory = deployment.directory
        directory.add_organization("org-eu", "Example Org", "eu")
        subjects = [f"subj-{i:06d}" for i in range(args.subjects)]
        for subject in [*subjects, "subj-own"]:
            directory.register_subject(subject, "org-eu", "DE")
        record_ids = deployment.writer.put_many([_record(s) for s in subjects])
        for subject in subjects[::4]:
            deployment.ledgers.object(subject, "provide.credit_check", actor=subject)
            deployment.ledgers.restrict(subject, reason="accuracy contested", actor="dpo")
        tokens = {}
        for name, kind, role, binding in OUTSIDERS:
            issued = deployment.principal_service.add(
                name, kind=kind, role=role, region=None, binding=binding, actor="admin"
            )
            tokens[name] = issued.token
        rng = random.Random(14)
        with TestClient(create_app(deployment)) as client:
            for name, *_ in OUTSIDERS:
                probes = _probes(client, deployment, name, tokens[name])
                for label, probe in probes.items():
                    existing: list[float] = []
                    missing: list[float] = []
                    for round_ in range(args.rounds + 50):  # the first 50 warm up
                        i = rng.randrange(len(subjects))
                        pair = [
                            (existing, subjects[i], record_ids[i]),
                            (missing, f"subj-{str(ULID())[-6:].lower()}", str(ULID())),
                        ]
                        rng.shuffle(pair)  # neither side always goes first
                        for into, subject, record_id in pair:
                            start = time.perf_counter()
                            probe(subject, record_id)
                            took = time.perf_counter() - start
                            if round_ >= 50:
                                into.append(took)
                    _summary(f"{name}: {label}", existing, missing)
        deployment.close()


Probe = Callable[[str, str], object]


def _probes(client: TestClient, deployment: Deployment, name: str, token: str) -> dict[str, Probe]:
    """What each route does with (subject id, record id), for one caller."""
    headers = {"Authorization": f"Bearer {token}"}
    principal = deployment.principals.get(name)
    read = {"purpose": "provide"}

    def decision(subject: str, _record: str) -> object:
        body = {"purpose": "provide", "category": "account", "region": "eu", "subject": subject}
        return client.post("/v1/decisions", json=body, headers=headers)

    def records(subject: str, _record: str) -> object:
        return client.get(f"/v1/subjects/{subject}/records", params=read, headers=headers)

    def by_id(_subject: str, record: str) -> object:
        return client.get(f"/v1/records/{record}", params=read, headers=headers)

    def explain(subject: str, _record: str) -> object:
        try:
            deployment.reads.explain(principal, "provide", "account", "eu", subject)
        except NoSuchSubject:
            return None
        raise AssertionError("expected the refusal every caller without standing gets")

    return {
        "POST /v1/decisions": decision,
        "GET /v1/subjects/{id}/records": records,
        "GET /v1/records/{id}": by_id,
        "ReadService.explain (no HTTP)": explain,
    }


if __name__ == "__main__":
    main()
