"""Demo data goes through the real ingest path and can be read back for a purpose."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.deployment.demo import load_demo, service_principals
from servinfo.deployment.errors import DeploymentError
from servinfo.jobs import Worker
from servinfo.jobs.kinds import deployment_registry


def test_demo_data_is_ingested_by_each_service_and_readable(tmp_path: Path) -> None:
    result = create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as deployment:
        summary = load_demo(deployment, customers=2, days=1, seed=3, actor="admin")
        assert summary.rejected == 0, summary.first_rejections
        assert summary.accepted > 50
        principals = service_principals(deployment, "admin")
        assert set(principals) == {"platform", "identity", "support"}
        assert all(p.kind == "service" and p.binding == s for s, p in principals.items())

        with deployment.control.connect() as connection:
            subject_id = connection.scalar(text("SELECT subject_id FROM subjects LIMIT 1"))
        assert isinstance(subject_id, str)
        admin = deployment.principal_service.authenticate(result.admin_token)
        read = deployment.reads.read_subject(admin, "legal", subject_id)
        assert read.records
        assert {r.subject for r in read.records} == {subject_id}


def _records(deployment: Deployment) -> int:
    total = 0
    for engine in deployment.regions.values():
        with engine.connect() as connection:
            total += int(connection.scalar(text("SELECT count(*) FROM records")) or 0)
    return total


def test_a_second_demo_sends_nothing(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as deployment:
        first = load_demo(deployment, customers=2, days=1, seed=3, actor="admin")
        stored = _records(deployment)
        again = load_demo(deployment, customers=2, days=1, seed=3, actor="admin")
        assert (first.already_loaded, again.already_loaded) == (False, True)
        assert again.accepted == 0
        assert again.subjects == first.subjects > 0
        assert _records(deployment) == stored


def test_a_demo_that_stopped_part_way_is_refused_not_doubled(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as deployment:
        load_demo(deployment, customers=2, days=1, seed=3, actor="admin")
        # The same demo world with more customers: its first subjects are in already.
        with pytest.raises(DeploymentError, match="stopped part-way"):
            load_demo(deployment, customers=4, days=1, seed=3, actor="admin")


def test_the_demo_principals_tokens_are_kept_in_owner_only_files(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as deployment:
        summary = load_demo(deployment, customers=2, days=1, seed=3, actor="admin")
        policy = deployment.policy
        readers = {
            f"demo-{r}"
            for r, role in policy.roles.items()
            if role.purposes
            and "employee" in role.principal_kinds
            and "manage_principals" not in role.permissions
        }
        services = {f"demo-{s}" for s in policy.services}
        assert set(summary.token_files) == readers | services
        assert (tmp_path / "demo-tokens").stat().st_mode & 0o777 == 0o700
        for name, path in summary.token_files.items():
            assert path.stat().st_mode & 0o777 == 0o600
            principal = deployment.principal_service.authenticate(path.read_text().strip())
            assert principal.name == name
        # Samples: subjects with records, each of another home region.
        regions = [region for _, region in summary.samples]
        assert len(regions) == len(set(regions)) > 0
        support = deployment.principals.get("demo-support_engineer")
        for subject, _ in summary.samples:
            assert deployment.reads.read_subject(support, "provide", subject).records


_DEMO_NOW = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)


def test_the_demo_leaves_the_worker_a_sweep_per_region_and_the_purges(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as deployment:
        summary = load_demo(deployment, customers=2, days=1, seed=3, actor="admin", now=_DEMO_NOW)
        queue = deployment.jobs.queue
        queued = queue.list(state="queued")
        expected = [
            ("export_purge", None),
            ("request_purge", None),
            ("backup_expiry", None),
            ("redaction_check", None),
            ("drp_sync", None),
        ] + [("retention_sweep", r) for r in deployment.regions]
        assert sorted((j.kind, j.params.get("region")) for j in queued) == sorted(expected)
        assert {j.id for j in summary.jobs} == {j.id for j in queued}
        # The demo again, or the worker's own schedules: the same jobs, none added.
        again = load_demo(deployment, customers=2, days=1, seed=3, actor="admin", now=_DEMO_NOW)
        assert {j.id for j in again.jobs} == {j.id for j in queued}
        worker = Worker(
            queue, deployment_registry(deployment), deployment=deployment, clock=lambda: _DEMO_NOW
        )
        report = worker.run_until_idle()
        ran = queue.list()
        # The redaction check finds a version no run has brought the stored text up to:
        # it queues one re-redaction per region, which the worker runs too.
        reruns = [j for j in ran if j.kind == "redaction_rerun"]
        assert sorted(j.params["region"] for j in reruns) == sorted(deployment.regions)
        assert report.done == len(queued) + len(reruns)
        assert {j.id for j in ran} == {j.id for j in queued} | {j.id for j in reruns}
        assert {j.state for j in ran} == {"done"}
        sweeps = [j.result for j in ran if j.kind == "retention_sweep"]
        assert all(r is not None and {"deleted", "kept"} <= set(r) for r in sweeps)


def test_the_demo_command_names_the_jobs_it_left(tmp_path: Path) -> None:
    result = create_deployment(tmp_path, {})
    args = ["demo", "--data-dir", str(tmp_path), "--customers", "1", "--days", "1"]
    env = {"SERVINFO_TOKEN": result.admin_token}
    shown = CliRunner().invoke(app, args, env=env)
    assert shown.exit_code == 0, shown.output
    assert "retention_sweep" in shown.output
    assert "servinfo jobs list" in shown.output
    as_json = CliRunner().invoke(app, [*args, "--json"], env=env)
    jobs = json.loads(as_json.stdout)["jobs"]
    assert sorted(j["kind"] for j in jobs) == sorted(
        ["export_purge", "request_purge", "backup_expiry", "redaction_check", "drp_sync"]
        + ["retention_sweep"] * (len(jobs) - 5)
    )
    assert {j["state"] for j in jobs} == {"queued"}
