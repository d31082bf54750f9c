"""A real deployment (SQLite in tmp_path, or PostgreSQL) with subjects under several regimes.

``subj-de`` (GDPR, home region eu) has an account profile, a sign-in event, an
invoice and billing details (kept by law), a pre-credit check (derived fields)
and a support ticket, and its account data was disclosed to the processor
``relay_mail``. ``subj-ca`` (CCPA), ``subj-ch`` (FADP), ``subj-gb`` (UK GDPR)
and ``subj-sg`` (PDPA) have a profile each. All data is synthetic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from servinfo.access.identifiers import canonical_identifiers, identifier_fields
from servinfo.api import create_app
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.policy import load_policy_text
from servinfo.policy.loading import default_policy_text
from servinfo.rights import Notice, OutboxNotifier, RightsService
from servinfo.rights.delivery import InsecureDevMailbox
from servinfo.store import NewRecord

#: Codes and answers go to the dev mailbox (data_dir/mailbox) and the dev SMS folder.
DEV_NOTIFY = {"SERVINFO_NOTIFY_EMAIL": "dev_mailbox", "SERVINFO_NOTIFY_SMS": "dev"}
COLLECTED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)

_LOOKUPS = {"email", "username", "billing_email"}
_IDENTIFIERS = identifier_fields(load_policy_text(default_policy_text(), "default.yaml"))
_LEGAL = {"payments.charge", "payments.payment", "payments.billing_details"}


@dataclass
class World:
    deployment: Deployment
    client: TestClient
    tokens: dict[str, str]
    record_ids: dict[str, str]
    data_dir: Path

    @property
    def rights(self) -> RightsService:
        return self.deployment.rights

    @property
    def outbox(self) -> OutboxNotifier:
        return OutboxNotifier(self.deployment.control)

    def notices(self, **filters: Any) -> list[Notice]:
        return self.outbox.notices(**filters)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def mailbox(self) -> InsecureDevMailbox:
        return InsecureDevMailbox(self.deployment.settings.notify_mailbox_dir, warn=False)

    def code_for(self, request_id: str) -> str:
        """The code in the newest message about ``request_id`` in the dev mailbox."""
        return code_in(self.mailbox.messages(), request_id)


def code_in(messages: list[EmailMessage], request_id: str) -> str:
    """The verification code of the newest of ``messages`` about ``request_id``."""
    for message in reversed(messages):
        if request_id in str(message["Subject"]) and "verification code" in str(message["Subject"]):
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(r"^\s+([0-9A-Z]{10})\s*$", body.get_content(), re.MULTILINE)
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no code for {request_id} in the mailbox")


def record(kind: str, fields: dict[str, Any], subject: str = "subj-de") -> NewRecord:
    category = kind.split(".")[0]
    return NewRecord(
        subject_id=subject,
        category=category,
        kind=kind,
        source="identity" if category == "account" else "platform",
        collected_at=COLLECTED,
        fields=fields,
        retention_class="legal_obligation" if kind in _LEGAL else "standard",
        retain_until=dt.date(2036, 3, 2),
        lookup_fields={k: str(v) for k, v in fields.items() if k in _LOOKUPS},
        identifiers=canonical_identifiers(_IDENTIFIERS.get(kind, ()), fields),
    )


def _profile(name: str) -> dict[str, Any]:
    return {"username": name, "email": f"{name}@example.test", "given_name": name.title()}


@contextmanager
def build_world(tmp_path: Path, url_template: str | None = None) -> Iterator[World]:
    data_dir = tmp_path / "deployment"
    result = create_deployment(data_dir, {}, database_url_template=url_template)
    deployment = open_deployment(data_dir, DEV_NOTIFY)
    directory = deployment.directory
    directory.add_organization("org-eu", "Example Org", "eu")
    directory.add_organization("org-us", "Example US", "us")
    directory.add_organization("org-ch", "Example CH", "ch")
    directory.add_organization("org-uk", "Example UK", "uk")
    directory.add_organization("org-sg", "Example SG", "apac")
    for subject, org, jurisdiction in (
        ("subj-de", "org-eu", "DE"),
        ("subj-fr", "org-eu", "FR"),
        ("subj-ca", "org-us", "US-CA"),
        ("subj-ch", "org-ch", "CH"),
        ("subj-gb", "org-uk", "GB"),
        ("subj-sg", "org-sg", "SG"),
    ):
        directory.register_subject(subject, org, jurisdiction)
    writer = deployment.writer
    ids = {
        "profile": writer.put(record("account.profile", _profile("ada"))),
        "login": writer.put(
            record(
                "telemetry.auth_event",
                {"event": "login_success", "ip_address": "203.0.113.77", "country": "DE"},
            )
        ),
        "invoice": writer.put(
            record("payments.charge", {"invoice_id": "INV-1", "amount": 12.5, "currency": "EUR"})
        ),
        "billing": writer.put(
            record(
                "payments.billing_details",
                {"billing_name": "Ada Example", "billing_email": "billing-ada@example.test"},
            )
        ),
        "credit": writer.put(
            record(
                "payments.credit_check",
                {"check_id": "CC-1", "provider": "crediva", "score": 712, "decision": "approve"},
            )
        ),
        "ticket": writer.put(
            record(
                "communications.support_ticket",
                {"ticket_id": "T-1", "message": "=SUM(A1) my VM is down", "severity": "high"},
            )
        ),
        "other": writer.put(record("account.profile", _profile("bob"), subject="subj-fr")),
    }
    for subject in ("subj-ca", "subj-ch", "subj-gb", "subj-sg"):
        ids[subject] = writer.put(record("account.profile", _profile(subject), subject=subject))
    deployment.ledgers.register_disclosure(
        recipient="relay_mail",
        recipient_kind="processor",
        basis="processor",
        subject_id="subj-de",
        categories=["account"],
        purpose="provide",
        record_count=1,
        actor="admin",
        now=COLLECTED,
    )
    service = deployment.principal_service
    tokens = {"admin": result.admin_token}
    for name, kind, role, region, binding in (
        ("dpo", "employee", "privacy_officer", "eu", None),
        ("support-eu", "employee", "support_engineer", "eu", None),
        ("ada", "subject", "account_holder", None, "subj-de"),
        ("bob", "subject", "account_holder", None, "subj-fr"),
    ):
        issued = service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor="admin"
        )
        tokens[name] = issued.token
    client = TestClient(create_app(deployment))
    try:
        yield World(deployment, client, tokens, ids, data_dir)
    finally:
        client.close()
        deployment.close()
