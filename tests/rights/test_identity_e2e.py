"""A person who knows only their e-mail address exercises a right, end to end.

The codes and the answer travel over real SMTP to a local aiosmtpd server on
127.0.0.1 (an ephemeral port): nothing reads them out of servinfo's tables.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from tests.rights.world import code_in
from tests.support import PostgresDatabases

from servinfo.api import create_app
from servinfo.collect.outcome import Outcome
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.jobs import Registry, Worker
from servinfo.jobs.kinds import DSR_PROCESS, servinfo_registry
from servinfo.rights import OutboxNotifier


@dataclass
class Inbox:
    """What the local SMTP server received: (envelope recipients, message)."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.received if address in rcpt]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class Site:
    deployment: Deployment
    client: TestClient
    officer: dict[str, str]

    def ingest_profile(self, subject: str, fields: dict[str, Any]) -> None:
        identity = self.deployment.principals.get("identity-svc")
        obj = {
            "type": "record",
            "subject": subject,
            "kind": "account.profile",
            "collected_at": "2026-03-02T09:30:00+00:00",
            "fields": fields,
        }
        [outcome] = self.deployment.collector.ingest_many([(identity, obj, None)])
        assert isinstance(outcome, Outcome), outcome

    def run_jobs(self) -> None:
        registry = Registry([servinfo_registry([]).get(DSR_PROCESS)])
        worker = Worker(self.deployment.jobs.queue, registry, deployment=self.deployment)
        worker.run_until_idle()


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[Site]:
    _, port = smtp
    data_dir = tmp_path / "deployment"
    template = None
    if request.param == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    created = create_deployment(data_dir, {}, database_url_template=template)
    env = {
        "SERVINFO_NOTIFY_EMAIL": "smtp",
        "SERVINFO_NOTIFY_SMTP_HOST": "127.0.0.1",
        "SERVINFO_NOTIFY_SMTP_PORT": str(port),
        "SERVINFO_NOTIFY_SMTP_TLS": "none",
        "SERVINFO_NOTIFY_MAIL_FROM": "privacy@ims-network.example",
        "SERVINFO_NOTIFY_CODE_ANSWER_MS": "50",
    }
    deployment = open_deployment(data_dir, env)
    directory = deployment.directory
    directory.add_organization("org-eu", "Example GmbH", "eu")
    directory.add_organization("org-eu2", "Other GmbH", "eu")
    directory.register_subject("subj-ada", "org-eu", "DE")
    directory.register_subject("subj-ada-2", "org-eu2", "DE")
    directory.register_subject("subj-bob", "org-eu", "DE")
    service = deployment.principal_service
    service.add(
        "identity-svc", kind="service", role="ingest", region=None, binding="identity",
        actor="admin",
    )  # fmt: skip
    dpo = service.add("dpo", kind="employee", role="privacy_officer", region="eu", actor="admin")
    client = TestClient(create_app(deployment))
    site = Site(deployment, client, {"Authorization": f"Bearer {dpo.token}"})
    site.ingest_profile("subj-ada", {"username": "ada", "email": "Ada.Lovelace@Example.TEST"})
    site.ingest_profile("subj-bob", {"username": "bob", "email": "bob@example.test"})
    assert created.admin_token
    try:
        yield site
    finally:
        client.close()
        deployment.close()


def test_a_person_with_only_their_email_erases_their_data(
    site: Site, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    client = site.client
    # (1) They type their address (the domain in another case) and ask for an erasure.
    asked = client.post(
        "/v1/self-service/requests",
        json={"type": "erasure", "email": "Ada.Lovelace@example.test"},
    )
    assert asked.status_code == 202, asked.text
    reference = asked.json()["request"]
    # (2) The code arrives by SMTP at the address they typed, and only there.
    (message,) = inbox.to("Ada.Lovelace@example.test")
    assert message["From"] == "privacy@ims-network.example"
    code = code_in([message], reference)
    # Nobody else got mail, and the operator's outbox never holds the code.
    assert len(inbox.received) == 1
    outbox = client.get("/v1/outbox", params={"pending": False}, headers=site.officer).json()
    assert code not in json.dumps(outbox)
    assert "Ada.Lovelace" not in json.dumps(outbox)
    # (3) They verify with it.
    verified = client.post(f"/v1/requests/{reference}/verify", json={"code": code})
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified"
    # (4) The operator has it processed; the person gets the answer by e-mail.
    queued = client.post(f"/v1/requests/{reference}/process", json={}, headers=site.officer)
    assert queued.status_code == 202, queued.text
    site.run_jobs()
    answered = client.get(f"/v1/requests/{reference}", headers=site.officer).json()
    assert answered["state"] == "completed"
    answers = [m for m in inbox.to("Ada.Lovelace@example.test") if "answer" in m["Subject"]]
    (answer,) = answers
    body = answer.get_body(("plain",))
    assert body is not None
    assert f"Your request {reference} (erasure) is completed." in body.get_content()
    (attachment,) = list(answer.iter_attachments())
    receipt = json.loads(attachment.get_content())
    assert receipt["entry"]
    # Sent by e-mail, the completion is nothing the mailer has to send (and, sent, it went
    # with the unlinking of the erased subject's messages).
    pending = OutboxNotifier(site.deployment.control).pending()
    assert [n.kind for n in pending if n.request_id == reference] == ["receipt_notice"]
    # (5) The person is erased: their address finds no one any more.
    again = client.post(
        "/v1/subjects/find", json={"email": "Ada.Lovelace@example.test"}, headers=site.officer
    )
    assert again.json() == {"subjects": []}


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    site: Site, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    known = site.client.post(
        "/v1/self-service/requests", json={"type": "access", "email": "bob@example.test"}
    )
    unknown = site.client.post(
        "/v1/self-service/requests", json={"type": "access", "email": "eve@example.test"}
    )
    # Someone else's local part on a known domain is unknown too (local parts are exact).
    other_case = site.client.post(
        "/v1/self-service/requests", json={"type": "access", "email": "BOB@example.test"}
    )
    for answer in (known, unknown, other_case):
        assert answer.status_code == 202
        assert set(answer.json()) == {"request", "detail"}
        assert answer.json()["detail"] == known.json()["detail"]
        assert len(answer.json()["request"]) == len(known.json()["request"])
    assert [rcpt for rcpt, _ in inbox.received] == [["bob@example.test"]]
    # Asked again within the minute: the same answer, and no second message to flood an inbox.
    again = site.client.post(
        "/v1/self-service/requests", json={"type": "access", "email": "bob@example.test"}
    )
    assert again.status_code == 202
    assert again.json()["detail"] == known.json()["detail"]
    assert len(inbox.received) == 1
    # The reference of an unknown address fails verification like a wrong code.
    for answer in (unknown, known):
        refused = site.client.post(
            f"/v1/requests/{answer.json()['request']}/verify", json={"code": "ABCDEFGHJK"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"] == "verification_failed"
    # Input that is wrong whoever sends it is refused alike.
    bad = site.client.post(
        "/v1/self-service/requests", json={"type": "access", "email": "not an address"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_identifier"


def test_one_address_in_two_organizations_is_never_resolved_silently(
    site: Site, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    site.ingest_profile("subj-ada-2", {"username": "ada2", "email": "Ada.Lovelace@example.test"})
    client, officer = site.client, site.officer
    # The person is told, at their address, which organizations; nothing is opened.
    asked = client.post(
        "/v1/self-service/requests",
        json={"type": "access", "email": "Ada.Lovelace@example.test"},
    )
    assert asked.status_code == 202
    (choice,) = inbox.to("Ada.Lovelace@example.test")
    assert choice["Subject"] == "Which account is your request for?"
    text = choice.get_body(("plain",))
    assert text is not None
    lines = [line.strip() for line in text.get_content().splitlines()]
    assert "org-eu" in lines
    assert "org-eu2" in lines
    assert client.get("/v1/requests", headers=officer).json() == []
    # Naming the organization opens the request and sends the code.
    named = client.post(
        "/v1/self-service/requests",
        json={"type": "access", "email": "Ada.Lovelace@example.test", "organization": "org-eu2"},
    )
    code = code_in(inbox.to("Ada.Lovelace@example.test"), named.json()["request"])
    verified = client.post(f"/v1/requests/{named.json()['request']}/verify", json={"code": code})
    assert verified.json()["subject"] == "subj-ada-2"
    # An operator is told it is ambiguous, with the organizations, and names one.
    ambiguous = client.post(
        "/v1/requests",
        json={"type": "access", "email": "Ada.Lovelace@example.test"},
        headers=officer,
    )
    assert ambiguous.status_code == 409
    assert ambiguous.json()["error"] == "ambiguous_identifier"
    assert "org-eu, org-eu2" in ambiguous.json()["detail"]
    opened = client.post(
        "/v1/requests",
        json={"type": "access", "email": "Ada.Lovelace@example.test", "organization": "org-eu"},
        headers=officer,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["subject"] == "subj-ada"
    nobody = client.post(
        "/v1/requests", json={"type": "access", "email": "eve@example.test"}, headers=officer
    )
    assert nobody.status_code == 404
    assert "eve" not in nobody.json()["detail"]
