"""DRP 1.0 conformance: pairwise key setup and the validation chain of section 3.07.

Requests are signed the way agents sign them, with PyNaCl (libsodium) in
combined mode — never with servinfo's own code. Every failure of the chain is
checked, and so is its order. Shared helpers (the agent, the fake callback
sender, the ``drp`` fixture) are imported by the other ``test_drp_*`` modules.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from fastapi import FastAPI
from httpx2 import Response
from nacl.signing import SigningKey
from tests.rights.world import NOW, World, record

from servinfo.access.identifiers import normalise_email, normalise_phone
from servinfo.config import ConfigError, load_settings
from servinfo.jobs import Job, JobContext, JobKind, Registry, Worker
from servinfo.jobs.kinds import DRP_CALLBACK
from servinfo.rights.drp import CallbackResult, DrpService
from servinfo.rights.drp.models import DrpRequestRow

BUSINESS = "IMS_NETWORK"
#: The identifiers of the consumer ``subj-ca`` (synthetic: example.test, a 555 number).
CONSUMER_EMAIL = "Casey.Example@Example.TEST"
CONSUMER_PHONE = "+14155550123"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class FakeSender:
    """Records every callback; answers ``fail`` times with a failure first."""

    fail: int = 0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, url: str, status: Mapping[str, Any]) -> CallbackResult:
        self.calls.append((url, dict(status)))
        if self.fail > 0:
            self.fail -= 1
            return CallbackResult(False, "ConnectTimeout")
        return CallbackResult(True, "HTTP 200")

    def statuses(self) -> list[str]:
        return [body["status"] for _, body in self.calls]


@dataclass
class Agent:
    """An authorized agent as the protocol sees it: an id and a libsodium signing key."""

    agent_id: str
    key: SigningKey = field(default_factory=SigningKey.generate)
    token: str = ""

    @property
    def verify_key(self) -> bytes:
        return bytes(self.key.verify_key)

    def sign(self, claims: Mapping[str, Any], key: SigningKey | None = None) -> str:
        signed = (key or self.key).sign(json.dumps(claims).encode("utf-8"))
        return base64.b64encode(bytes(signed)).decode("ascii")

    def envelope(self, now: dt.datetime = NOW, **claims: Any) -> dict[str, Any]:
        return {
            "agent-id": self.agent_id,
            "business-id": BUSINESS,
            "issued-at": (now - dt.timedelta(minutes=1)).isoformat(),
            "expires-at": (now + dt.timedelta(minutes=10)).isoformat(),
            "drp.version": "1.0",
            **claims,
        }

    def exercise(self, action: str, **claims: Any) -> dict[str, Any]:
        """A Data Rights Exercise for the consumer ``subj-ca``: their e-mail address and phone
        number, both verified by the agent, as DRP section 3.04 has agents send them."""
        defaults: dict[str, Any] = {
            "exercise": action,
            "regime": "ccpa",
            "status_callback": "https://agent.example/status",
            "name": "Casey Example",
            "email": CONSUMER_EMAIL,
            "email_verified": True,
            "phone_number": CONSUMER_PHONE,
            "phone_number_verified": True,
        }
        return self.envelope(**{**defaults, **claims})

    def revocation(self, request_id: str, reason: str | None = None) -> dict[str, Any]:
        """A revoke message (section 2.04): the 3.07 claims, and the request it revokes."""
        claims = self.envelope(request_id=request_id)
        if reason is not None:
            claims["reason"] = reason
        return claims

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "text/plain"}


@dataclass
class Drp:
    world: World
    service: DrpService
    sender: FakeSender
    clock: Clock
    agent: Agent

    def pair(self, agent: Agent) -> Agent:
        self.service.agents.register(agent.agent_id, agent.verify_key, actor="admin")
        answer = self.world.client.post(
            f"/v1/agent/{agent.agent_id}",
            content=agent.sign(agent.envelope(self.clock.now)),
            headers={"Content-Type": "text/plain"},
        )
        assert answer.status_code == 200, answer.text
        agent.token = answer.json()["token"]
        return agent

    def post(self, body: str, agent: Agent | None = None) -> Response:
        who = agent or self.agent
        return self.world.client.post("/v1/data-rights-request", content=body, headers=who.headers)

    def get(self, request_id: str, agent: Agent | None = None) -> Response:
        who = agent or self.agent
        return self.world.client.get(f"/v1/data-rights-request/{request_id}", headers=who.headers)

    def delete(self, request_id: str, body: str, agent: Agent | None = None) -> Response:
        who = agent or self.agent
        return self.world.client.request(
            "DELETE", f"/v1/data-rights-request/{request_id}", content=body, headers=who.headers
        )

    def run_callbacks(self, *, later: dt.timedelta = dt.timedelta(0)) -> list[Job]:
        """What a worker does with the queued status callbacks (``later``: after backoffs)."""
        service = self.service

        def deliver(context: JobContext) -> Mapping[str, Any]:
            return service.callback_job(str(context.params["request_id"]), now=self.clock.now)

        registry = Registry([JobKind(DRP_CALLBACK, deliver, "status callbacks, test sender")])
        queue = self.world.deployment.jobs.queue
        worker = Worker(
            queue, registry, deployment=self.world.deployment, clock=lambda: _utcnow() + later
        )
        ran = []
        while (job := worker.run_one()) is not None:
            ran.append(job)
        return ran

    def drp_request_count(self) -> int:
        with self.world.deployment.control.connect() as connection:
            return len(connection.execute(DrpRequestRow.__table__.select()).all())


def add_consumer(world: World, subject: str, email: str, phone: str | None = None) -> None:
    """An account profile of ``subject`` with these identifiers (their blind indexes)."""
    fields = {"username": f"{subject}-drp", "email": email}
    identifiers = {"email": normalise_email(email)}
    if phone is not None:
        fields["phone"] = phone
        identifiers["phone"] = normalise_phone(phone)
    world.deployment.writer.put(
        replace(record("account.profile", fields, subject=subject), identifiers=identifiers)
    )


def make_drp(world: World, **options: Any) -> Drp:
    """The DRP service of ``world`` with a recording sender; ``subj-ca`` known by
    :data:`CONSUMER_EMAIL` and :data:`CONSUMER_PHONE`; the agent paired."""
    add_consumer(world, "subj-ca", CONSUMER_EMAIL, CONSUMER_PHONE)
    sender, clock = FakeSender(), Clock()
    service = DrpService.for_deployment(world.deployment, sender=sender, clock=clock, **options)
    app = world.client.app
    assert isinstance(app, FastAPI)
    app.state.drp = service
    drp = Drp(world, service, sender, clock, Agent("CR_AA_DRP_ID_001"))
    drp.pair(drp.agent)
    return drp


@pytest.fixture
def drp(world: World) -> Drp:
    return make_drp(world)


# -- pairwise key setup (section 2.05) and agent information (2.06) -------------------------


def test_pairwise_setup_issues_a_token_that_agent_information_accepts(drp: Drp) -> None:
    client, agent = drp.world.client, drp.agent
    assert agent.token.startswith("svi_")
    assert client.get(f"/v1/agent/{agent.agent_id}", headers=agent.headers).json() == {}
    other = client.get("/v1/agent/SOMEONE_ELSE", headers=agent.headers)
    assert other.status_code == 403
    assert other.json()["code"] == "403"
    principal = drp.world.deployment.principal_service.authenticate(agent.token)
    assert (principal.kind, principal.role, principal.binding) == (
        "authorized_agent",
        "authorized_agent",
        agent.agent_id,
    )


def test_a_new_setup_supersedes_the_token_and_a_setup_message_is_used_once(drp: Drp) -> None:
    client, agent = drp.world.client, drp.agent
    old = agent.token
    body = agent.sign(agent.envelope(drp.clock.now + dt.timedelta(seconds=30), nonce="second"))
    first = client.post(f"/v1/agent/{agent.agent_id}", content=body)
    assert first.status_code == 200
    assert first.json()["agent-id"] == agent.agent_id
    replayed = client.post(f"/v1/agent/{agent.agent_id}", content=body)
    assert (replayed.status_code, replayed.content) == (403, b"")
    stale = client.get(f"/v1/agent/{agent.agent_id}", headers={"Authorization": f"Bearer {old}"})
    assert stale.status_code == 401
    assert stale.json()["code"] == "401"


def test_pairwise_setup_refuses_an_unknown_agent_with_a_bodiless_403(drp: Drp) -> None:
    stranger = Agent("UNKNOWN_AGENT")
    answer = drp.world.client.post(
        "/v1/agent/UNKNOWN_AGENT", content=stranger.sign(stranger.envelope())
    )
    assert (answer.status_code, answer.content) == (403, b"")


@pytest.mark.parametrize(
    "tamper",
    [
        "other_key",
        "url_mismatch",
        "wrong_business",
        "expired",
        "undecodable",
        "old_version",
    ],
)
def test_pairwise_setup_refuses_invalid_messages(drp: Drp, tamper: str) -> None:
    agent = drp.agent
    claims = agent.envelope()
    key = None
    if tamper == "other_key":
        key = SigningKey.generate()
    elif tamper == "url_mismatch":
        claims["agent-id"] = "ANOTHER_AGENT"
    elif tamper == "wrong_business":
        claims["business-id"] = "another-business"
    elif tamper == "expired":
        claims["expires-at"] = (NOW - dt.timedelta(seconds=1)).isoformat()
    elif tamper == "old_version":
        claims["drp.version"] = "0.9"
    body = "%%%" if tamper == "undecodable" else agent.sign(claims, key)
    answer = drp.world.client.post(f"/v1/agent/{agent.agent_id}", content=body)
    assert (answer.status_code, answer.content) == (403, b"")


# -- the validation chain of POST /v1/data-rights-request (section 3.07) ---------------------

_Case = Callable[[Agent], str]


def _claims(**changes: Any) -> _Case:
    def build(agent: Agent) -> str:
        claims = agent.exercise("sale:opt-out")
        claims.update(changes)
        return agent.sign(claims)

    return build


def _flip_last_byte(agent: Agent) -> str:
    raw = bytearray(base64.b64decode(agent.sign(agent.exercise("sale:opt-out"))))
    raw[-2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


_OTHER = SigningKey.generate()
_FUTURE = (NOW + dt.timedelta(minutes=5)).isoformat()
_PAST = (NOW - dt.timedelta(seconds=1)).isoformat()
_ANCIENT = (NOW - dt.timedelta(hours=2)).isoformat()

CHAIN: dict[str, tuple[_Case, int, bool, str]] = {
    # (1) decoding
    "not base64": (lambda a: "this is not base64!", 400, False, "not base64"),
    "base64 without padding": (lambda a: a.sign(a.exercise("access"))[:-1], 400, False, "base64"),
    # (2) the signature, against the token's agent's key
    "shorter than a signature": (
        lambda a: base64.b64encode(b"x" * 10).decode(),
        403,
        False,
        "not signed",
    ),
    "tampered message": (_flip_last_byte, 403, False, "not signed"),
    "signed by another key": (
        lambda a: a.sign(a.exercise("sale:opt-out"), _OTHER),
        403,
        False,
        "not signed",
    ),
    "signed, not JSON": (
        lambda a: base64.b64encode(bytes(a.key.sign(b"\xff not json"))).decode(),
        400,
        True,
        "not JSON",
    ),
    # (3) agent-id against the token
    "agent-id of another agent": (_claims(**{"agent-id": "OTHER_AGENT"}), 403, False, "OTHER"),
    "no agent-id": (_claims(**{"agent-id": None}), 400, True, "agent-id"),
    # (4) business-id
    "another business": (_claims(**{"business-id": "acme"}), 403, True, "'acme'"),
    # (5) issued-at
    "issued in the future": (_claims(**{"issued-at": _FUTURE}), 400, False, "after the current"),
    "issued too long ago": (_claims(**{"issued-at": _ANCIENT}), 400, True, "older than"),
    "issued-at without a zone": (
        _claims(**{"issued-at": "2026-05-04T09:59:00"}),
        400,
        True,
        "time zone",
    ),
    # (6) expires-at
    "expired": (_claims(**{"expires-at": _PAST}), 400, True, "has passed"),
    "expires-at not a time": (_claims(**{"expires-at": "soon"}), 400, True, "ISO 8601"),
    # the order: the first failing step answers
    "other key and wrong agent": (
        lambda a: a.sign({**a.exercise("access"), "agent-id": "X"}, _OTHER),
        403,
        False,
        "not signed",
    ),
    "wrong agent and wrong business": (
        _claims(**{"agent-id": "X", "business-id": "acme"}),
        403,
        False,
        "'X'",
    ),
    "wrong business and expired": (
        _claims(**{"business-id": "acme", "expires-at": _PAST}),
        403,
        True,
        "'acme'",
    ),
    "issued in the future and expired": (
        _claims(**{"issued-at": _FUTURE, "expires-at": _PAST}),
        400,
        False,
        "after the current",
    ),
    # then the request itself
    "unsupported exercise": (_claims(exercise="access:specific"), 400, True, "unsupported"),
    "unsupported regime": (_claims(regime="gdpr"), 400, True, "regime"),
    "old protocol version": (_claims(**{"drp.version": "0.9.4"}), 400, True, "drp.version"),
    "callback not a URL": (_claims(status_callback="agent.example/status"), 400, True, "URL"),
}


@pytest.mark.parametrize("case", sorted(CHAIN))
def test_every_validation_failure_answers_the_spec_error_object(drp: Drp, case: str) -> None:
    build, status, fatal, words = CHAIN[case]
    answer = drp.post(build(drp.agent))
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == str(status)
    assert words in body["message"]
    assert body.get("fatal", False) is fatal
    assert set(body) <= {"code", "message", "fatal"}
    assert drp.drp_request_count() == 0
    assert drp.world.rights.list_requests() == []


def test_the_bearer_token_must_be_a_current_authorized_agent_token(drp: Drp) -> None:
    client, body = drp.world.client, drp.agent.sign(drp.agent.exercise("sale:opt-out"))
    missing = client.post("/v1/data-rights-request", content=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = client.post(
        "/v1/data-rights-request", content=body, headers={"Authorization": "Bearer svi_nope"}
    )
    assert unknown.status_code == 401
    staff = client.post("/v1/data-rights-request", content=body, headers=drp.world.headers("dpo"))
    assert staff.status_code == 403
    assert staff.json()["code"] == "403"


def test_a_signed_request_is_accepted_once(drp: Drp) -> None:
    body = drp.agent.sign(drp.agent.exercise("sale:opt-out"))
    assert drp.post(body).status_code == 200
    again = drp.post(body)
    assert again.status_code == 409
    assert again.json()["fatal"] is True
    assert drp.drp_request_count() == 1


def test_an_agent_a_few_seconds_fast_is_within_the_clock_skew(drp: Drp) -> None:
    claims = drp.agent.exercise("sale:opt-out")
    claims["issued-at"] = (NOW + dt.timedelta(seconds=2)).isoformat()
    assert drp.post(drp.agent.sign(claims)).status_code == 200
    claims["issued-at"] = (NOW + dt.timedelta(seconds=61)).isoformat()
    assert drp.post(drp.agent.sign(claims)).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/data-rights-request/x/y", 404),
        ("GET", "/v1/agent/A/more", 404),
        ("PUT", "/v1/data-rights-request/00000000-0000-4000-8000-000000000000", 405),
        ("PATCH", "/v1/agent/CR_AA_DRP_ID_001", 405),
    ],
)
def test_the_app_s_own_errors_on_drp_routes_are_the_spec_error_object(
    drp: Drp, method: str, path: str, status: int
) -> None:
    answer = drp.world.client.request(method, path, headers=drp.agent.headers)
    assert answer.status_code == status
    assert set(answer.json()) == {"code", "message"}
    assert answer.json()["code"] == str(status)


def test_a_body_over_the_limit_is_the_spec_error_object(drp: Drp) -> None:
    limit = drp.world.deployment.settings.max_request_bytes
    declared = drp.post("x" * (limit + 1))
    assert declared.status_code == 413
    assert declared.json()["code"] == "413"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = drp.world.client.post(
        "/v1/data-rights-request", content=chunks(), headers=drp.agent.headers
    )
    assert streamed.status_code == 413
    assert set(streamed.json()) == {"code", "message"}


def test_settings_refuse_a_business_id_outside_the_directory_s_pattern(world: World) -> None:
    with pytest.raises(ConfigError, match=r"\[A-Z_\]\+"):
        load_settings(world.data_dir, {"SERVINFO_DRP_BUSINESS_ID": "ims-network"})
    with pytest.raises(ConfigError, match="verify_access"):
        load_settings(world.data_dir, {"SERVINFO_DRP_VERIFY_ACCESS": "trust_me"})
    settings = load_settings(
        world.data_dir,
        {
            "SERVINFO_DRP_BUSINESS_ID": "ACME_CORP",
            "SERVINFO_DRP_CLOCK_SKEW_SECONDS": "5",
            "SERVINFO_DRP_VERIFY_DELETION": "consumer",
            "SERVINFO_DRP_TRUSTED_AGENTS": "A, B",
        },
    )
    assert settings.drp_business_id == "ACME_CORP"
    assert settings.drp_clock_skew_seconds == 5
    assert settings.drp_verification["deletion"] == "consumer"
    assert settings.drp_trusted_agents == ("A", "B")
