"""One model per kind, built from the policy: types, minimization, card numbers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from servinfo.collect.errors import CardNumber, SchemaViolation, UndeclaredField
from servinfo.collect.schemas import KindSchema, build_schemas, compile_kinds
from servinfo.policy import Policy, load_policy_text
from servinfo.policy.loading import default_policy_text

POLICY: Policy = load_policy_text(default_policy_text(), "default.yaml")
KINDS = compile_kinds(POLICY)


def _check(kind: str, fields: dict[str, Any], region: str | None = None) -> dict[str, Any]:
    values, _ = KINDS[kind].validate(fields, phone_region=region)
    return values


def _refused(kind: str, fields: dict[str, Any], region: str | None = None) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as refused:
        KINDS[kind].validate(fields, phone_region=region)
    return refused.value


def test_every_kind_has_a_model() -> None:
    models = build_schemas(POLICY)
    assert set(models) == set(POLICY.kinds())
    assert all(issubclass(m, BaseModel) for m in models.values())
    assert models["account.profile"].model_config["extra"] == "forbid"
    assert models["telemetry.usage"].model_config["extra"] == "ignore"


def test_types_are_normalized() -> None:
    profile = _check(
        "account.profile",
        {"username": "ada", "email": " ada@example.test ", "phone": "030 1234567"},
        region="DE",
    )
    assert profile == {"username": "ada", "email": "ada@example.test", "phone": "+49301234567"}
    charge = _check(
        "payments.charge",
        {"invoice_id": "I-1", "amount": "12.50", "currency": "EUR", "period_end": "2026-11-30"},
    )
    assert charge["amount"] == 12.5
    login = _check("telemetry.auth_event", {"event": "logout", "ip_address": "2001:DB8::1"})
    assert login["ip_address"] == "2001:db8::1"


_MAIL = {"username": "ada", "email": "a@b.de"}
_CHARGE = {"invoice_id": "I", "amount": 1, "currency": "EUR"}
_VIOLATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("account.profile", {"username": "ada", "email": "not-mail"}, "email"),
    ("account.profile", {**_MAIL, "phone": "0301234"}, "phone"),
    ("account.profile", {**_MAIL, "username": 7}, "username"),
    ("account.profile", {**_MAIL, "username": "x" * 129}, "username"),
    ("payments.charge", {**_CHARGE, "amount": -1}, "amount"),
    ("payments.charge", {**_CHARGE, "currency": "eur"}, "currency"),
    ("payments.charge", {**_CHARGE, "status": "x"}, "status"),
    ("payments.billing_details", {"billing_name": "A", "tax_country": "ZZ"}, "tax_country"),
    ("settings.feature", {"feature": "f", "enabled": 1}, "enabled"),
    ("settings.security", {"mfa_enabled": True, "key_rotation_days": "30"}, "key_rotation_days"),
    (
        "account.agreement",
        {"agreement_id": "A", "signatory_name": "B", "signed_on": "1/2"},
        "signed_on",
    ),
    ("telemetry.usage", {"resource_id": "r", "metric": "m"}, "quantity"),
]


@pytest.mark.parametrize(("kind", "fields", "name"), _VIOLATIONS)
def test_violations_name_the_field(kind: str, fields: dict[str, Any], name: str) -> None:
    where = f"fields.{name}"
    refused = _refused(kind, fields)
    assert refused.field == where
    assert refused.message.startswith(where + ": ")


def test_undeclared_fields_are_refused_or_dropped_and_counted() -> None:
    refused = _refused("account.profile", {"username": "a", "email": "a@b.de", "ssn": "1"})
    assert isinstance(refused, UndeclaredField)
    assert refused.field == "fields.ssn"
    values, dropped = KINDS["telemetry.usage"].validate(
        {"resource_id": "r", "metric": "m", "quantity": 1, "host": "h", "owner": "o"}
    )
    assert dropped == 2
    assert set(values) == {"resource_id", "metric", "quantity"}


@pytest.mark.parametrize(
    "text", ["4111111111111111", "pan 4111-1111-1111-1111 ok", "5500 0000 0000 0004"]
)
def test_a_full_card_number_is_refused_outside_free_text(text: str) -> None:
    refused = _refused(
        "payments.payment",
        {
            "payment_id": "p",
            "amount": 1,
            "currency": "EUR",
            "status": "failed",
            "failure_reason": text,
        },
    )
    assert isinstance(refused, CardNumber)
    assert text not in refused.message


@pytest.mark.parametrize("text", ["4111111111111112", "order 1234567890123", "9111111111111111"])
def test_numbers_that_are_not_card_numbers_pass(text: str) -> None:
    _check(
        "payments.payment",
        {
            "payment_id": "p",
            "amount": 1,
            "currency": "EUR",
            "status": "failed",
            "failure_reason": text,
        },
    )


def test_kind_schema_lists_what_later_steps_use() -> None:
    schema: KindSchema = KINDS["telemetry.crash_report"]
    assert schema.free_text == ("stack_trace", "log_excerpt")
    assert KINDS["telemetry.auth_event"].truncate == ("ip_address",)
    assert KINDS["account.profile"].lookup == ("username", "email")
