"""A real deployment (SQLite, in tmp_path) for the sharing tests: one EU subject with
records in three categories, a processor, two legal counsels and a privacy officer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.api.world import _record

from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.policy import Policy
from servinfo.policy.loading import default_policy_text
from servinfo.store import Principal

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
#: Staff who disclose under consent read for the consent's purpose: their role serves it.
PARTNERSHIPS_ROLE = """\
  partnerships:
    name: Partnerships
    description: Discloses to third parties the subject consented to.
    principal_kinds: [employee]
    purposes: [provide, improve_use]
    categories: [account, payments, settings, communications]
    regions: [eu, uk, ch, us, apac]
    permissions: [share_records]
"""
SUBJECT = "subj-eu-1"
CALIFORNIAN = "subj-us-ca"
OTHER = "subj-eu-2"


@dataclass
class World:
    deployment: Deployment
    tokens: dict[str, str]
    principals: dict[str, Principal] = field(default_factory=dict)
    record_ids: dict[str, str] = field(default_factory=dict)

    def activate(self, policy: Policy) -> None:
        """Make ``policy`` the active one, as ``servinfo policy activate`` does."""
        document = json.dumps(policy.model_dump(mode="json"), sort_keys=True)
        self.deployment.policy_versions.record(policy.version, document)
        self.deployment.runtime.refresh(force=True)


@contextmanager
def build_world(tmp_path: Path) -> Iterator[World]:
    policy_file = tmp_path / "policy.yaml"
    text = default_policy_text()
    policy_file.write_text(
        text.replace("  billing_ops:\n", PARTNERSHIPS_ROLE + "  billing_ops:\n", 1)
    )
    result = create_deployment(tmp_path / "deployment", {}, policy_file=policy_file)
    deployment = open_deployment(tmp_path / "deployment", {})
    deployment.directory.add_organization("org-eu", "Example Org", "eu")
    deployment.directory.register_subject(SUBJECT, "org-eu", "DE")
    deployment.directory.register_subject(OTHER, "org-eu", "FR")
    deployment.directory.add_organization("org-us", "Example US", "us")
    deployment.directory.register_subject(CALIFORNIAN, "org-us", "US-CA")
    writer = deployment.writer
    world = World(deployment, {"admin": result.admin_token})
    world.record_ids = {
        "profile": writer.put(
            _record(
                "account.profile",
                {"username": "ada", "email": "ada@example.test", "given_name": "Ada"},
                SUBJECT,
            )
        ),
        "invoice": writer.put(
            _record(
                "payments.charge",
                {"invoice_id": "INV-1", "amount": 12.5, "currency": "EUR"},
                SUBJECT,
            )
        ),
        "other": writer.put(
            _record("account.profile", {"username": "bob", "email": "bob@example.test"}, OTHER)
        ),
    }
    service = deployment.principal_service
    for name, kind, role, region, binding in (
        ("mailer", "processor", "processor", None, "relay_mail"),
        ("payments", "processor", "processor", None, "northwind_payments"),
        ("counsel-a", "employee", "legal_counsel", "eu", None),
        ("counsel-b", "employee", "legal_counsel", "eu", None),
        ("officer", "employee", "privacy_officer", "eu", None),
        ("support-eu", "employee", "support_engineer", "eu", None),
        ("partners", "employee", "partnerships", "eu", None),
        ("cal", "subject", "account_holder", None, CALIFORNIAN),
    ):
        issued = service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor="admin"
        )
        world.tokens[name] = issued.token
        world.principals[name] = issued.principal
    try:
        yield world
    finally:
        deployment.close()
