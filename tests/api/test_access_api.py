"""The read API as callers meet it: tokens, purposes, decisions, narrowing, audit."""

from __future__ import annotations

from sqlalchemy import text
from tests.api.world import World


def test_no_token_is_401(world: World) -> None:
    answer = world.client.get("/v1/subjects/subj-eu-1/records", params={"purpose": "provide"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"
    assert answer.headers["www-authenticate"] == "Bearer"


def test_unknown_token_is_401(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers={"Authorization": "Bearer svi_not-a-token"},
    )
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthenticated", "detail": "unknown or revoked token"}


def test_no_purpose_is_400_listing_the_purposes(world: World) -> None:
    answer = world.client.get("/v1/subjects/subj-eu-1/records", headers=world.headers("support-eu"))
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "purpose_required"
    assert {"provide", "improve_use", "improve_service", "protect", "legal"} <= set(
        body["purposes"]
    )


def test_unknown_purpose_is_400(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "marketing"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 400
    assert "unknown purpose 'marketing'" in answer.json()["detail"]


def test_support_engineer_reads_for_provide(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    kinds = sorted(r["kind"] for r in body["records"])
    # The role sees account, settings, telemetry, communications — not payments.
    assert kinds == ["account.profile", "telemetry.auth_event"]
    profile = next(r for r in body["records"] if r["kind"] == "account.profile")
    assert profile["fields"]["email"] == "ada@example.test"
    assert profile["subject"] == "subj-eu-1"
    assert body["decisions"]["payments"]["allowed"] is False


def test_explicit_denied_category_is_403_with_reasons(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide", "category": "payments"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 403
    body = answer.json()
    assert body["error"] == "denied"
    assert any("payments" in reason for reason in body["reasons"])


def test_purpose_the_role_does_not_serve_is_403(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "protect"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 403
    assert any("protect" in reason for reason in answer.json()["reasons"])


def test_improvement_sees_pseudonymized_telemetry_only(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "improve_use"},
        headers=world.headers("analyst-us"),
    )
    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    login = next(r for r in records if r["kind"] == "telemetry.auth_event")
    # improve_use narrows auth events to event, method and country.
    assert set(login["fields"]) <= {"event", "method", "country"}
    assert "ip_address" not in login["fields"]


def test_improve_service_truncates_addresses_and_hides_the_subject(world: World) -> None:
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "improve_service", "category": "telemetry"},
        headers=world.headers("analyst-us"),
    )
    assert answer.status_code == 200, answer.text
    (login,) = answer.json()["records"]
    assert login["fields"]["ip_address"] == "203.0.113.0/24"
    assert login["subject"].startswith("pseudonym:")
    assert "subj-eu-1" not in answer.text
    decision = answer.json()["decisions"]["telemetry"]
    assert decision["mechanism"] == "eu_dpf"  # eu → us, IMS - Network Inc. is DPF-certified


def test_read_by_record_id(world: World) -> None:
    answer = world.client.get(
        f"/v1/records/{world.record_ids['profile']}",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"][0]["fields"]["username"] == "ada"
    denied = world.client.get(
        f"/v1/records/{world.record_ids['invoice']}",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert denied.status_code == 403
    missing = world.client.get(
        "/v1/records/01JXXXXXXXXXXXXXXXXXXXXXXX",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert missing.status_code == 404


def test_subject_reads_only_their_own_data(world: World) -> None:
    own = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("ada"),
    )
    assert own.status_code == 200, own.text
    other = world.client.get(
        "/v1/subjects/subj-eu-2/records",
        params={"purpose": "provide"},
        headers=world.headers("ada"),
    )
    # Not 403: to another subject, an account that exists answers as one that does not
    # (a 403 here would tell a subject which ids exist; tests/access/test_subject_privacy.py).
    assert other.status_code == 404
    assert other.json()["error"] == "unknown_subject"


def test_restriction_blocks_reads(world: World) -> None:
    world.deployment.ledgers.restrict("subj-eu-1", reason="accuracy contested", actor="dpo")
    answer = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert answer.status_code == 403
    assert any("restrict" in reason for reason in answer.json()["reasons"])


def test_objection_blocks_the_credit_check(world: World) -> None:
    allowed = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide.credit_check", "category": "payments"},
        headers=world.headers("billing-eu"),
    )
    assert allowed.status_code == 200, allowed.text
    world.deployment.ledgers.object("subj-eu-1", "provide.credit_check", actor="subj-eu-1")
    denied = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide.credit_check", "category": "payments"},
        headers=world.headers("billing-eu"),
    )
    assert denied.status_code == 403


def test_processor_read_enters_the_disclosure_register(world: World) -> None:
    """A processor reads through the sharing service, never the bare read path."""
    refused = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide", "category": "account"},
        headers=world.headers("mailer"),
    )
    assert (refused.status_code, refused.json()["error"]) == (403, "grant_required")
    answer = world.client.post(
        "/v1/disclosures/processor",
        json={"subject": "subj-eu-1", "purpose": "provide", "categories": ["account"]},
        headers=world.headers("mailer"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["manifest"]["reference"] == "DPA-2025-014"
    (disclosure,) = world.deployment.ledgers.disclosures(subject_id="subj-eu-1")
    assert disclosure.recipient == "relay_mail"
    assert disclosure.basis == "processor"


def test_decisions_endpoint_explains_without_reading(world: World) -> None:
    answer = world.client.post(
        "/v1/decisions",
        json={"purpose": "improve_service", "category": "telemetry", "region": "eu"},
        headers=world.headers("analyst-us"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["allowed"] is True
    assert body["mechanism"] == "eu_dpf"
    assert all({"code", "passed", "text"} <= set(r) for r in body["reasons"])
    bad = world.client.post(
        "/v1/decisions", json={"category": "telemetry"}, headers=world.headers("analyst-us")
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_request"
    assert "region" in bad.json()["detail"]


def test_every_decision_and_read_is_audited(world: World) -> None:
    before = world.deployment.audit.size()
    world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    world.deployment.audit_buffer.flush()
    entries = world.deployment.audit.entries(before, world.deployment.audit.size())
    actions = [e.action for e in entries]
    assert actions.count("decision") == 5  # one per category of `provide`
    assert actions.count("read") == 1
    assert all("subj-eu-1" not in e.canonical_bytes().decode() for e in entries)
    assert world.deployment.audit.verify().entries == world.deployment.audit.size()


def test_a_read_whose_audit_cannot_be_committed_is_503_without_data(world: World) -> None:
    # The audit table vanishes: the read's entries cannot be appended.
    with world.deployment.control.begin() as connection:
        connection.execute(text("ALTER TABLE audit_entries RENAME TO audit_entries_away"))
    for path in ("/v1/subjects/subj-eu-1/records", f"/v1/records/{world.record_ids['login']}"):
        answer = world.client.get(
            path, params={"purpose": "provide"}, headers=world.headers("support-eu")
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "audit_unavailable"
        assert "records" not in answer.json()
        assert "login_success" not in answer.text


def test_principals_api_needs_the_permission(world: World) -> None:
    created = world.client.post(
        "/v1/principals",
        json={"name": "sre-ch", "kind": "employee", "role": "sre", "region": "ch"},
        headers=world.headers("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["token"].startswith("svi_")
    forbidden = world.client.get("/v1/principals", headers=world.headers("support-eu"))
    assert forbidden.status_code == 403
    revoked = world.client.delete("/v1/principals/support-eu", headers=world.headers("admin"))
    assert revoked.status_code == 200
    after = world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    assert after.status_code == 401


def test_health_metrics_and_openapi(world: World) -> None:
    assert world.client.get("/healthz").json()["status"] == "ok"
    world.client.get(
        "/v1/subjects/subj-eu-1/records",
        params={"purpose": "provide"},
        headers=world.headers("support-eu"),
    )
    metrics = world.client.get("/metrics").text
    assert "servinfo_decisions_total" in metrics
    spec = world.client.get("/openapi.json").json()
    assert "/v1/subjects/{subject_id}/records" in spec["paths"]
    assert world.client.get("/nowhere").json()["error"] == "not_found"


def test_audit_checkpoint_keys_and_consistency_are_public_and_proofs_need_read_audit(
    world: World,
) -> None:
    from servinfo.audit.merkle import leaf_hash
    from servinfo.audit.policy import TrustPolicy
    from servinfo.audit.tlog_proof import TlogProof

    checkpoint = world.client.get("/v1/audit/checkpoint")  # no token
    assert checkpoint.status_code == 200, checkpoint.text
    assert checkpoint.headers["content-type"].startswith("text/plain")
    origin, size = checkpoint.text.splitlines()[:2]
    assert origin.endswith(f"/servinfo/{world.deployment.deployment_id}")
    assert int(size) >= 1
    keys = world.client.get("/v1/audit/keys").json()
    assert keys["origin"] == origin
    assert [k["valid_until"] for k in keys["log_keys"]] == [None]
    policy = TrustPolicy.parse(world.deployment.audit_service.trust_policy_text())
    assert policy.verify_checkpoint(checkpoint.content).checkpoint.origin == origin

    proof = world.client.get("/v1/audit/proof/0", headers=world.headers("admin"))
    assert proof.status_code == 200, proof.text
    parsed = TlogProof.parse(proof.text)
    assert parsed.extra is not None
    assert parsed.verify(leaf_hash(parsed.extra), policy).checkpoint.size >= 1
    denied = world.client.get("/v1/audit/proof/0", headers=world.headers("support-eu"))
    assert denied.status_code == 403
    # A person holding an erasure receipt has no token, and must still see the log never
    # went back from the receipt's checkpoint.
    world.deployment.audit.record("decision", actor="admin")
    world.deployment.audit.checkpoint()
    newer = int(world.client.get("/v1/audit/checkpoint").text.splitlines()[1])
    assert newer > int(size)
    consistency = world.client.get(f"/v1/audit/consistency?from={size}&to={newer}")  # no token
    assert consistency.status_code == 200, consistency.text
    assert consistency.json()["old_size"] == int(size)
    assert consistency.json()["proof"]
