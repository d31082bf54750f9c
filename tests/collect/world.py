"""A real deployment with an identity and a platform service principal, for ingest tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import text

from servinfo.api import create_app
from servinfo.deployment import Deployment, create_deployment, open_deployment

COLLECTED = "2026-11-20T08:15:02Z"


def login(subject: str = "sub-ada", **fields: Any) -> dict[str, Any]:
    """An ``telemetry.auth_event`` record from the identity service."""
    return {
        "type": "record",
        "subject": subject,
        "kind": "telemetry.auth_event",
        "collected_at": COLLECTED,
        "fields": {"event": "login_failure", "method": "password", **fields},
    }


def usage(subject: str = "sub-ada", **fields: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "kind": "telemetry.usage",
        "collected_at": COLLECTED,
        "fields": {"resource_id": "vm-1", "metric": "cpu_seconds", "quantity": 12.5, **fields},
    }


def ndjson(objects: Sequence[object]) -> bytes:
    return b"".join(
        (o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objects
    )


@dataclass
class IngestWorld:
    deployment: Deployment
    client: TestClient
    tokens: dict[str, str]

    def headers(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(self, who: str, obj: object, key: str | None = None) -> httpx2.Response:
        return self.client.post("/v1/records", json=obj, headers=self.headers(who, key))

    def batch(self, who: str, body: bytes, key: str | None = None) -> httpx2.Response:
        headers = {**self.headers(who, key), "Content-Type": "application/x-ndjson"}
        return self.client.post("/v1/records:batch", content=body, headers=headers)

    def records(self, subject: str, purpose: str = "legal") -> list[dict[str, Any]]:
        answer = self.client.get(
            f"/v1/subjects/{subject}/records",
            params={"purpose": purpose},
            headers=self.headers("admin"),
        )
        assert answer.status_code == 200, answer.text
        records: list[dict[str, Any]] = answer.json()["records"]
        return records

    def count(self, region: str = "eu") -> int:
        with self.deployment.regions[region].connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM records")).scalar_one())


def add_services(deployment: Deployment, tokens: dict[str, str]) -> None:
    service = deployment.principal_service
    for name, kind, role, region, binding in (
        ("identity", "service", "ingest", None, "identity"),
        ("platform", "service", "ingest", None, "platform"),
        ("support", "service", "ingest", None, "support"),
        ("dsr", "service", "rights", None, "identity"),
        ("support-eu", "employee", "support_engineer", "eu", None),
    ):
        issued = service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor="admin"
        )
        tokens[name] = issued.token


def create(path: Path, url_template: str | None = None) -> str:
    """A new deployment at ``path``; the admin token."""
    env: dict[str, str] = {}
    result = create_deployment(path, env, database_url_template=url_template)
    return result.admin_token


def populate(path: Path, url_template: str | None = None) -> dict[str, str]:
    """Create a deployment at ``path`` with principals, organizations and subjects; the tokens."""
    tokens = {"admin": create(path, url_template)}
    with open_deployment(path, {}) as deployment:
        add_services(deployment, tokens)
        with TestClient(create_app(deployment)) as client:
            world = IngestWorld(deployment, client, tokens)
            for obj in (
                {
                    "type": "organization",
                    "id": "org-eu",
                    "name": "Example GmbH",
                    "home_region": "eu",
                },
                {
                    "type": "organization",
                    "id": "org-us",
                    "name": "Example Inc",
                    "home_region": "us",
                },
                {"type": "subject", "id": "sub-ada", "org": "org-eu", "jurisdiction": "DE"},
                {"type": "subject", "id": "sub-bob", "org": "org-us", "jurisdiction": "US-CA"},
            ):
                answer = world.post("identity", obj)
                assert answer.status_code == 201, answer.text
    return tokens


@contextmanager
def ingest_world(path: Path, tokens: dict[str, str]) -> Iterator[IngestWorld]:
    """Open the populated deployment at ``path`` with an app around it."""
    deployment = open_deployment(path, {})
    # Entered: one event loop serves every request, as in a worker, and the
    # lifespan runs (its end closes the deployment).
    with TestClient(create_app(deployment)) as client:
        yield IngestWorld(deployment, client, tokens)
