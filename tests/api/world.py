"""A real deployment (SQLite, in tmp_path) with subjects, records and principals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from servinfo.api import create_app
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.store import NewRecord

COLLECTED = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)


@dataclass
class World:
    deployment: Deployment
    client: TestClient
    tokens: dict[str, str]
    record_ids: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _record(kind: str, fields: dict[str, object], subject: str = "subj-eu-1") -> NewRecord:
    category = kind.split(".")[0]
    return NewRecord(
        subject_id=subject,
        category=category,
        kind=kind,
        source="identity" if category == "account" else "platform",
        collected_at=COLLECTED,
        fields=fields,
        retention_class="legal_obligation" if category == "payments" else "standard",
        retain_until=dt.date(2036, 11, 1),
        lookup_fields={"email": str(fields["email"])} if "email" in fields else {},
    )


@contextmanager
def build_world(tmp_path: Path) -> Iterator[World]:
    result = create_deployment(tmp_path / "deployment", {})
    # Codes go to the dev mailbox (data_dir/mailbox): servinfo sends them itself.
    deployment = open_deployment(tmp_path / "deployment", {"SERVINFO_NOTIFY_EMAIL": "dev_mailbox"})
    deployment.directory.add_organization("org-eu", "Example Org", "eu")
    deployment.directory.register_subject("subj-eu-1", "org-eu", "DE")
    deployment.directory.register_subject("subj-eu-2", "org-eu", "FR")
    writer = deployment.writer
    record_ids = {
        "profile": writer.put(
            _record(
                "account.profile",
                {"username": "ada", "email": "ada@example.test", "given_name": "Ada"},
            )
        ),
        "login": writer.put(
            _record(
                "telemetry.auth_event",
                {"event": "login_success", "ip_address": "203.0.113.77", "user_agent": "cli/1.0"},
            )
        ),
        "invoice": writer.put(
            _record(
                "payments.charge",
                {"invoice_id": "INV-1", "amount": 12.5, "currency": "EUR"},
            )
        ),
        "other": writer.put(
            _record(
                "account.profile",
                {"username": "bob", "email": "bob@example.test"},
                subject="subj-eu-2",
            )
        ),
    }
    service = deployment.principal_service
    tokens = {"admin": result.admin_token}
    for name, kind, role, region, binding in (
        ("support-eu", "employee", "support_engineer", "eu", None),
        ("analyst-us", "employee", "product_analyst", "us", None),
        ("billing-eu", "employee", "billing_ops", "eu", None),
        ("mailer", "processor", "processor", None, "relay_mail"),
        ("ada", "subject", "account_holder", None, "subj-eu-1"),
    ):
        issued = service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor="admin"
        )
        tokens[name] = issued.token
    client = TestClient(create_app(deployment))
    try:
        yield World(deployment, client, tokens, record_ids)
    finally:
        client.close()
        deployment.close()
