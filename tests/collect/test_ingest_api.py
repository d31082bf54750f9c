"""POST /v1/records and /v1/records:batch as the cloud services meet them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sqlalchemy import text
from tests.collect.world import IngestWorld, login, ndjson, usage

from servinfo.config import Settings


def test_a_record_is_stored_in_its_subjects_home_region(world: IngestWorld) -> None:
    answer = world.post("identity", login(ip_address="203.0.113.7", user_agent="Mozilla/5.0"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["type"] == "record"
    assert body["kind"] == "telemetry.auth_event"
    assert body["region"] == "eu"
    assert body["dropped_fields"] == 0
    (record,) = world.records("sub-ada")
    assert record["id"] == body["id"]
    # Telemetry: the address is truncated on arrival, the user agent kept.
    assert record["fields"]["ip_address"] == "203.0.113.0/24"
    assert record["fields"]["user_agent"] == "Mozilla/5.0"
    assert world.count("eu") == 1
    assert world.count("us") == 0


def test_the_write_is_audited_without_personal_data(world: IngestWorld) -> None:
    answer = world.post("identity", login(ip_address="203.0.113.7"))
    entry = world.deployment.audit.tail(1)[0]
    assert entry.action == "write"
    assert entry.record_ids == (answer.json()["id"],)
    assert entry.details["source"] == "identity"
    assert "203.0.113" not in repr(entry)


def test_malformed_json_is_400_with_its_position(world: IngestWorld) -> None:
    answer = world.client.post(
        "/v1/records",
        content=b'{"type": "record",\n "kind": }',
        headers=world.headers("identity"),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_json"
    assert answer.json()["detail"].startswith("line 2, column 10:")


def test_a_schema_violation_is_422_naming_the_field(world: IngestWorld) -> None:
    answer = world.post("identity", login(ip_address="not-an-address"))
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "schema_violation",
        "detail": "fields.ip_address: not an IP address",
    }
    missing = world.post("identity", {**login(), "fields": {"method": "sso"}})
    assert missing.status_code == 422
    assert missing.json()["detail"] == "fields.event: Field required"
    no_time = world.post("identity", {k: v for k, v in login().items() if k != "collected_at"})
    assert no_time.status_code == 422
    assert no_time.json()["detail"].startswith("collected_at: required")


def test_an_undeclared_field_is_refused_where_the_policy_says_refuse(world: IngestWorld) -> None:
    profile = {
        "subject": "sub-ada",
        "kind": "account.profile",
        "collected_at": "2026-11-20T08:15:02+01:00",
        "fields": {"username": "ada", "email": "ada@example.test", "shoe_size": 38},
    }
    answer = world.post("identity", profile)
    assert answer.status_code == 422
    assert answer.json()["error"] == "undeclared_field"
    assert answer.json()["detail"].startswith("fields.shoe_size: not declared by the policy")
    assert world.count() == 0


def test_an_undeclared_field_is_dropped_and_counted_where_the_policy_says_drop(
    world: IngestWorld,
) -> None:
    answer = world.post("platform", usage(hostname="db-7", tenant="acme"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["dropped_fields"] == 2
    (record,) = world.records("sub-ada")
    assert set(record["fields"]) == {"resource_id", "metric", "quantity"}


def test_customer_and_partner_information_is_out_of_scope(world: IngestWorld) -> None:
    for kind in ("customer_content.file", "partner_data"):
        answer = world.post("platform", {**usage(), "kind": kind})
        assert answer.status_code == 422
        assert answer.json()["error"] == "out_of_scope"
        assert "Customer and Partner Information" in answer.json()["detail"]


def test_an_unknown_subject_is_422(world: IngestWorld) -> None:
    answer = world.post("identity", login(subject="sub-nobody"))
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_subject"
    assert answer.json()["detail"].startswith("subject: unknown subject 'sub-nobody'")


def test_an_unknown_kind_is_422(world: IngestWorld) -> None:
    answer = world.post("platform", {**usage(), "kind": "telemetry.mood"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_kind"


def test_another_services_kind_is_403(world: IngestWorld) -> None:
    answer = world.post("platform", login())
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_your_kind"
    assert "service 'platform' may not write kind 'telemetry.auth_event'" in answer.json()["detail"]
    wrong_source = world.post("identity", {**login(), "source": "platform"})
    assert wrong_source.status_code == 403
    assert wrong_source.json()["error"] == "wrong_source"


def test_only_service_principals_with_write_records_send(world: IngestWorld) -> None:
    assert world.post("support-eu", login()).status_code == 403
    assert world.post("dsr", login()).status_code == 403
    assert world.client.post("/v1/records", json=login()).status_code == 401


def test_a_full_card_number_is_refused_outside_free_text(world: IngestWorld) -> None:
    payment = {
        "subject": "sub-ada",
        "kind": "payments.payment",
        "collected_at": COLLECTED_AT,
        "fields": {
            "payment_id": "pay-1",
            "amount": "12.50",
            "currency": "EUR",
            "status": "failed",
            "failure_reason": "card 4111 1111 1111 1111 declined",
        },
    }
    answer = world.post("platform", payment)
    assert answer.status_code == 422
    assert answer.json()["error"] == "card_number"
    assert answer.json()["detail"].startswith("fields.failure_reason:")
    assert "4111" not in answer.json()["detail"]
    payment["fields"]["failure_reason"] = "insufficient funds"  # type: ignore[index]
    assert world.post("platform", payment).status_code == 201


COLLECTED_AT = "2026-11-20T08:15:02Z"


def test_a_body_over_the_limit_is_413(world: IngestWorld) -> None:
    limit = world.deployment.settings.max_body_bytes
    declared = world.client.post(
        "/v1/records",
        content=b"x",
        headers={**world.headers("identity"), "Content-Length": str(limit + 1)},
    )
    assert declared.status_code == 413


def test_a_streamed_body_over_the_limit_is_413(world: IngestWorld) -> None:
    world.deployment.settings = _with_limit(world, 4096)
    line = ndjson([usage()])

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield line

    single = world.client.post(
        "/v1/records",
        content=chunks(),
        headers=world.headers("platform"),
    )
    assert single.status_code == 413
    assert single.json()["error"] == "payload_too_large"
    streamed = world.client.post(
        "/v1/records:batch",
        content=chunks(),
        headers=world.headers("platform"),
    )
    assert streamed.status_code == 413
    body = streamed.json()
    assert body["error"] == "payload_too_large"
    # The lines that arrived in full before the cut were processed, and say so.
    assert body["processed_lines"] == len(body["accepted"]) + len(body["rejected"])
    assert world.count() == len(body["accepted"])


def _with_limit(world: IngestWorld, limit: int) -> Settings:
    return dataclasses.replace(world.deployment.settings, max_body_bytes=limit)


def test_a_batch_keeps_the_good_lines_and_reports_the_bad(world: IngestWorld) -> None:
    body = ndjson(
        [
            usage(),
            b'{"kind": "telemetry.usage", ',
            usage(subject="sub-nobody"),
            b"",
            usage(quantity="lots"),
            {**usage(), "kind": "customer_content"},
            usage(subject="sub-bob"),
        ]
    )
    answer = world.batch("platform", body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [a["line"] for a in result["accepted"]] == [1, 7]
    assert [(r["line"], r["error"]) for r in result["rejected"]] == [
        (2, "malformed_json"),
        (3, "unknown_subject"),
        (5, "schema_violation"),
        (6, "out_of_scope"),
    ]
    assert result["rejected"][0]["detail"].startswith("line 2, column ")
    assert result["rejected"][2]["detail"].startswith("fields.quantity:")
    assert result["counts"]["lines"] == 6
    assert world.count("eu") == 1
    assert world.count("us") == 1


def test_a_batch_registers_subjects_before_their_records(world: IngestWorld) -> None:
    body = ndjson(
        [
            {"type": "organization", "id": "org-uk", "name": "Example Ltd", "home_region": "uk"},
            {"type": "subject", "id": "sub-cy", "org": "org-uk", "jurisdiction": "GB"},
            login(subject="sub-cy", ip_address="2001:db8:1234:5678::1"),
        ]
    )
    answer = world.batch("identity", body)
    assert answer.status_code == 200, answer.text
    assert [a["type"] for a in answer.json()["accepted"]] == ["organization", "subject", "record"]
    (record,) = world.records("sub-cy")
    assert record["region"] == "uk"
    assert record["fields"]["ip_address"] == "2001:db8:1234::/48"


def test_a_batch_from_a_principal_that_may_not_write_is_403(world: IngestWorld) -> None:
    answer = world.batch("support-eu", ndjson([usage()]))
    assert answer.status_code == 403


def test_registration_and_jurisdiction_change_through_the_api(world: IngestWorld) -> None:
    subject = {"type": "subject", "id": "sub-eve", "org": "org-eu", "jurisdiction": "FR"}
    first = world.post("identity", subject)
    assert first.status_code == 201
    assert first.json() == {
        "type": "subject",
        "id": "sub-eve",
        "status": "registered",
        "region": "eu",
    }
    assert world.post("identity", subject).json()["status"] == "unchanged"
    moved = world.post("identity", {**subject, "jurisdiction": "GB"})
    assert moved.status_code == 200
    assert moved.json()["status"] == "jurisdiction_changed"
    assert world.deployment.directory.get_subject("sub-eve").jurisdiction == "GB"
    # UK GDPR sets 6 years for agreements: the regime of the new jurisdiction applies.
    agreement = {
        "subject": "sub-eve",
        "kind": "account.agreement",
        "collected_at": "2026-11-20T08:15:02Z",
        "fields": {"agreement_id": "AG-1", "signatory_name": "Eve"},
    }
    assert world.post("identity", agreement).status_code == 201
    # Its period counts from the account's closure: provisional while the account is open.
    closed = world.post(
        "identity", {**subject, "jurisdiction": "GB", "closed_at": "2026-11-20T08:15:02Z"}
    )
    assert closed.json()["status"] == "closed"
    later = {**agreement, "fields": {"agreement_id": "AG-2", "signatory_name": "Eve"}}
    assert world.post("identity", later).status_code == 201
    with world.deployment.regions["eu"].connect() as connection:
        kept_until = connection.execute(
            text("SELECT retain_until FROM records WHERE subject_id = 'sub-eve' ORDER BY id")
        ).scalars()
        assert [str(d) for d in kept_until] == ["9999-12-31", "2032-11-20"]
    conflict = world.post("identity", {**subject, "org": "org-us"})
    assert conflict.status_code == 409
    unknown_org = world.post("identity", {**subject, "id": "sub-x", "org": "org-nope"})
    assert unknown_org.status_code == 422
    assert unknown_org.json()["error"] == "unknown_organization"


def test_only_the_identity_service_registers(world: IngestWorld) -> None:
    answer = world.post(
        "platform", {"type": "subject", "id": "sub-z", "org": "org-eu", "jurisdiction": "DE"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_registrar"
