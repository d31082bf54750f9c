"""The consent basis: explicit, granular, in force at the instant, against the wording in
force, with the country and risks where no mechanism covers the recipient — and every
refusal; withdrawal (CLI, API) and Global Privacy Control stop disclosures at once."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from typing import Any

import pytest
from tests.sharing.world import CALIFORNIAN, NOW, SUBJECT, World

from servinfo.crypto.recipients import new_recipient_key_pair, open_package
from servinfo.policy import Policy
from servinfo.sharing import DisclosureDenied

SECOND = dt.timedelta(seconds=1)
KEYS = new_recipient_key_pair()


def _give(world: World, subject: str = SUBJECT, **terms: Any) -> Any:
    return world.deployment.sharing.give_consent(
        subject, recipient="acme_surveys", purpose="provide", channel="portal",
        recorded_by="partners", request={"form": "survey-consent-v1"}, now=NOW - SECOND * 10,
        **terms,
    )  # fmt: skip


def _disclose(world: World, *, at: dt.datetime = NOW, country: str = "DE", subject: str = SUBJECT):  # type: ignore[no-untyped-def]
    return world.deployment.sharing.with_consent(
        world.principals["partners"], subject, recipient="acme_surveys",
        recipient_country=country, recipient_key=KEYS.public_text(), purpose="provide",
        categories=["account"], now=at,
    )  # fmt: skip


def test_a_consent_in_force_discloses_a_sealed_package_only_the_recipient_opens(
    world: World,
) -> None:
    consent = _give(world)
    assert consent.wording_hash.startswith("sha256:")
    assert json.loads(consent.proof)["recorded_by"] == "partners"
    package = _disclose(world)
    content = json.loads(
        open_package(package.sealed, KEYS.private, world.deployment.keyring.verify_key_bytes())
    )
    assert [r["id"] for r in content["records"]] == [world.record_ids["profile"]]
    assert content["manifest"]["reference"] == consent.entry_id
    assert "sealed" in package.to_dict()
    assert "records" not in package.to_dict()
    [disclosure] = world.deployment.ledgers.disclosures(subject_id=SUBJECT)
    assert (disclosure.recipient, disclosure.basis, disclosure.recipient_kind) == (
        "acme_surveys", "consent", "third_party",
    )  # fmt: skip


def test_no_consent_is_refused(world: World) -> None:
    with pytest.raises(DisclosureDenied, match="no consent to disclosure to 'acme_surveys'"):
        _disclose(world)


def test_consent_withdrawn_a_second_earlier_is_refused(world: World) -> None:
    _give(world)
    assert _disclose(world, at=NOW - SECOND * 2).records  # in force two seconds before
    world.deployment.sharing.withdraw_consent(
        SUBJECT, recipient="acme_surveys", purpose="provide", actor="partners",
        now=NOW - SECOND,
    )  # fmt: skip
    with pytest.raises(DisclosureDenied, match="was withdrawn at"):
        _disclose(world, at=NOW)
    assert len(world.deployment.ledgers.disclosures(subject_id=SUBJECT)) == 1


def test_an_expired_consent_is_refused(world: World) -> None:
    _give(world, expires_at=NOW)
    assert _disclose(world, at=NOW - SECOND).records
    with pytest.raises(DisclosureDenied, match="ended at"):
        _disclose(world, at=NOW)


def _with_consent_text(world: World, description: str) -> Policy:
    document = world.deployment.runtime.current.policy.model_dump(mode="json")
    document["disclosure_grounds"]["consent"]["description"] = description
    return Policy.model_validate(document)


def test_consent_against_an_older_notice_needs_reconsent_when_the_wording_changed(
    world: World,
) -> None:
    _give(world)
    # A new notice version whose consent wording is the same keeps the consent.
    unchanged = world.deployment.runtime.current.policy.model_dump(mode="json")
    unchanged["organization"]["notice"]["last_updated"] = "2026-12-06"
    world.activate(Policy.model_validate(unchanged))
    assert _disclose(world).records
    # A new wording: the subject must consent again.
    world.activate(_with_consent_text(world, "We share only what you agree to, with whom."))
    with pytest.raises(DisclosureDenied, match=r"wording changed in .*must consent again"):
        _disclose(world)
    _give(world)  # renewed under the new notice
    assert _disclose(world).records


def test_a_country_without_a_mechanism_needs_the_country_and_risks_in_the_consent(
    world: World,
) -> None:
    _give(world)
    with pytest.raises(DisclosureDenied, match=r"no transfer rule eu→BR.*Art\. 49\(1\)\(a\)"):
        _disclose(world, country="BR")
    world.deployment.sharing.withdraw_consent(
        SUBJECT, recipient="acme_surveys", purpose="provide", actor="partners",
        now=NOW - SECOND * 5,
    )  # fmt: skip
    _give(world, country="BR", risks="no adequacy decision; no safeguards; redress uncertain")
    assert _disclose(world, country="BR").records


def test_withdrawal_through_the_api_is_as_easy_as_giving(world: World) -> None:
    from fastapi.testclient import TestClient

    from servinfo.api import create_app

    headers = {"Authorization": f"Bearer {world.tokens['cal']}"}
    body = {"subject": CALIFORNIAN, "recipient": "acme_surveys", "purpose": "provide"}
    with closing(TestClient(create_app(world.deployment))) as client:
        given = client.post("/v1/consents/recipients", json=body, headers=headers)
        assert given.status_code == 201, given.text
        withdrawn = client.post("/v1/consents/recipients/withdraw", json=body, headers=headers)
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["state"] == "withdrawn"
        other = {**body, "subject": SUBJECT}
        refused = client.post("/v1/consents/recipients", json=other, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")


def test_global_privacy_control_withdraws_where_the_regime_grants_an_opt_out(
    world: World,
) -> None:
    from fastapi.testclient import TestClient

    from servinfo.api import create_app

    _give(world, subject=CALIFORNIAN)
    _give(world, subject=SUBJECT)
    # GDPR grants no opt-out of sale or sharing: a signal changes nothing for this subject.
    assert world.deployment.sharing.honour_gpc(SUBJECT, source="test", actor="x") == []
    with closing(TestClient(create_app(world.deployment))) as client:
        gpc = client.get("/.well-known/gpc.json")
        assert gpc.status_code == 200
        assert gpc.json()["gpc"] is True
        # Any call of the Californian's own principal that carries Sec-GPC: 1.
        client.get(
            "/v1/subjects/subj-us-ca/records",
            params={"purpose": "provide"},
            headers={"Authorization": f"Bearer {world.tokens['cal']}", "Sec-GPC": "1"},
        )
    [event] = [
        c
        for c in world.deployment.ledgers.consents(CALIFORNIAN, include_history=True)
        if c.state == "withdrawn"
    ]
    assert event.channel == "gpc"
    with pytest.raises(DisclosureDenied, match=r"withdrawn .*Global Privacy Control"):
        _disclose(world, subject=CALIFORNIAN, country="US", at=dt.datetime.now(dt.UTC))
    assert _disclose(world, subject=SUBJECT).records


def test_the_identity_service_forwards_a_gpc_signal(world: World) -> None:
    from fastapi.testclient import TestClient

    from servinfo.api import create_app

    _give(world, subject=CALIFORNIAN)
    identity = world.deployment.principal_service.add(
        "identity-svc", kind="service", role="ingest", region="us", binding="identity",
        actor="admin",
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {identity.token}"}
    with closing(TestClient(create_app(world.deployment))) as client:
        answer = client.post("/v1/signals/gpc", json={"subject": CALIFORNIAN}, headers=headers)
    assert answer.json() == {"withdrawn": 1}


def test_a_malformed_recipient_key_is_the_callers_mistake(world: World) -> None:
    from servinfo.sharing import InvalidSharingInput

    _give(world)
    with pytest.raises(InvalidSharingInput, match="recipient key: a recipient key is 32 bytes"):
        world.deployment.sharing.with_consent(
            world.principals["partners"], SUBJECT, recipient="acme_surveys",
            recipient_country="DE", recipient_key="not a key", purpose="provide",
            categories=["account"], now=NOW,
        )  # fmt: skip


def test_withdrawal_on_the_command_line_takes_what_giving_took(
    world: World,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from servinfo.cli.app import main

    monkeypatch.setenv("SERVINFO_TOKEN", world.tokens["officer"])
    scope = (SUBJECT, "--recipient", "acme_surveys", "--purpose", "provide")
    data_dir = ("--data-dir", str(tmp_path / "deployment"), "--json")
    for verb, state in (("consent-give", "given"), ("consent-withdraw", "withdrawn")):
        with pytest.raises(SystemExit) as exited:
            main(["share", verb, *scope, *data_dir])
        assert exited.value.code == 0
        assert json.loads(capsys.readouterr().out)["state"] == state
    with pytest.raises(DisclosureDenied, match="was withdrawn"):
        _disclose(world, at=dt.datetime.now(dt.UTC) + SECOND)
