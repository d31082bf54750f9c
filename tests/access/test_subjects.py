"""``servinfo subjects list``: permission-checked, scoped to the role's regions, audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servinfo.access.errors import Forbidden
from servinfo.access.subjects import InvalidListing
from servinfo.cli.app import app
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.policy import UnknownPolicyElement
from servinfo.store import Principal


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    create_deployment(tmp_path, {})
    with open_deployment(tmp_path, {}) as opened:
        directory = opened.directory
        directory.add_organization("org-eu", "Example GmbH", "eu")
        directory.add_organization("org-us", "Example Inc", "us")
        for n in range(3):
            directory.register_subject(f"sub-eu-{n}", "org-eu", "DE")
        directory.register_subject("sub-us-0", "org-us", "US-CA")
        directory.mark_erased("sub-eu-2", dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
        yield opened


def _principal(deployment: Deployment, name: str, role: str) -> Principal:
    issued = deployment.principal_service.add(
        name, kind="employee", role=role, region="eu", actor="admin"
    )
    return issued.principal


def test_ids_and_home_regions_of_subjects_not_erased(deployment: Deployment) -> None:
    listing = deployment.subject_listing
    support = _principal(deployment, "support@example.test", "support_engineer")
    listed = listing.list(support)
    assert [(s.subject_id, s.home_region) for s in listed] == [
        ("sub-eu-0", "eu"),
        ("sub-eu-1", "eu"),
        ("sub-us-0", "us"),
    ]
    assert [s.subject_id for s in listing.list(support, region="us")] == ["sub-us-0"]
    page = listing.list(support, limit=1)
    assert [s.subject_id for s in listing.list(support, after=page[-1].subject_id, limit=1)] == [
        "sub-eu-1"
    ]
    entry = deployment.audit.tail(1)[0]
    assert (entry.action, entry.actor) == ("subjects_listed", "support@example.test")


def test_listing_needs_the_permission_and_a_region_of_the_role(deployment: Deployment) -> None:
    listing = deployment.subject_listing
    analyst = _principal(deployment, "analyst@example.test", "product_analyst")
    with pytest.raises(Forbidden, match="list_subjects"):
        listing.list(analyst)
    support = _principal(deployment, "support@example.test", "support_engineer")
    with pytest.raises(UnknownPolicyElement):
        listing.list(support, region="mars")
    with pytest.raises(InvalidListing):
        listing.list(support, limit=0)


def test_the_command_lists_for_a_token_with_the_permission(
    deployment: Deployment, tmp_path: Path
) -> None:
    token = deployment.principal_service.add(
        "support@example.test", kind="employee", role="support_engineer", region="eu",
        actor="admin",
    ).token  # fmt: skip
    result = CliRunner().invoke(
        app, ["subjects", "list", "--data-dir", str(tmp_path), "--token", token, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"subject": "sub-eu-0", "home_region": "eu"},
        {"subject": "sub-eu-1", "home_region": "eu"},
        {"subject": "sub-us-0", "home_region": "us"},
    ]
    human = CliRunner().invoke(
        app, ["subjects", "list", "--data-dir", str(tmp_path), "--token", token, "--limit", "2"]
    )
    assert human.stdout.splitlines() == ["sub-eu-0  eu", "sub-eu-1  eu"]


def test_a_permission_the_active_policy_grants_no_one_says_how_to_grant_it(
    deployment: Deployment,
) -> None:
    """An upgraded deployment keeps its older active policy, which may predate a
    permission the new version checks: the refusal names the way out."""
    from servinfo.access.principals import PrincipalService

    policy = deployment.policy
    roles = {
        name: role.model_copy(
            update={"permissions": [p for p in role.permissions if p != "read_jobs"]}
        )
        for name, role in policy.roles.items()
    }
    older = policy.model_copy(update={"roles": roles})
    service = PrincipalService(deployment.principals, deployment.directory, older, deployment.audit)
    admin = deployment.principals.get("admin")
    with pytest.raises(Forbidden, match=r"grants 'read_jobs' to no role; activate a policy"):
        service.require_permission(admin, "read_jobs")
