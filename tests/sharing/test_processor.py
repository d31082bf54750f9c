"""The processor basis: a contract in force covering the categories, purposes and the
recipient's country, with a transfer mechanism for that direction — and every refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.sharing.world import NOW, OTHER, SUBJECT, World

from servinfo.access.errors import Denied, NoSuchSubject
from servinfo.access.grants import Grant, GrantRequired
from servinfo.policy import Policy
from servinfo.sharing import DisclosureDenied


def _policy_with(world: World, change: dict[str, Any]) -> Policy:
    """The active policy with ``change`` merged in (nested dicts merge)."""
    document = world.deployment.runtime.current.policy.model_dump(mode="json")

    def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
        for key, value in patch.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    merge(document, change)
    return Policy.model_validate(document)


def test_a_processor_reads_within_its_contract_and_the_disclosure_is_registered(
    world: World,
) -> None:
    mailer = world.principals["mailer"]
    package = world.deployment.sharing.to_processor(
        mailer, SUBJECT, "provide", ["account"], now=NOW
    )
    assert [r["id"] for r in package.records] == [world.record_ids["profile"]]
    assert package.manifest["basis"] == "processor"
    assert package.manifest["reference"] == "DPA-2025-014"
    [disclosure] = world.deployment.ledgers.disclosures(subject_id=SUBJECT)
    assert (disclosure.recipient, disclosure.basis, disclosure.reference) == (
        "relay_mail",
        "processor",
        "DPA-2025-014",
    )
    assert disclosure.record_count == 1


def test_without_a_grant_a_processor_reads_nothing_by_any_method(world: World) -> None:
    reads, mailer = world.deployment.reads, world.principals["mailer"]
    with pytest.raises(GrantRequired):
        reads.read_subject(mailer, "provide", SUBJECT, categories=["account"])
    with pytest.raises(GrantRequired):
        reads.read_record(mailer, "provide", world.record_ids["profile"])
    with pytest.raises(GrantRequired):
        reads.explain(mailer, "provide", "account", "eu", SUBJECT)
    assert world.deployment.ledgers.disclosures() == []


def test_a_forged_or_stretched_grant_is_no_grant(world: World) -> None:
    reads, mailer = world.deployment.reads, world.principals["mailer"]
    forged = Grant(
        "g", "relay_mail", "processor", "DPA-2025-014", SUBJECT, "provide",
        frozenset({"account"}), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1), b"0" * 32,
    )  # fmt: skip
    with pytest.raises(GrantRequired):
        reads.read_subject(mailer, "provide", SUBJECT, categories=["account"], grant=forged)
    # A genuine grant covers its subject, purpose and categories, and nothing else.
    issued: list[Grant] = []
    issuer = world.deployment._grant_issuer
    grant = issuer.issue(
        recipient="relay_mail", basis="processor", reference="DPA-2025-014",
        subject_id=SUBJECT, purpose="provide", categories=["account"],
    )  # fmt: skip
    issued.append(grant)
    for subject, categories in ((OTHER, ["account"]), (SUBJECT, ["account", "communications"])):
        with pytest.raises(GrantRequired):
            reads.read_subject(mailer, "provide", subject, categories=categories, grant=grant)
    with pytest.raises(GrantRequired):  # another processor cannot use it
        reads.read_subject(
            world.principals["payments"], "provide", SUBJECT, categories=["account"], grant=grant
        )
    assert reads.read_subject(mailer, "provide", SUBJECT, categories=["account"], grant=grant)


def test_expired_contract_is_refused_at_the_instant(world: World) -> None:
    sharing, mailer = world.deployment.sharing, world.principals["mailer"]
    last_day = dt.datetime(2028, 1, 31, 23, 59, 59, tzinfo=dt.UTC)
    with pytest.raises(DisclosureDenied, match=r"contract DPA-2025-014 is expired on 2028-02-01"):
        sharing.to_processor(
            mailer, SUBJECT, "provide", ["account"], now=last_day + dt.timedelta(seconds=1)
        )
    assert world.deployment.ledgers.disclosures() == []


def test_terminated_contract_revokes_access_at_once(world: World) -> None:
    world.activate(
        _policy_with(
            world, {"processors": {"relay_mail": {"contract": {"terminated": "2026-12-01"}}}}
        )
    )
    sharing, mailer = world.deployment.sharing, world.principals["mailer"]
    with pytest.raises(DisclosureDenied, match="is terminated"):
        sharing.to_processor(mailer, SUBJECT, "provide", ["account"], now=NOW)


def test_a_sub_processor_stops_with_its_processors_contract(world: World) -> None:
    policy = _policy_with(
        world,
        {
            "processors": {
                "relay_mail": {"contract": {"terminated": "2026-12-01"}},
                "relay_backup": {
                    "name": "Relay Backup LLC",
                    "service": "Backup of e-mail delivery logs",
                    "country": "US",
                    "categories": ["account"],
                    "purposes": ["provide"],
                    "regions": ["eu"],
                    "contract": {
                        "reference": "SUB-2026-001",
                        "signed": "2026-01-01",
                        "expires": "2029-01-01",
                    },
                    "dpf_certified": True,
                    "sub_processor_of": "relay_mail",
                },
            }
        },
    )
    assert policy.contract_state("relay_backup", NOW.date()) == "terminated"
    assert list(policy.sub_processors("relay_mail")) == ["relay_backup"]


def test_uncovered_category_is_denied_by_the_access_layer(world: World) -> None:
    with pytest.raises(Denied, match="not engaged for category 'payments'"):
        world.deployment.sharing.to_processor(
            world.principals["mailer"], SUBJECT, "provide", ["payments"], now=NOW
        )


def test_uncovered_country_is_denied(world: World) -> None:
    """The recipient's country has no transfer rule from the subject's region: the
    processor has no standing towards the region's subjects, so it is told what an id
    that exists nowhere is told; the policy's explanation says why."""
    world.activate(_policy_with(world, {"processors": {"relay_mail": {"country": "BR"}}}))
    mailer = world.principals["mailer"]
    with pytest.raises(NoSuchSubject):
        world.deployment.sharing.to_processor(mailer, SUBJECT, "provide", ["account"], now=NOW)
    assert world.deployment.ledgers.disclosures() == []
    decision = world.deployment.reads.explain(mailer, "provide", "account", "eu")
    assert not decision.allowed
    assert "no transfer rule eu→BR" in decision.texts


def test_missing_mechanism_is_denied(world: World) -> None:
    """A rule towards the country exists, but no mechanism listed for it is valid."""
    world.activate(
        _policy_with(
            world,
            {
                "processors": {"relay_mail": {"dpf_certified": False}},
                "mechanisms": {"eu_scc": {"expires": "2026-01-01"}},
            },
        )
    )
    mailer = world.principals["mailer"]
    with pytest.raises(NoSuchSubject):
        world.deployment.sharing.to_processor(mailer, SUBJECT, "provide", ["account"], now=NOW)
    decision = world.deployment.reads.explain(mailer, "provide", "account", "eu")
    assert any(
        "no valid transfer mechanism eu→us for importer 'relay_mail'" in text
        for text in decision.texts
    )


def test_a_sub_processor_shows_in_the_records_of_processing(world: World) -> None:
    from servinfo.policy.ropa import ropa_records

    policy = _policy_with(
        world,
        {
            "processors": {
                "relay_backup": {
                    "name": "Relay Backup LLC", "service": "Backup of delivery logs",
                    "country": "US", "categories": ["account"], "purposes": ["provide"],
                    "regions": ["eu"], "dpf_certified": True, "sub_processor_of": "relay_mail",
                    "contract": {"reference": "SUB-1", "signed": "2026-01-01",
                                 "expires": "2029-01-01"},
                }
            }
        },
    )  # fmt: skip
    assert policy.version != world.deployment.runtime.current.policy.version
    [provide] = [r for r in ropa_records(policy) if r.purpose == "provide"]
    [backup] = [r for r in provide.recipients if r.id == "relay_backup"]
    assert "sub-processor engaged by Relay Mail Services Inc." in backup.description
