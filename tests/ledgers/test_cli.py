"""The ledger commands, on a deployment built from the store pieces (no keyring, no server)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import typer
from typer.testing import CliRunner

from servinfo.access.errors import Forbidden, Unauthenticated
from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import Ledgers, NotObjectable, RestrictionLiftRefused
from servinfo.ledgers.cli import register

TOKEN = "officer-token"


@dataclass(frozen=True)
class _Principal:
    name: str
    role: str


class _Principals:
    """The two calls the commands make of the principal service."""

    def authenticate(self, token: str | None) -> _Principal:
        if token == TOKEN:
            return _Principal("officer-1", "privacy_officer")
        if token == "analyst-token":
            return _Principal("analyst-1", "product_analyst")
        raise Unauthenticated("unknown or revoked token")

    def require_permission(self, principal: _Principal, permission: str) -> None:
        if principal.role != "privacy_officer":
            raise Forbidden(f"role '{principal.role}' lacks the permission '{permission}'")

    def authorize(self, token: str | None, permission: str) -> _Principal:
        principal = self.authenticate(token)
        self.require_permission(principal, permission)
        return principal


@dataclass
class _Deployment:
    ledgers: Ledgers
    principal_service: _Principals

    def __enter__(self) -> _Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def cli(ledgers: Ledgers, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    deployment = _Deployment(ledgers, _Principals())
    monkeypatch.setattr("servinfo.deployment.open_deployment", lambda data_dir, env: deployment)
    app = typer.Typer()
    register(app)
    return app


def _run(app: typer.Typer, *args: str, token: str = TOKEN) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [*args, "--token", token])
    return result.exit_code, result.stdout, result.exception


def test_objection_add_list_withdraw(
    cli: typer.Typer, ledgers: Ledgers, audit: MemoryAuditSink
) -> None:
    code, out, _ = _run(cli, "objection", "add", "--subject", "subj-de", "--purpose", "improve_use")
    assert code == 0, out
    assert "subj-de objects to improve_use" in out
    assert audit.events[-1].actor == "officer-1"

    code, out, _ = _run(cli, "objection", "list", "--subject", "subj-de", "--json")
    [entry] = json.loads(out)
    assert (entry["purpose"], entry["actor"], entry["withdrawn_at"]) == (
        "improve_use",
        "officer-1",
        None,
    )
    code, out, _ = _run(
        cli, "objection", "withdraw", "--subject", "subj-de", "--purpose", "improve_use", "--json"
    )
    assert code == 0
    assert json.loads(out)["withdrawn_by"] == "officer-1"
    assert ledgers.subject_state("subj-de").objections == frozenset()


def test_errors_reach_the_caller_as_domain_errors(cli: typer.Typer) -> None:
    code, _, error = _run(cli, "objection", "add", "--subject", "subj-de", "--purpose", "provide")
    assert code != 0
    assert isinstance(error, NotObjectable)
    _run(cli, "restriction", "add", "--subject", "subj-de", "--reason", "accuracy")
    code, _, error = _run(cli, "restriction", "lift", "--subject", "subj-de")
    assert isinstance(error, RestrictionLiftRefused)
    code, out, _ = _run(cli, "restriction", "lift", "--subject", "subj-de", "--subject-informed")
    assert code == 0, out


def test_authentication_and_permission_are_required(cli: typer.Typer) -> None:
    _, _, error = _run(cli, "hold", "list", token="nope")
    assert isinstance(error, Unauthenticated)
    _, _, error = _run(cli, "hold", "list", token="analyst-token")
    assert isinstance(error, Forbidden)


def test_restriction_consent_hold_and_disclosure_commands(
    cli: typer.Typer, ledgers: Ledgers, policy_version: str
) -> None:
    code, out, _ = _run(
        cli, "restriction", "add", "--subject", "subj-gb", "--reason", "objection pending",
        "--allow", "legal", "--allow", "protect",
    )  # fmt: skip
    assert code == 0, out
    assert "still allowed: legal, protect" in out
    code, out, _ = _run(cli, "restriction", "show", "--subject", "subj-gb", "--json")
    assert json.loads(out)[0]["allows"] == ["legal", "protect"]

    code, out, _ = _run(
        cli, "consent", "give", "--subject", "subj-gb", "--recipient", "acme",
        "--notice-version", policy_version,
    )  # fmt: skip
    assert code == 0, out
    code, out, _ = _run(
        cli, "disclosure", "register", "--recipient", "acme", "--kind", "third_party",
        "--basis", "consent", "--subject", "subj-gb", "--category", "account",
        "--purpose", "provide", "--records", "2", "--json",
    )  # fmt: skip
    assert code == 0, out
    registered = json.loads(out)
    code, out, _ = _run(cli, "disclosure", "list", "--recipient", "acme", "--json")
    assert [d["disclosure_id"] for d in json.loads(out)] == [registered["disclosure_id"]]
    code, out, _ = _run(cli, "consent", "withdraw", "--subject", "subj-gb", "--recipient", "acme")
    assert code == 0, out
    code, out, _ = _run(cli, "consent", "list", "--subject", "subj-gb", "--all", "--json")
    assert [c["state"] for c in json.loads(out)] == ["given", "withdrawn"]

    code, out, _ = _run(cli, "hold", "place", "--org", "partner-1", "--reason", "dispute", "--json")
    hold_id = json.loads(out)["hold_id"]
    code, out, _ = _run(cli, "hold", "list", "--subject", "subj-ca", "--json")
    assert [h["hold_id"] for h in json.loads(out)] == [hold_id]
    code, out, _ = _run(cli, "hold", "release", "--hold", hold_id)
    assert code == 0, out
    code, out, _ = _run(cli, "hold", "list")
    assert "no legal holds" in out
