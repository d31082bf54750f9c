"""Demo data goes through the real ingest path and can be read back for a purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.deployment.demo import load_demo, service_principals
from servinfo.deployment.errors import DeploymentError


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
