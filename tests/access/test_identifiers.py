"""Identities a person knows: one normalisation, blind indexes kept with the account
records, and finding subjects by them (permission-checked, audited, ids only)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from tests.support import PostgresDatabases
from typer.testing import CliRunner

from servinfo.access.errors import Forbidden
from servinfo.access.identifiers import (
    InvalidIdentifier,
    canonical_identifiers,
    identifier_fields,
    normalise_email,
    normalise_phone,
    normalise_username,
)
from servinfo.cli.app import app
from servinfo.collect.outcome import Outcome
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.policy import load_policy_text
from servinfo.policy.loading import default_policy_text
from servinfo.rights.errors import AmbiguousIdentifier
from servinfo.store import NewRecord, Principal
from servinfo.store.models import BlindIndexRow

COLLECTED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

# -- normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_text", "expected"),
    [
        ("ada@example.test", "ada@example.test"),
        ("  Ada.Lovelace@EXAMPLE.Test ", "Ada.Lovelace@example.test"),
        ("ada@Bücher.DE", "ada@xn--bcher-kva.de"),
        ("ada@xn--bcher-kva.de", "ada@xn--bcher-kva.de"),
        ("ADA+tag@Sub.Example.ORG", "ADA+tag@sub.example.org"),
        ("josé@例え.テスト", "josé@xn--r8jz45g.xn--zckzah"),
    ],
)
def test_email_domain_lower_cased_and_idna_encoded_local_part_as_given(
    given_text: str, expected: str
) -> None:
    assert normalise_email(given_text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ada",
        "@example.test",
        "ada@",
        "ada@example",
        "ada@exa_mple.test",
        "ada@@example.test",
        "a da@example.test",
        '"ada"@example.test',
        "ada..x@example.test",
        "a" * 65 + "@example.test",
        "ada@" + "a" * 250 + ".test",
        "ada\n@example.test",
    ],
)
def test_invalid_email_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_email(bad)
    assert refused.value.message.startswith("e-mail address:")
    if bad.strip():
        assert bad.strip() not in refused.value.message


def test_an_address_differing_only_in_the_local_parts_case_is_another_address() -> None:
    assert normalise_email("Ada@example.test") != normalise_email("ada@example.test")
    assert normalise_email("ada@EXAMPLE.test") == normalise_email("ada@example.TEST")


@given(st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?@[a-z]{1,20}\.[a-z]{2,6}", fullmatch=True))
def test_email_normalisation_is_idempotent(address: str) -> None:
    once = normalise_email(address.upper().replace("@", "@", 1))
    assert normalise_email(once) == once


@pytest.mark.parametrize(
    ("given_text", "region", "expected"),
    [
        ("+49 30 1234567", None, "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("030/123-4567", "de", "+49301234567"),
        ("+1 (650) 253-0000", None, "+16502530000"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+442079460018", "US", "+442079460018"),
    ],
)
def test_phone_formats_become_e164(given_text: str, region: str | None, expected: str) -> None:
    assert normalise_phone(given_text, region) == expected


@pytest.mark.parametrize(
    ("bad", "region", "reason"),
    [
        ("030 1234567", None, "international form"),
        ("12", "DE", "not a valid number"),
        ("+49 30", None, "not a"),
        ("not a number", "DE", "not a telephone number"),
        ("+1 555 0100", None, "not a"),
        ("030 1234567", "ZZ", "region"),
    ],
)
def test_invalid_phone_is_refused_with_a_clear_reason(
    bad: str, region: str | None, reason: str
) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as refused:
        normalise_phone(bad, region)
    assert bad not in refused.value.message


def test_usernames_compare_case_and_width_insensitively() -> None:
    assert normalise_username("  ＡＤＡ ") == normalise_username("ada") == "ada"
    with pytest.raises(InvalidIdentifier):
        normalise_username("   ")


def test_policy_declares_which_account_fields_are_identifiers() -> None:
    policy = load_policy_text(default_policy_text(), "default.yaml")
    fields = identifier_fields(policy)
    assert fields["account.profile"] == (
        ("email", "email", "email"),
        ("phone", "phone", "phone"),
        ("username", "username", "username"),
    )
    found = canonical_identifiers(
        fields["account.profile"],
        {"email": "Ada@EXAMPLE.test", "username": "Ada", "phone": "030 1234567", "locale": "de"},
        default_region="DE",
    )
    assert found == {"email": "Ada@example.test", "phone": "+49301234567", "username": "ada"}


# -- finding subjects ---------------------------------------------------------------------


class World:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.identity = deployment.principal_service.add(
            "identity-svc",
            kind="service",
            role="ingest",
            region=None,
            binding="identity",
            actor="admin",
        ).principal

    def ingest(self, subject: str, fields: dict[str, Any]) -> str:
        obj = {
            "type": "record",
            "subject": subject,
            "kind": "account.profile",
            "collected_at": COLLECTED.isoformat(),
            "fields": fields,
        }
        [outcome] = self.deployment.collector.ingest_many([(self.identity, obj, None)])
        assert isinstance(outcome, Outcome), outcome
        return outcome.id

    def staff(self, name: str, role: str) -> Principal:
        issued = self.deployment.principal_service.add(
            name, kind="employee", role=role, region="eu", actor="admin"
        )
        return issued.principal


def _populate(deployment: Deployment) -> World:
    directory = deployment.directory
    directory.add_organization("org-eu", "Example GmbH", "eu")
    directory.add_organization("org-eu2", "Other GmbH", "eu")
    directory.add_organization("org-us", "Example Inc", "us")
    directory.register_subject("sub-ada-1", "org-eu", "DE")
    directory.register_subject("sub-ada-2", "org-eu2", "DE")
    directory.register_subject("sub-ada-us", "org-us", "US-CA")
    directory.register_subject("sub-bob", "org-eu", "DE")
    world = World(deployment)
    # One address in two organizations (and a third region), with other spellings.
    world.ingest(
        "sub-ada-1", {"username": "ada", "email": "ada@Example.TEST", "phone": "030 1234567"}
    )
    world.ingest("sub-ada-2", {"username": "ada2", "email": "ada@example.test"})
    world.ingest("sub-ada-us", {"username": "ada-us", "email": "ada@EXAMPLE.test"})
    world.ingest(
        "sub-bob", {"username": "Bob", "email": "Bob@bücher.de", "phone": "+4915123456789"}
    )
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as opened:
        yield _populate(opened)


def _check_finding(world: World) -> None:
    finder = world.deployment.subject_finder
    officer = world.staff("officer@example.test", "privacy_officer")
    find = finder.find_subjects
    assert find("email", " ada@example.TEST", principal=officer) == [
        "sub-ada-1",
        "sub-ada-2",
        "sub-ada-us",
    ]
    assert find("email", "ada@example.test", principal=officer, organization="org-eu2") == [
        "sub-ada-2"
    ]
    # The local part is as given: another address, nobody found.
    assert find("email", "ADA@example.test", principal=officer) == []
    assert find("email", "Bob@xn--bcher-kva.de", principal=officer) == ["sub-bob"]
    assert find("phone", "+49 30 1234567", principal=officer) == ["sub-ada-1"]
    assert find("phone", "030 1234567", principal=officer, default_region="DE") == ["sub-ada-1"]
    assert find("username", "BOB", principal=officer) == ["sub-bob"]
    assert find("username", "nobody", principal=officer) == []


def test_subjects_are_found_by_what_they_know(world: World) -> None:
    _check_finding(world)


def test_finding_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    create_deployment(tmp_path, {}, database_url_template=postgres_databases.url_template)
    with open_deployment(tmp_path, {}) as opened:
        _check_finding(_populate(opened))


def test_finding_is_audited_without_the_value(world: World) -> None:
    officer = world.staff("officer@example.test", "privacy_officer")
    world.deployment.subject_finder.find_subjects("email", "ada@example.test", principal=officer)
    world.deployment.subject_finder.find_subjects("email", "eve@example.test", principal=officer)
    entries = [e for e in world.deployment.audit.tail(10) if e.action == "subjects_found"]
    assert [(e.actor, e.outcome) for e in entries] == [
        ("officer@example.test", "found"),
        ("officer@example.test", "found"),
        ("officer@example.test", "found"),
        ("officer@example.test", "none"),
    ]
    for entry in entries:
        assert "example.test" not in repr(entry.details).replace("officer@example.test", "")
        assert entry.details["identifier"] == "email"


def test_finding_needs_the_permission_and_a_declared_identifier(world: World) -> None:
    finder = world.deployment.subject_finder
    support = world.staff("support@example.test", "support_engineer")
    with pytest.raises(Forbidden, match="handle_requests"):
        finder.find_subjects("email", "ada@example.test", principal=support)
    officer = world.staff("officer@example.test", "privacy_officer")
    with pytest.raises(InvalidIdentifier, match="not declared"):
        finder.find_subjects("passport", "X123", principal=officer)
    with pytest.raises(InvalidIdentifier, match="e-mail address"):
        finder.find_subjects("email", "not-an-address", principal=officer)
    refused = [e for e in world.deployment.audit.tail(5) if e.action == "subjects_found"]
    assert refused == []


def test_the_indexes_follow_the_records(world: World) -> None:
    deployment = world.deployment
    officer = world.staff("officer@example.test", "privacy_officer")
    find = deployment.subject_finder.find_subjects
    record_id = world.ingest("sub-bob", {"username": "bobby", "email": "bobby@example.test"})
    assert find("email", "bobby@example.test", principal=officer) == ["sub-bob"]
    # Rectification replaces the identifiers with the record's new values.
    deployment.writer.rectify(
        record_id,
        "eu",
        {"email": "robert@example.test"},
        lookup_fields={"email": "robert@example.test", "username": "bobby"},
        identifiers={"email": "robert@example.test", "username": "bobby"},
    )
    assert find("email", "bobby@example.test", principal=officer) == []
    assert find("email", "robert@example.test", principal=officer) == ["sub-bob"]
    # Deletion removes them.
    deployment.writer.delete(record_id, "eu")
    assert find("email", "robert@example.test", principal=officer) == []
    # Erasure removes them, and an erased subject is never found.
    deployment.writer.erase_subject("sub-ada-2")
    assert find("email", "ada@example.test", principal=officer) == ["sub-ada-1", "sub-ada-us"]
    with deployment.regions["eu"].connect() as connection:
        left = connection.scalars(
            select(BlindIndexRow.field).where(BlindIndexRow.subject_id == "sub-ada-2")
        ).all()
    assert left == []


def test_the_commands_find_and_open_by_identifier(world: World, tmp_path: Path) -> None:
    token = world.deployment.principal_service.add(
        "officer@example.test", kind="employee", role="privacy_officer", region="eu",
        actor="admin",
    ).token  # fmt: skip
    base = ["--data-dir", str(tmp_path), "--token", token]
    runner = CliRunner()
    found = runner.invoke(app, ["subjects", "find", "--email", "ada@EXAMPLE.test", *base])
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines() == ["sub-ada-1", "sub-ada-2", "sub-ada-us"]
    as_json = runner.invoke(
        app, ["subjects", "find", "--phone", "030 1234567", "--phone-region", "DE", "--json", *base]
    )
    assert json.loads(as_json.stdout) == ["sub-ada-1"]
    # Bad input: a servinfo error (one line and exit 2 from the console script), never the value.
    bad = runner.invoke(app, ["subjects", "find", "--email", "ada-at-example", *base])
    assert isinstance(bad.exception, InvalidIdentifier)
    assert "ada-at-example" not in str(bad.exception)
    both = runner.invoke(app, ["subjects", "find", "--email", "a@b.test", "--username", "a", *base])
    assert isinstance(both.exception, InvalidIdentifier)
    # A request by identifier: ambiguous until the organization is named.
    ambiguous = runner.invoke(
        app, ["dsr", "open", "--type", "access", "--email", "ada@example.test", *base]
    )
    assert isinstance(ambiguous.exception, AmbiguousIdentifier)
    assert "3 organizations (org-eu, org-eu2, org-us)" in str(ambiguous.exception)
    opened = runner.invoke(
        app,
        ["dsr", "open", "--type", "access", "--email", "ada@example.test",
         "--organization", "org-eu2", "--json", *base],
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["subject"] == "sub-ada-2"


def test_the_api_finds_subjects_for_those_who_answer_requests(world: World) -> None:
    from fastapi.testclient import TestClient

    from servinfo.api import create_app

    deployment = world.deployment
    officer = deployment.principal_service.add(
        "officer@example.test", kind="employee", role="privacy_officer", region="eu",
        actor="admin",
    ).token  # fmt: skip
    support = deployment.principal_service.add(
        "support@example.test", kind="employee", role="support_engineer", region="eu",
        actor="admin",
    ).token  # fmt: skip
    with TestClient(create_app(deployment)) as client:
        found = client.post(
            "/v1/subjects/find",
            json={"username": "BOB"},
            headers={"Authorization": f"Bearer {officer}"},
        )
        assert found.json() == {"subjects": ["sub-bob"]}
        refused = client.post(
            "/v1/subjects/find",
            json={"username": "bob"},
            headers={"Authorization": f"Bearer {support}"},
        )
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
        bad = client.post(
            "/v1/subjects/find",
            json={"email": "nope", "phone": "+4930901820"},
            headers={"Authorization": f"Bearer {officer}"},
        )
        assert bad.status_code == 400
        assert bad.json()["error"] == "invalid_identifier"


def test_records_stored_before_get_their_identifiers_indexed(world: World) -> None:
    deployment = world.deployment
    officer = world.staff("officer@example.test", "privacy_officer")
    find = deployment.subject_finder.find_subjects
    # Written as before identifiers existed: lookup fields only, no identifier indexes.
    deployment.directory.register_subject("sub-old", "org-eu", "GB")
    deployment.writer.put(
        NewRecord(
            subject_id="sub-old",
            category="account",
            kind="account.profile",
            source="identity",
            collected_at=COLLECTED,
            fields={"username": "Oldie", "email": "Old@Example.test", "phone": "020 7946 0018"},
            retention_class="standard",
            retain_until=dt.date(2036, 1, 1),
            lookup_fields={"email": "Old@Example.test", "username": "Oldie"},
        )
    )
    assert find("email", "Old@example.test", principal=officer) == []
    backfill = deployment.identifier_backfill
    with pytest.raises(Forbidden, match="rotate_keys"):
        backfill.run(officer, ["eu"])
    admin = deployment.principals.get("admin")
    first = backfill.run(admin, list(deployment.regions))
    assert first == {"records": 5, "invalid": 0}
    assert find("email", "Old@example.test", principal=officer) == ["sub-old"]
    # A national number is read in the subject's country.
    assert find("phone", "+442079460018", principal=officer) == ["sub-old"]
    assert find("username", "oldie", principal=officer) == ["sub-old"]
    assert find("email", "ada@example.test", principal=officer) == [
        "sub-ada-1",
        "sub-ada-2",
        "sub-ada-us",
    ]
    # Run again: the same indexes, nothing doubled.
    assert backfill.run(admin, list(deployment.regions)) == first
    with deployment.regions["eu"].connect() as connection:
        fields = connection.scalars(
            select(BlindIndexRow.field).where(BlindIndexRow.subject_id == "sub-old")
        ).all()
    assert sorted(fields) == sorted(
        ["email", "username", "identifier:email", "identifier:phone", "identifier:username"]
    )
    entry = [e for e in deployment.audit.tail(5) if e.action == "identifiers_indexed"][-1]
    assert entry.details["records"] == 5
