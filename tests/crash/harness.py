"""Crash rounds against ``servinfo serve --workers 2``: traffic, kill -9, restart, resend, check.

Issue 13 asks that nothing acknowledged is lost, nothing is stored twice and no
answered read goes unrecorded, whenever the server's machine crashes. A round:

(1) the senders and readers of :mod:`tests.crash.traffic` run against the
    server; after a random delay (seeded) the server's process group gets
    SIGKILL;
(2) the server is started again and every request the senders attempted is
    sent again with its key and body;
(3) the round's records are counted by marker (through the API, as the admin,
    for ``legal``), the read entries of the audit log since the round began are
    counted, every SQLite file gets ``PRAGMA integrity_check`` and
    ``servinfo audit verify`` runs.

The restarted server serves the next round, which kills it again: every round
has its own kill. A round's failures are kept by check (:data:`CHECKS`) and the
rounds go on, so that the report says how often each check failed.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.collect.world import ingest_world, populate
from tests.crash.server import CrashServer
from tests.crash.traffic import READ_SUBJECT, Round, Sent, resend, stored_markers, usage

from servinfo.deployment import open_deployment

#: The principal the readers read as (an employee of the eu region, role support_engineer).
READER = "support-eu"
#: Seconds of traffic before the kill: drawn per round from this range.
KILL_AFTER = (0.3, 2.5)
#: Seconds the resend of one round may take, retries included: longer than the 30 s for
#: which a claim of a killed worker holds its key (``IdempotencyStore``'s lease).
RESEND_WITHIN = 45.0

_SQLITE_HEADER = b"SQLite format 3\x00"

CHECKS = {
    "acknowledged_lost": "an acknowledged record is missing (or stored under another id)",
    "acknowledged_doubled": "an acknowledged record is stored more than once",
    "lost_after_resend": "a sent record is missing after the resend",
    "doubled_after_resend": "a sent record is stored more than once after the resend",
    "replay_differs": "the resend's answer differs from the first answer",
    "read_unaudited": "fewer read entries in the audit log than reads answered",
    "integrity_check": "PRAGMA integrity_check is not ok",
    "audit_verify": "servinfo audit verify failed",
    "resend_unanswered": "the resend got no final answer in time",
    "unexpected_answer": "a request was refused or failed before the kill",
}


@dataclass
class CrashWorld:
    """The deployment of one crash test: its directory, tokens and the rounds' subjects."""

    data_dir: Path
    tokens: dict[str, str]
    token_file: Path
    sqlite: bool

    @staticmethod
    def subjects(number: int) -> tuple[str, str]:
        """Round ``number``'s subjects: one homed in eu, one in us."""
        return f"sub-r{number}-eu", f"sub-r{number}-us"


def build_world(data_dir: Path, rounds: int, url_template: str | None = None) -> CrashWorld:
    """A deployment with the principals, organizations and subjects of ``rounds`` rounds."""
    tokens = populate(data_dir, url_template)
    with ingest_world(data_dir, tokens) as world:
        objects: list[dict[str, object]] = [
            {"type": "subject", "id": READ_SUBJECT, "org": "org-eu", "jurisdiction": "DE"}
        ]
        for number in range(1, rounds + 1):
            eu, us = CrashWorld.subjects(number)
            objects.append({"type": "subject", "id": eu, "org": "org-eu", "jurisdiction": "DE"})
            objects.append({"type": "subject", "id": us, "org": "org-us", "jurisdiction": "US-CA"})
        for obj in objects:
            answer = world.post("identity", obj)
            assert answer.status_code == 201, answer.text
        for n in range(3):  # something for the readers to read
            answer = world.post("platform", usage(READ_SUBJECT, f"vm-read-{n}"))
            assert answer.status_code == 201, answer.text
    token_file = data_dir / "admin.token"
    token_file.write_text(tokens["admin"])
    token_file.chmod(0o600)
    tokens["reader"] = tokens[READER]
    return CrashWorld(data_dir, tokens, token_file, sqlite=url_template is None)


@dataclass
class RoundReport:
    number: int
    kill_after: float
    sent: int = 0
    acknowledged: int = 0
    reads_answered: int = 0
    reads_audited: int = 0
    seconds: float = 0.0
    #: Seconds per phase: traffic, restart, resend, count, audit, integrity, verify.
    phases: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, check: str, details: Iterable[str]) -> None:
        found = list(details)
        if found:
            self.failures.setdefault(check, []).extend(found)

    def line(self) -> str:
        failed = ", ".join(f"{c} x{len(d)}" for c, d in self.failures.items()) or "ok"
        phases = " ".join(f"{name} {seconds:.1f}" for name, seconds in self.phases.items())
        return (
            f"round {self.number}: kill after {self.kill_after:.2f} s, {self.sent} requests "
            f"({self.acknowledged} acknowledged), {self.reads_answered} reads answered / "
            f"{self.reads_audited} audited, {self.seconds:.1f} s ({phases}): {failed}"
        )


def run_rounds(world: CrashWorld, server: CrashServer, rounds: int, seed: int) -> list[RoundReport]:
    """Run ``rounds`` rounds on the running ``server`` (restarted by each); their reports."""
    reports = []
    for number in range(1, rounds + 1):
        report = _round(world, server, number, random.Random(f"{seed}:{number}"))
        print(report.line(), flush=True)
        reports.append(report)
    return reports


def _round(world: CrashWorld, server: CrashServer, number: int, rng: random.Random) -> RoundReport:
    started = time.monotonic()
    report = RoundReport(number, rng.uniform(*KILL_AFTER))
    subjects = world.subjects(number)
    log_start = _audit_entries(world, None)
    # (1) traffic, then kill -9 of the server's process group
    with _timed(report, "traffic"):
        traffic = Round(number, subjects, world.tokens).run(
            server.url, report.kill_after, server.kill
        )
    report.sent = len(traffic.sent)
    acknowledged = [s for s in traffic.sent if s.first is not None and s.first.acknowledged]
    report.acknowledged = len(acknowledged)
    report.reads_answered = traffic.reads_answered
    report.fail("unexpected_answer", traffic.unexpected)
    # (2) restart; every attempted request again, same key and body
    with _timed(report, "restart"):
        server.start()
    with _timed(report, "resend"):
        deadline = time.monotonic() + RESEND_WITHIN
        unanswered = resend(server.url, world.tokens["platform"], traffic.sent, deadline)
    report.fail("resend_unanswered", unanswered)
    # (3) the checks
    with _timed(report, "count"):
        found = stored_markers(server.url, world.tokens["admin"], subjects)
    _check_records(report, traffic.sent, acknowledged, found)
    with _timed(report, "audit"):
        report.reads_audited = _audit_entries(world, log_start)
    if report.reads_audited < report.reads_answered:
        report.fail(
            "read_unaudited",
            [f"{report.reads_answered} reads answered, {report.reads_audited} in the audit log"],
        )
    if world.sqlite:
        with _timed(report, "integrity"):
            report.fail("integrity_check", integrity_problems(world.data_dir))
    with _timed(report, "verify"):
        report.fail("audit_verify", audit_verify(world))
    report.seconds = time.monotonic() - started
    return report


def _audit_entries(world: CrashWorld, since: int | None) -> int:
    """The log's size (``since`` None), or how many reads of the reader it holds from ``since``.

    The deployment is opened for each look and closed after it: the test process holds
    no connection to the databases while the server is killed and restarted.
    """
    with open_deployment(world.data_dir, {}) as deployment:
        size = deployment.audit.size()
        if since is None:
            return size
        entries = deployment.audit.entries(since, size)
    return sum(e.action == "read" and e.actor == READER for e in entries)


@contextmanager
def _timed(report: RoundReport, phase: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.phases[phase] = time.monotonic() - started


def _check_records(
    report: RoundReport,
    sent: list[Sent],
    acknowledged: list[Sent],
    found: dict[str, list[str]],
) -> None:
    lost, doubled, differs, short = [], [], [], []
    for request in acknowledged:
        assert request.first is not None
        if len(request.first.ids) != len(request.markers):
            short.append(f"{request.key}: {len(request.first.ids)} ids for {len(request.markers)}")
            continue
        for marker, record_id in zip(request.markers, request.first.ids, strict=True):
            stored = found.get(marker, [])
            if record_id not in stored:
                lost.append(f"{marker} (acknowledged as {record_id}, stored as {stored})")
            elif len(stored) > 1:
                doubled.append(f"{marker} x{len(stored)} ({request.key})")
        replay = request.replay
        if replay is not None and replay.ids != request.first.ids:
            differs.append(
                f"{request.key}: first {len(request.first.ids)} ids, "
                f"resend {replay.describe()} with {len(replay.ids)} ids, "
                f"{sum(a != b for a, b in zip(request.first.ids, replay.ids, strict=False))} "
                "of them different"
            )
    report.fail("unexpected_answer", short)
    report.fail("acknowledged_lost", lost)
    report.fail("acknowledged_doubled", doubled)
    report.fail("replay_differs", differs)
    after = [(m, len(found.get(m, []))) for s in sent for m in s.markers]
    report.fail("lost_after_resend", [m for m, count in after if count == 0])
    report.fail("doubled_after_resend", [f"{m} x{count}" for m, count in after if count > 1])


def integrity_problems(data_dir: Path) -> list[str]:
    """``PRAGMA integrity_check`` of every SQLite file of the deployment; what was not ``ok``.

    The server's metrics also keep ``*.db`` files (``run/metrics``, not SQLite): the
    files are told apart by the SQLite header.
    """
    problems = []
    files = [p for p in sorted(data_dir.rglob("*.db")) if _is_sqlite(p)]
    assert files, f"no SQLite file under {data_dir.name}"
    for path in files:
        connection = sqlite3.connect(path, timeout=30)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as error:
            rows = [(f"{type(error).__name__}: {error}",)]
        finally:
            connection.close()
        if rows != [("ok",)]:
            problems.append(f"{path.name}: {rows[:3]}")
    return problems


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER


def audit_verify(world: CrashWorld) -> list[str]:
    """``servinfo audit verify``: nothing when it exits 0, else its output."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "servinfo",
            "audit",
            "verify",
            "--data-dir",
            str(world.data_dir),
            "--token-file",
            str(world.token_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")},
        check=False,
    )
    if result.returncode == 0:
        return []
    return [f"exit {result.returncode}: {(result.stdout + result.stderr).strip()[:300]}"]


def summary(reports: list[RoundReport], seed: int, backend: str, seconds: float) -> str:
    """How often each check failed over the rounds, with the seed to run them again."""
    lines = [
        f"{backend}: {len(reports)} rounds in {seconds:.0f} s, seed {seed} "
        f"(SERVINFO_CRASH_SEED={seed} runs the same kills again)"
    ]
    for check, meaning in CHECKS.items():
        failing = [r for r in reports if check in r.failures]
        if failing:
            total = sum(len(r.failures[check]) for r in failing)
            first = failing[0].failures[check][:3]
            lines.append(
                f"  {check} ({meaning}): {len(failing)} of {len(reports)} rounds "
                f"{[r.number for r in failing]}, {total} in all; round {failing[0].number}: {first}"
            )
    lines.extend(f"  {r.line()}" for r in reports)
    return "\n".join(lines)
