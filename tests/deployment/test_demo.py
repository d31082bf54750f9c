"""Demo data goes through the real ingest path and can be read back for a purpose."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from servinfo.deployment import create_deployment, open_deployment
from servinfo.deployment.demo import load_demo, service_principals


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
