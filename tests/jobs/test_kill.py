"""``kill -9`` of a real ``servinfo worker`` in the middle of a job, on SQLite and PostgreSQL.

The job is a KEK re-wrap (``keys rotate --background``): its effects are
observable row by row (which KEK version wraps each data key) and keyed (a
key is re-wrapped only while it is under an older version). The worker is
killed once some keys are re-wrapped and others are not; a new worker takes
the job over when the dead one's lease runs out, and the job then finishes
exactly once in effect: every key under the new version, each re-wrapped by
one of the two attempts, every record still readable, one audit entry of the
re-wrap, and the audit log intact.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.jobs.killing import kill_when, take_over
from tests.support import PostgresDatabases
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.config import load_settings
from servinfo.deployment import create_deployment, open_deployment
from servinfo.jobs.kinds import KEK_REWRAP
from servinfo.rights import OutboxNotifier
from servinfo.rights.models import ExportRow, RequestRow
from servinfo.store import NewRecord, create_engine_for, kek_usage
from servinfo.store.reading import RecordReader

KEYS = 300
#: The records of the subject whose access request is processed: a second or so of work.
RECORDS = 3000


def _seed(
    data_dir: Path, url_template: str | None, *, of_one_subject: int = 0
) -> tuple[str, list[str]]:
    """``KEYS`` records of as many subjects (one data key each), or ``of_one_subject``
    records all of one subject."""
    result = create_deployment(data_dir, {}, database_url_template=url_template)
    with open_deployment(data_dir, {}) as deployment:
        deployment.directory.add_organization("org-eu", "Example Org", "eu")
        records = []
        for n in range(of_one_subject or KEYS):
            subject = "subj-0000" if of_one_subject else f"subj-{n:04d}"
            if n == 0 or not of_one_subject:
                deployment.directory.register_subject(subject, "org-eu", "DE")
            records.append(
                NewRecord(
                    subject_id=subject,
                    category="telemetry",
                    kind="telemetry.usage",
                    source="platform",
                    collected_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
                    fields={"resource_id": f"vm-{n}", "metric": "cpu_seconds", "quantity": 1.5},
                    retention_class="standard",
                    retain_until=dt.date(2036, 1, 1),
                )
            )
        ids = deployment.writer.put_many(records)
    return result.admin_token, ids


def _usage(data_dir: Path) -> dict[str, int]:
    with open_deployment(data_dir, {}) as deployment:
        return kek_usage(deployment.regions["eu"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_rewrap_leaves_the_job_to_finish_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template = None
    if backend == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    data_dir = tmp_path / "deployment"
    token, record_ids = _seed(data_dir, template)
    (old_kek,) = _usage(data_dir)
    # (1) rotate; the re-wrap is queued, one key per batch so that it takes a while
    rotated = CliRunner().invoke(
        app,
        ["keys", "rotate", "--region", "eu", "--background", "--batch-size", "1", "--json"],
        env={"SERVINFO_DATA_DIR": str(data_dir), "SERVINFO_TOKEN": token},
    )
    assert rotated.exit_code == 0, rotated.output
    new_kek, job_id = json.loads(rotated.output)["key_id"], json.loads(rotated.output)["job"]
    # (2) a worker runs it; kill -9 once some keys are re-wrapped and some are not. One
    # query a poll on a deployment opened once: opening it for each poll took long enough,
    # on a loaded machine, for the worker to re-wrap every key in between.
    with open_deployment(data_dir, {}) as deployment:
        region = deployment.regions["eu"]
        kill_when(data_dir, lambda: kek_usage(region).get(new_kek, 0) >= 10, every=0.005)
    before = _usage(data_dir)
    assert before.get(new_kek, 0) >= 10
    assert before.get(old_kek, 0) > 0, "the worker finished before it was killed"
    with open_deployment(data_dir, {}) as deployment:
        held = deployment.jobs.queue.get(job_id)
    assert held.state == "running"
    assert held.attempts == 1
    # (3) a new worker takes the job over once the dead one's lease has run out
    out = take_over(data_dir, held)
    assert " 0 failed" in out, out
    # (4) once in effect
    assert _usage(data_dir) == {new_kek: KEYS}
    with open_deployment(data_dir, {}) as deployment:
        job = deployment.jobs.queue.get(job_id)
        assert (job.kind, job.state, job.attempts) == (KEK_REWRAP, "done", 2)
        assert job.result is not None
        # The second attempt re-wrapped exactly what the first had left.
        assert job.result["rewrapped"] == before[old_kek]
        reader = RecordReader(deployment.directory, deployment.regions, deployment.keyring)
        assert all(reader.get(record_id, "eu").fields["metric"] for record_id in record_ids)
        entries = deployment.audit.entries(0, deployment.audit.size())
        rewraps = [e for e in entries if e.action == "key_rewrap"]
        assert [dict(e.details) for e in rewraps] == [
            {"region": "eu", "key_id": new_kek, "rewrapped": before[old_kek]}
        ]
    verified = CliRunner().invoke(
        app, ["audit", "verify"], env={"SERVINFO_DATA_DIR": str(data_dir), "SERVINFO_TOKEN": token}
    )
    assert verified.exit_code == 0, verified.output


def _request_state(control: Engine, request_id: str) -> str:
    with control.connect() as connection:
        state = connection.scalar(select(RequestRow.state).where(RequestRow.id == request_id))
    assert isinstance(state, str)
    return state


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_request_leaves_it_answered_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template = None
    if backend == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    data_dir = tmp_path / "deployment"
    token, _ = _seed(data_dir, template, of_one_subject=RECORDS)
    with open_deployment(data_dir, {}) as deployment:
        opened = deployment.rights.open(
            "access", "subj-0000", channel="cli", actor="admin", verified=True
        )
    queued = CliRunner().invoke(
        app,
        ["dsr", "process", opened.request_id, "--background", "--json"],
        env={"SERVINFO_DATA_DIR": str(data_dir), "SERVINFO_TOKEN": token},
    )
    assert queued.exit_code == 0, queued.output
    job_id = json.loads(queued.output)["job"]
    # kill -9 while the request is being processed
    control = create_engine_for(load_settings(data_dir, {}).control_url)

    def in_progress() -> bool:
        state = _request_state(control, opened.request_id)
        assert state in ("verified", "in_progress"), f"the request was {state} before the kill"
        return state == "in_progress"

    kill_when(data_dir, in_progress, every=0.005)
    assert _request_state(control, opened.request_id) == "in_progress"
    control.dispose()
    with open_deployment(data_dir, {}) as deployment:
        held = deployment.jobs.queue.get(job_id)
    take_over(data_dir, held)
    with open_deployment(data_dir, {}) as deployment:
        rights = deployment.rights
        job = deployment.jobs.queue.get(job_id)
        assert (job.state, job.attempts) == ("done", 2)
        answered = rights.get(opened.request_id)
        assert answered.state == "completed"
        assert answered.outcome is not None
        assert answered.outcome["records"] == RECORDS
        with deployment.control.connect() as connection:
            exports = connection.scalar(
                select(func.count()).where(ExportRow.request_id == opened.request_id)
            )
        assert exports == 1
        _, archive = rights.export_archive(opened.request_id)
        assert archive.startswith(b"PK")
        notices = [
            n
            for n in OutboxNotifier(deployment.control).notices(recipient="subj-0000")
            if n.kind == "completion_notice"
        ]
        assert len(notices) == 1
    verified = CliRunner().invoke(
        app, ["audit", "verify"], env={"SERVINFO_DATA_DIR": str(data_dir), "SERVINFO_TOKEN": token}
    )
    assert verified.exit_code == 0, verified.output
