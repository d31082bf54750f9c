"""Metadata is personal data: who exists, and who objected, reaches only those who may know.

A principal that may read a subject for some purpose (its own subject principal,
staff whose role reaches the subject's region, a processor whose contract covers
it) gets decisions with every reason. To everyone else (another subject, a
reporting service, staff of another region, a processor outside its contract) a
subject that exists and an id that exists nowhere look exactly alike: the same
status, error code, detail and headers, on every route that names a subject or
one of its records, and in the CLI.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.api.world import _record
from ulid import ULID

from servinfo.access.decisions import (
    Actor,
    Decider,
    SubjectState,
    compile_policy,
    decide,
    has_standing,
)
from servinfo.access.errors import Denied
from servinfo.access.grants import GrantRequired
from servinfo.api import create_app
from servinfo.cli.app import main
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.policy import Policy, load_policy, load_policy_text
from servinfo.policy.loading import default_policy_text

TARGET = "subj-eu-1"
#: The shipped policy's roles reach every region; this one only Asia-Pacific.
APAC_ROLE = """\
  support_apac:
    name: Support engineer (Asia-Pacific)
    description: Resolves support tickets for customers whose data lives in Asia-Pacific.
    principal_kinds: [employee]
    purposes: [provide]
    categories: [account, settings, telemetry, communications]
    regions: [apac]
"""

#: Callers that may not read the target for any purpose, by what they are.
OUTSIDERS = ("other-subject", "reporting-service", "staff-other-region", "processor-off-contract")
#: Callers that may read the target for some purpose.
INSIDERS = ("ada", "support-eu", "mailer", "dpo")


@dataclass
class World:
    deployment: Deployment
    client: TestClient
    tokens: dict[str, str]
    data_dir: Path
    record_id: str
    request_id: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    policy_file = tmp_path / "policy.yaml"
    text = default_policy_text()
    policy_file.write_text(text.replace("  billing_ops:\n", APAC_ROLE + "  billing_ops:\n", 1))
    data_dir = tmp_path / "deployment"
    created = create_deployment(data_dir, {}, policy_file=policy_file)
    deployment = open_deployment(data_dir, {})
    directory = deployment.directory
    directory.add_organization("org-eu", "Example Org", "eu")
    directory.register_subject(TARGET, "org-eu", "DE")
    directory.register_subject("subj-eu-2", "org-eu", "FR")
    record_id = deployment.writer.put(
        _record("account.profile", {"username": "ada", "email": "ada@example.test"}, TARGET)
    )
    deployment.writer.put(_record("account.profile", {"username": "bob"}, "subj-eu-2"))
    # What must not leak: the target objected to the credit check and restricted processing.
    deployment.ledgers.object(TARGET, "provide.credit_check", actor="subj-eu-1")
    deployment.ledgers.restrict(TARGET, reason="accuracy contested", actor="dpo")
    tokens = {"admin": created.admin_token}
    for name, kind, role, region, binding in (
        ("ada", "subject", "account_holder", None, TARGET),
        ("other-subject", "subject", "account_holder", None, "subj-eu-2"),
        ("reporting-service", "service", "ingest", "eu", "platform"),
        ("staff-other-region", "employee", "support_apac", "apac", None),
        ("processor-off-contract", "processor", "processor", None, "sahaya_support"),
        ("support-eu", "employee", "support_engineer", "eu", None),
        ("mailer", "processor", "processor", None, "relay_mail"),
        ("dpo", "employee", "privacy_officer", "eu", None),
    ):
        issued = deployment.principal_service.add(
            name, kind=kind, role=role, region=region, binding=binding, actor="admin"
        )
        tokens[name] = issued.token
    request_id = deployment.rights.open("access", TARGET, channel="api", actor="ada").request_id
    client = TestClient(create_app(deployment))
    try:
        yield World(deployment, client, tokens, data_dir, record_id, request_id)
    finally:
        client.close()
        deployment.close()


def _missing_subject() -> str:
    return f"subj-{ULID()}".lower()


@dataclass(frozen=True)
class Probe:
    """One call that names a subject (or its record, or its request)."""

    name: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None


def _probes(subject: str, record_id: str, request_id: str) -> list[Probe]:
    records = f"/v1/subjects/{subject}/records"
    return [
        Probe("records", "GET", records, {"purpose": "provide"}),
        Probe(
            "records, one category", "GET", records, {"purpose": "provide", "category": "account"}
        ),
        Probe("records, credit check", "GET", records, {"purpose": "provide.credit_check"}),
        Probe("records, legal", "GET", records, {"purpose": "legal"}),
        *(
            Probe(
                f"decision {purpose} in {region}",
                "POST",
                "/v1/decisions",
                body={
                    "purpose": purpose,
                    "category": "account",
                    "region": region,
                    "subject": subject,
                },
            )
            for purpose in ("provide", "provide.credit_check", "legal")
            for region in ("eu", "apac")
        ),
        Probe("record by id", "GET", f"/v1/records/{record_id}", {"purpose": "provide"}),
        Probe("request by id", "GET", f"/v1/requests/{request_id}"),
        Probe("request export", "GET", f"/v1/requests/{request_id}/export"),
        Probe(
            "open a request", "POST", "/v1/requests", body={"type": "access", "subject": subject}
        ),
        Probe(
            "restriction lift notice",
            "POST",
            f"/v1/subjects/{subject}/restriction/lift-notice",
            body={"reason": "accuracy verified"},
        ),
        Probe("restriction lift", "POST", f"/v1/subjects/{subject}/restriction/lift"),
    ]


def _answer(world: World, who: str, probe: Probe) -> tuple[int, dict[str, str], bytes]:
    answer = world.client.request(
        probe.method, probe.path, params=probe.params, json=probe.body, headers=world.headers(who)
    )
    return answer.status_code, dict(answer.headers), answer.content


def _as_sent(answer: tuple[int, dict[str, str], bytes], sent: tuple[str, ...]) -> object:
    """The answer with the ids the caller sent, where echoed back, read as ``<id>``."""
    status, headers, body = answer
    for value in sent:
        body = body.replace(value.encode(), b"<id>")
    return status, headers, body


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_existing_subject_looks_exactly_like_a_missing_one(world: World, who: str) -> None:
    there_ids = (TARGET, world.record_id, world.request_id)
    nowhere_ids = (_missing_subject(), str(ULID()), str(ULID()))
    existing, missing = _probes(*there_ids), _probes(*nowhere_ids)
    for there, nowhere in zip(existing, missing, strict=True):
        seen = _answer(world, who, there)
        unseen = _answer(world, who, nowhere)
        assert _as_sent(seen, there_ids) == _as_sent(unseen, nowhere_ids), (
            f"{who}, {there.name}: {seen} != {unseen}"
        )
        assert seen[0] >= 400, f"{who}, {there.name}: {seen}"
        for secret in (b"restrict", b"objected", TARGET.encode(), b"ada@example"):
            assert secret not in seen[2], f"{who}, {there.name}: {seen[2]!r}"


def _records(world: World, who: str, subject: str, **params: str) -> Response:
    return world.client.get(
        f"/v1/subjects/{subject}/records",
        params={"purpose": "provide", **params},
        headers=world.headers(who),
    )


def _by_id(world: World, who: str, record_id: str) -> Response:
    return world.client.get(
        f"/v1/records/{record_id}", params={"purpose": "provide"}, headers=world.headers(who)
    )


def _explain(world: World, who: str, subject: str, purpose: str, category: str) -> Response:
    return world.client.post(
        "/v1/decisions",
        json={"purpose": purpose, "category": category, "region": "eu", "subject": subject},
        headers=world.headers(who),
    )


NO_SUBJECT = {"error": "unknown_subject", "detail": "no subject by that id that you may read"}
NO_RECORD = {"error": "record_not_found", "detail": "no record by that id that you may read"}
#: What a processor reading without the sharing service's grant is told, before any lookup.
NO_GRANT = {"error": "grant_required", "detail": str(GrantRequired())}
PROCESSORS = ("processor-off-contract", "mailer")


def _expected(who: str, answer: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Processors are refused for want of a grant whatever id they name (access.grants)."""
    return (403, NO_GRANT) if who in PROCESSORS else (404, answer)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_the_answer_an_outsider_gets(world: World, who: str) -> None:
    for answer, expected in (
        (_records(world, who, TARGET), NO_SUBJECT),
        (_explain(world, who, TARGET, "provide", "account"), NO_SUBJECT),
        (_by_id(world, who, world.record_id), NO_RECORD),
    ):
        assert (answer.status_code, answer.json()) == _expected(who, expected)


def test_callers_who_may_read_the_subject_still_get_every_reason(world: World) -> None:
    denied = _records(world, "support-eu", TARGET)
    assert denied.status_code == 403
    assert "processing restricted: 'provide' is not allowed" in denied.json()["reasons"]
    explained = _explain(world, "dpo", TARGET, "provide.credit_check", "payments")
    assert explained.status_code == 200, explained.text
    texts = [r["text"] for r in explained.json()["reasons"]]
    assert "the subject objected to 'provide.credit_check'" in texts
    assert "processing restricted: 'provide.credit_check' is not allowed" in texts
    # A processor, through the sharing service (its one way in), is told every reason too.
    with pytest.raises(Denied) as denied_processor:
        world.deployment.sharing.to_processor(
            world.deployment.principals.get("mailer"), TARGET, "provide", ["account"]
        )
    assert "processing restricted: 'provide' is not allowed" in denied_processor.value.reasons
    # Their own subject principal reads their data: a restriction is their own request.
    own = _records(world, "ada", TARGET)
    assert own.status_code == 200, own.text
    assert own.json()["records"][0]["fields"]["email"] == "ada@example.test"
    request = world.client.get(f"/v1/requests/{world.request_id}", headers=world.headers("ada"))
    assert request.status_code == 200, request.text


@pytest.mark.parametrize("who", INSIDERS)
def test_a_missing_subject_answers_insiders_as_it_answers_outsiders(world: World, who: str) -> None:
    for answer, expected in (
        (_records(world, who, _missing_subject()), NO_SUBJECT),
        (_explain(world, who, _missing_subject(), "legal", "account"), NO_SUBJECT),
        (_by_id(world, who, str(ULID())), NO_RECORD),
    ):
        assert (answer.status_code, answer.json()) == _expected(who, expected)


@pytest.mark.parametrize("who", ["other-subject", "staff-other-region"])
def test_refused_lookups_are_audited_alike_and_name_no_target(world: World, who: str) -> None:
    """Staff who probe stay named, with no subject; a subject's own principal that probes
    is an entry about its own subject, named only by a reference keyed with that subject's
    salt (its name, an e-mail address in practice, is unlinked when it is erased)."""
    audit = world.deployment.audit
    world.deployment.audit_buffer.flush()
    before = audit.size()
    for subject in (TARGET, _missing_subject()):
        _records(world, who, subject)
    world.deployment.audit_buffer.flush()
    entries = audit.entries(before, audit.size())
    shapes = [
        (e.action, e.outcome, e.subject_pseudonym, e.actor, e.subject_actor, tuple(e.reasons))
        for e in entries
    ]
    assert len(shapes) == 2
    assert shapes[0] == shapes[1]
    action, outcome, pseudonym, actor, subject_actor, reasons = shapes[0]
    assert (action, outcome, reasons) == (
        "decision",
        "deny",
        ("no subject by that id that the principal may read",),
    )
    own = audit.subject_history("subj-eu-2")
    if who == "other-subject":
        assert own is not None
        assert pseudonym == own.pseudonym
        assert subject_actor
        assert actor != who
    else:
        assert (pseudonym, actor, subject_actor) == (None, who, False)
    stored = b"".join(e.canonical_bytes() for e in entries)
    assert TARGET.encode() not in stored
    assert b"other-subject" not in stored


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else 1
    else:
        status = 0
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("who", OUTSIDERS)
def test_the_cli_prints_the_same_for_an_existing_and_a_missing_subject(
    world: World, who: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("SERVINFO_TOKEN", world.tokens[who])
    common = ("--data-dir", str(world.data_dir))
    nowhere = _missing_subject()
    for command in (
        ("read", "--purpose", "provide"),
        ("decide", "--purpose", "provide", "--category", "account", "--region", "eu"),
    ):
        seen = _cli(capsys, *command, "--subject", TARGET, *common)
        unseen = _cli(capsys, *command, "--subject", nowhere, *common)
        assert seen[0] != 0
        assert seen == unseen, f"{who}, {command[0]}"


# -- standing, decided from the policy alone -------------------------------------------------

TODAY = dt.date(2026, 12, 1)


def _standing_actors(policy: Policy) -> list[Actor]:
    """A principal of every role, kind its role allows, placement and processor."""
    actors = []
    for role_id, role in policy.roles.items():
        for kind in role.principal_kinds:
            if kind in ("employee", "contractor", "agent"):
                actors += [
                    Actor(principal_id="p", kind=kind, role=role_id, entity=e, region=r)
                    for e, r in itertools.product(policy.legal_entities, policy.regions)
                ]
            elif kind == "processor":
                actors += [
                    Actor(principal_id=p, kind=kind, role=role_id, entity=p)
                    for p in policy.processors
                ]
            else:
                actors.append(Actor(principal_id="p", kind=kind, role=role_id, binding="s-1"))
    return actors


def test_standing_is_some_allowed_read_when_the_subject_asks_nothing_of_its_own() -> None:
    """Standing, restated: some purpose and category for which :func:`decide` allows a read
    of a subject whose ledgers allow everything (consents given, a verified request)."""
    policy = load_policy(today=TODAY)
    compiled = compile_policy(policy, TODAY)
    decider = Decider(compiled)
    for actor, region, subject in itertools.product(
        _standing_actors(policy), policy.regions, ("s-1", "s-2")
    ):
        state = SubjectState(
            subject_id=subject,
            regime="gdpr",
            consents=frozenset(policy.purposes),
            open_verified_request=True,
        )
        expected = any(
            decide(compiled, actor, purpose, category, region, state).allowed
            for purpose in policy.purposes
            for category in policy.purposes[purpose].categories
        )
        if actor.kind in ("subject", "authorized_agent"):
            expected = subject == actor.binding  # their own subject, whatever they may read
        assert has_standing(compiled, actor, subject, region) is expected, (actor, region)
        assert decider.has_standing(actor, subject, region) is expected, (actor, region)


def test_standing_in_brief() -> None:
    compiled = compile_policy(load_policy(today=TODAY), TODAY)
    analyst = Actor(
        principal_id="a", kind="employee", role="product_analyst", region="us", entity="ims_us"
    )
    assert has_standing(compiled, analyst, "s-1", "eu")  # improvement, under the DPF
    revoked = Actor(
        principal_id="a", kind="employee", role="support_engineer", region="eu", entity="ims_eu",
        revoked=True,
    )  # fmt: skip
    assert not has_standing(compiled, revoked, "s-1", "eu")
    sahaya = Actor(principal_id="s", kind="processor", role="processor", entity="sahaya_support")
    assert has_standing(compiled, sahaya, "s-1", "us")
    assert not has_standing(compiled, sahaya, "s-1", "eu")  # outside its contract
    service = Actor(principal_id="r", kind="service", role="ingest", binding="platform")
    assert not has_standing(compiled, service, "s-1", "eu")  # reports, never reads
    assert not has_standing(compiled, analyst, "s-1", "mars")  # a region no longer declared


def test_a_new_policy_decides_standing_anew() -> None:
    policy = load_policy(today=TODAY)
    decider = Decider(compile_policy(policy, TODAY))
    support = Actor(
        principal_id="s", kind="employee", role="support_engineer", region="eu", entity="ims_eu"
    )
    assert decider.has_standing(support, "s-1", "apac")
    block = "    categories: [account, settings, telemetry, communications]\n"
    narrowed = load_policy_text(
        default_policy_text().replace(
            block + "    regions: [eu, uk, ch, us, apac]\n", block + "    regions: [eu]\n", 1
        )
    )
    assert narrowed.version != policy.version
    decider.use(compile_policy(narrowed, TODAY))
    assert not decider.has_standing(support, "s-1", "apac")
    assert decider.has_standing(support, "s-1", "eu")
