"""Output for people (no Python reprs, whole ids, what a read withheld) and for programs."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from tests.cli.conftest import Deployment, Servinfo

from servinfo.access._reasons import Reason
from servinfo.access.cli import SHIPPED_ROLES
from servinfo.access.decisions import Decision
from servinfo.access.errors import Unauthenticated
from servinfo.access.reads import ReadRecord, ReadResult
from servinfo.cli._output import human
from servinfo.policy import load_policy

ULID = "01M97T8DGQ22ZE3M5D4B04V4Q3"
SUBJECT = "sub-66d6a51a4cc52e7deb66"


def test_values_read_as_people_read_them() -> None:
    at = dt.datetime(2026, 11, 16, 0, 9, 3, tzinfo=dt.UTC)
    assert human(True) == "yes"
    assert human(False) == "no"
    assert human(None) == ""
    assert human(at) == "2026-11-16T00:09:03+00:00"
    assert human(at.date()) == "2026-11-16"
    assert human(["a", "b"]) == "a, b"
    assert human({"kind": "access", "size": 16434}) == "kind access, size 16.0 KiB"
    assert human({"since": None, "subjects": ["s1"], "until": None}) == "subjects s1"
    assert human(512, "size") == "512 bytes"
    assert "{" not in human({"export": {"created_at": at, "ready": True}})


def test_a_domain_error_under_json_is_json_on_stderr(
    servinfo: Servinfo, deployment: Deployment
) -> None:
    done = servinfo("principals", "list", "--data-dir", deployment.data_dir, "--json")
    assert done.status == 2
    assert done.out == ""
    body = json.loads(done.err)
    assert body["error"] == Unauthenticated.code
    assert body["detail"].startswith("no token")
    # Without --json: the one plain line.
    plain = servinfo("principals", "list", "--data-dir", deployment.data_dir)
    assert plain.err.startswith("error: no token")


def test_a_usage_error_under_json_is_invalid_request(servinfo: Servinfo) -> None:
    done = servinfo("policy", "check", "--bogus", "--json")
    assert done.status == 2
    assert json.loads(done.err)["error"] == "invalid_request"
    # A --json that is the value of another option is not the flag.
    done = servinfo("dsr", "refuse", "--reason", "--json")
    assert done.status == 2
    assert done.err.startswith("error: ")


def test_the_roles_are_named_in_the_help_and_are_the_shipped_policys(
    servinfo: Servinfo,
) -> None:
    assert list(SHIPPED_ROLES) == list(load_policy(None).roles)
    done = servinfo("principals", "add", "--help", env={"COLUMNS": "400"})
    assert done.status == 0
    for role in SHIPPED_ROLES:
        assert role in done.out


@dataclass
class _Principal:
    name: str


class _Reads:
    def read_subject(
        self, principal: _Principal, purpose: str | None, subject: str, categories: Any
    ) -> ReadResult:
        at = dt.datetime(2026, 11, 16, 0, 9, tzinfo=dt.UTC)
        fields = {"mfa_enabled": True, "tags": ["a", "b"]}
        transfer = Reason("transfer", "transfer uk→eu under uk_adequacy", True)
        allowed = Decision(True, (transfer,), "uk_adequacy", "v1")
        denied = Decision(
            False, (Reason("role", "role 'x' may not see category 'payments'", False),), None, "v1"
        )
        record = ReadRecord(ULID, subject, "settings", "settings.security", "uk", at, fields)
        return ReadResult("provide", [record], {"settings": allowed, "payments": denied})


@dataclass
class _Principals:
    def authenticate(self, token: str | None) -> _Principal:
        return _Principal("reader")


@dataclass
class _Deployment:
    reads: _Reads
    principal_service: _Principals

    def __enter__(self) -> _Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def fake_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = _Deployment(_Reads(), _Principals())
    monkeypatch.setattr("servinfo.deployment.open_deployment", lambda data_dir, env: deployment)


@pytest.mark.usefixtures("fake_deployment")
def test_read_shows_what_it_withheld_and_the_transfer(servinfo: Servinfo) -> None:
    done = servinfo(
        "read", "--subject", SUBJECT, "--purpose", "provide", "--token", "t",
        env={"COLUMNS": "60"},
    )  # fmt: skip
    assert done.status == 0, done.err
    assert ULID in done.out
    assert SUBJECT in done.out
    assert "mfa_enabled: yes" in done.out
    assert "tags: a, b" in done.out
    assert "withheld: payments: role 'x' may not see category 'payments'" in done.out
    assert "transfer uk→eu under uk_adequacy: settings" in done.out
    assert "True" not in done.out
    assert "[" not in done.out


def test_ids_are_whole_in_a_narrow_table(servinfo: Servinfo, deployment: Deployment) -> None:
    done = servinfo(
        "principals", "list", "--data-dir", deployment.data_dir,
        "--token-file", deployment.token_file, env={"COLUMNS": "40"},
    )  # fmt: skip
    assert done.status == 0, done.err
    added = servinfo(
        "principals", "add", "a-principal-with-a-rather-long-name@ims.example", "--kind",
        "employee", "--role", "sre", "--region", "eu", "--data-dir", deployment.data_dir,
        "--token-file", deployment.token_file,
    )  # fmt: skip
    assert added.status == 0, added.err
    done = servinfo(
        "principals", "list", "--data-dir", deployment.data_dir,
        "--token-file", deployment.token_file, env={"COLUMNS": "40"},
    )  # fmt: skip
    assert "a-principal-with-a-rather-long-name@ims.example" in done.out
