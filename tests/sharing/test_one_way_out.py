"""Nothing leaves but through the sharing service: every HTTP route and every command
that returns record data refuses an outside principal (a processor) without a grant.

The routes are enumerated from the application's router, so a new route is called
here the day it is added; commands are enumerated from the command tree, and each
must be classed as reading records (then run as the processor, and refused) or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import Route
from tests.api.world import World, build_world

from servinfo.cli.app import COMMANDS, load_command, main

#: What the subject's records hold: none of it may reach an outside principal.
SECRETS = (b"ada@example.test", b"INV-1", b"203.0.113.77", b"login_success", b"Ada")
#: The sharing service's own way in: it issues the grant itself (tested per basis elsewhere).
SHARING_ROUTES = {"/v1/disclosures/processor"}
#: Outside principals: a processor within its contract, and one outside it.
OUTSIDERS = ("mailer", "sahaya")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with build_world(tmp_path) as built:
        issued = built.deployment.principal_service.add(
            "sahaya", kind="processor", role="processor", region=None,
            binding="sahaya_support", actor="admin",
        )  # fmt: skip
        built.tokens["sahaya"] = issued.token
        yield built


_VALUES: dict[str, Any] = {
    "subject": "subj-eu-1",
    "subject_id": "subj-eu-1",
    "purpose": "provide",
    "category": "account",
    "categories": ["account"],
    "region": "eu",
    "type": "access",
    "recipient": "relay_mail",
    "recipient_country": "US",
    "kind": "account.profile",
}


def _value(name: str, annotation: Any) -> Any:
    if name in _VALUES:
        return _VALUES[name]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _body(annotation)
    return "x"


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """A body of ``model`` with every field filled as a real caller would fill it."""
    return {
        name: _value(name, field.annotation)
        for name, field in model.model_fields.items()
        if field.is_required() or name in _VALUES
    }


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """Every route of the application, with the routers it includes, however nested."""
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI's included router
            inner = prefix + (route.include_context.prefix or "")
            yield from _routes(route.original_router.routes, inner)


def _calls(world: World) -> Iterator[tuple[str, str, str, dict[str, Any], Any]]:
    ids = {
        "subject_id": "subj-eu-1",
        "record_id": world.record_ids["profile"],
        "request_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
    }
    for template, route in _routes(world.client.app.routes):  # type: ignore[attr-defined]
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids.get(m.group(1), "x"), template)
        body = None
        if isinstance(route, APIRoute) and route.body_field is not None:
            annotation = route.body_field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                body = _body(annotation)
        params = {"purpose": "provide", "category": "account"}
        for method in sorted(route.methods or ()):
            yield template, method, path, params, body


def test_the_enumeration_reaches_the_routes_that_read(world: World) -> None:
    paths = {template for template, *_ in _calls(world)}
    assert {"/v1/subjects/{subject_id}/records", "/v1/records/{record_id}"} <= paths
    assert len(paths) > 20


@pytest.mark.parametrize("who", OUTSIDERS)
def test_every_route_refuses_an_outside_principal_without_a_grant(world: World, who: str) -> None:
    leaked: list[str] = []
    for template, method, path, params, body in _calls(world):
        if template in SHARING_ROUTES and who == "mailer":
            continue  # its contract covers this read: that is the one way out
        answer = world.client.request(
            method, path, params=params, json=body, headers=world.headers(who)
        )
        if any(secret in answer.content for secret in SECRETS):
            leaked.append(f"{method} {template}: {answer.status_code}")
    assert leaked == []
    assert world.deployment.ledgers.disclosures() == []


def test_the_read_routes_answer_grant_required(world: World) -> None:
    for path in ("/v1/subjects/subj-eu-1/records", f"/v1/records/{world.record_ids['profile']}"):
        answer = world.client.get(
            path, params={"purpose": "provide"}, headers=world.headers("mailer")
        )
        assert (answer.status_code, answer.json()["error"]) == (403, "grant_required")


# -- commands ------------------------------------------------------------------------------

#: Commands that return record data (run below as the processor: each must refuse).
RECORD_COMMANDS: dict[str, tuple[str, ...]] = {
    "read": ("read", "--subject", "subj-eu-1", "--purpose", "provide"),
    "decide": (
        "decide", "--subject", "subj-eu-1", "--purpose", "provide", "--category", "account",
        "--region", "eu",
    ),
    "dsr export": ("dsr", "export", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "--out", "{tmp}/export"),
    "dsr report": ("dsr", "report", "01JZZZZZZZZZZZZZZZZZZZZZZZ"),
    "subjects find": ("subjects", "find", "--email", "ada@example.test"),
    "legal disclose": ("legal", "disclose", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "--out", "{tmp}/p"),
    "share consent-disclose": (
        "share", "consent-disclose", "subj-eu-1", "--recipient", "acme", "--country", "DE",
        "--recipient-key", "AAAA", "--purpose", "provide", "--category", "account",
        "--out", "{tmp}/c",
    ),
}  # fmt: skip
#: Groups whose commands return no record data: what they return instead.
NO_RECORD_DATA = {
    "init": "creates a deployment",
    "upgrade": "migrates schemas",
    "serve": "serves the API (its routes are called above)",
    "worker": "runs jobs",
    "jobs": "job states",
    "demo": "a demo deployment",
    "policy": "the policy document",
    "notice": "the published notice",
    "ropa": "the records of processing (policy only)",
    "keys": "key metadata",
    "principals": "principals",
    "subjects": "subject ids and placement (list_subjects permission); find is classed above",
    "ingest": "writes records",
    "simulate": "writes simulated records",
    "objection": "ledger entries",
    "restriction": "ledger entries",
    "consent": "ledger entries",
    "hold": "ledger entries",
    "retention": "sweeps, backups: counts",
    "disclosure": "the disclosure register: who received what, no record content",
    "dsr": "request states (export and report classed above)",
    "drp": "Data Rights Protocol states",
    "audit": "the audit log: references, no record content",
    "witness": "cosignatures",
    "admin": "break-glass administration",
    "processors": "processor contracts",
    "legal": "legal requests (disclose classed above)",
    "share": "consents to disclosure (consent-disclose classed above)",
    "transparency": "aggregate counts",
    "backup": "encrypted archives of the stores, opened only with the master key",
    "restore": "writes a deployment from an encrypted archive",
    "redaction": "reruns redaction over stored records; prints counts",
}


def _leaves(name: str, command: Any, prefix: str = "") -> Iterator[str]:
    full = f"{prefix}{name}"
    sub = getattr(command, "commands", None)
    if not sub:
        yield full
        return
    for child_name, child in sub.items():
        yield from _leaves(child_name, child, f"{full} ")


def test_every_command_is_classed() -> None:
    unclassed = [
        leaf
        for name, entry in COMMANDS.items()
        for leaf in _leaves(name, load_command(name, entry))
        if leaf not in RECORD_COMMANDS and leaf.split(" ")[0] not in NO_RECORD_DATA
    ]
    assert unclassed == []


@pytest.mark.parametrize("command", sorted(RECORD_COMMANDS))
def test_every_record_command_refuses_an_outside_principal(
    world: World,
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVINFO_TOKEN", world.tokens["mailer"])
    data_dir = str(tmp_path / "deployment")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in RECORD_COMMANDS[command]]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--data-dir", data_dir])
    out = capsys.readouterr()
    assert exited.value.code != 0, out.out
    for secret in SECRETS:
        assert secret.decode() not in out.out + out.err
    assert not any(Path(tmp_path).glob("export*"))
    assert not (tmp_path / "p").exists()
