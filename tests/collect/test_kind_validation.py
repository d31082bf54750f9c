"""KindSchema.validate answers exactly as the kind's pydantic model does.

Ingest validates a record's fields with a ``TypedDict`` built from the same
annotations as the model of :func:`build_schemas` (a dict out, no model
instance). Here the model, used as ingest used it before, is the reference:
the same values in the same order, the same count of dropped fields, or the
same error, field and message.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from servinfo.collect.errors import CardNumber, SchemaViolation, UndeclaredField
from servinfo.collect.schemas import (
    KindSchema,
    _has_card_number,
    _strings,
    _violation,
    build_schemas,
    compile_kinds,
)
from servinfo.policy import Policy, load_policy_text
from servinfo.policy.loading import default_policy_text


def _policy_with_every_type() -> Policy:
    """The default policy and a kind with the types and limits it does not use."""
    document = yaml.safe_load(default_policy_text())

    def field(type_: str, **more: Any) -> dict[str, Any]:
        return {"type": type_, "description": type_, "provenance": "observed", **more}

    document["categories"]["settings"]["kinds"]["everything"] = {
        "name": "Every type",
        "description": "Every field type, with limits.",
        "fideslang": "user.settings",
        "undeclared": "drop",
        "retention": {"period": "90 days", "starts": "collected", "retention_class": "standard"},
        "fields": {
            "at": field("datetime", required=True),
            "extra": field("object"),
            "tags": field("list", max_length=3),
            "mail": field("email", max_length=12),
            "ip": field("ip_address", max_length=9),
            "phone": field("phone", required=True),
            "label": field("string", max_length=5),
        },
    }
    document["services"]["platform"]["kinds"].append("settings.everything")
    return load_policy_text(yaml.safe_dump(document, sort_keys=False))


POLICY = _policy_with_every_type()
KINDS = compile_kinds(POLICY)
MODELS = build_schemas(POLICY)


def _by_model(
    schema: KindSchema, model: type[BaseModel], fields: object, region: str | None
) -> tuple[dict[str, Any], int]:
    """KindSchema.validate as it was, with a model instance per record."""
    if not isinstance(fields, dict):
        raise SchemaViolation("fields", "expected an object of the kind's fields")
    extra = [name for name in fields if name not in schema.declared]
    dropped = 0
    if extra:
        if schema.undeclared == "refuse":
            raise UndeclaredField(f"fields.{extra[0]}", "refused")
        dropped = len(extra)
        fields = {k: v for k, v in fields.items() if k in schema.declared}
    try:
        instance = model.model_validate(fields, context={"phone_region": region})
    except ValidationError as error:
        raise _violation(error) from None
    values = {name: value for name, value in instance.__dict__.items() if value is not None}
    for name in schema.card_checked:
        value = values.get(name)
        if value is not None and any(_has_card_number(s) for s in _strings(value)):
            raise CardNumber(f"fields.{name}", "card")
    return values, dropped


def _outcome(validate: Any) -> tuple[str, object]:
    try:
        values, dropped = validate()
    except (UndeclaredField, CardNumber) as error:  # worded by code outside the comparison
        return type(error).__name__, error.field
    except SchemaViolation as error:
        return type(error).__name__, (error.field, error.message)
    return "valid", (list(values.items()), [type(v) for v in values.values()], dropped)


#: Values of every field type, right and wrong, and of every JSON type.
_SAMPLES = st.sampled_from(
    [
        None, True, False, 0, 1, -1, 7, 2**70, 1.5, -0.0, 12.5, 1e300, float("nan"),
        "", " ", "x", "abcdef", "Ada", "ada@example.test", " ada@example.test ", "not-mail",
        "a@b.de", "+49 30 1234567", "030 1234567", "0301234", "+1 415 555 0100",
        "203.0.113.7", "2001:DB8::1", "203.0.113.07", "::ffff:1.2.3.4",
        "2026-11-20", "2026-11-20T08:15:02Z", "2026-11-20T08:15:02", "1/2",
        "EUR", "eur", "DE", "ZZ", "12.50", "-1", "1234567890123456",
        "4111111111111111", "pan 4111-1111-1111-1111", "draft", "paid", "healthy", "login_success",
        [], ["a", 1, 2.5, True], ["a", None], [["nested"]], ["x"] * 5,
        {}, {"k": "v"}, {"k": {"card": "4111 1111 1111 1111"}}, {"1": [1, 2]},
    ]
)  # fmt: skip
_VALUES = _SAMPLES | st.text(max_size=8) | st.integers() | st.floats()
_SCALARS = st.text(max_size=6) | st.integers() | st.floats(allow_nan=False) | st.booleans()
#: Mostly valid values of each type, so that normalized values are compared too.
_VALID: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=8) | st.sampled_from(["4111 1111 1111 1111", "Mozilla/5.0 1"]),
    "text": st.text(max_size=20),
    "email": st.sampled_from(["ada@example.test", " b.c@d.example ", "x@y.de"]),
    "phone": st.sampled_from(["+49 30 1234567", "030 1234567", "+1 415 555 0100", "+44 20"]),
    "ip_address": st.ip_addresses().map(lambda a: a.exploded.upper()) | st.ip_addresses().map(str),
    "country": st.sampled_from(["DE", "US", "XK"]),
    "currency": st.sampled_from(["EUR", "USD"]),
    "money": st.sampled_from([0, 3, 12.5, "12.50", "7", 0.1]),
    "date": st.dates().map(str),
    "datetime": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    "integer": st.integers(),
    "number": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "list": st.lists(_SCALARS, max_size=4),
    "object": st.dictionaries(st.text(max_size=4), _SCALARS | st.lists(_SCALARS), max_size=3),
}


def _value(kind_id: str, name: str) -> st.SearchStrategy[Any]:
    spec = POLICY.kinds()[kind_id].fields[name]
    valid = st.sampled_from(spec.values or [""]) if spec.type == "enum" else _VALID[spec.type]
    return st.one_of(*[valid] * 8, st.none(), _VALUES)


@st.composite
def _fields(draw: st.DrawFn, kind_id: str) -> dict[str, Any]:
    specs = POLICY.kinds()[kind_id].fields
    fields = {
        name: draw(_value(kind_id, name))
        for name, spec in sorted(specs.items())
        if draw(st.integers(min_value=0, max_value=9)) < (9 if spec.required else 5)
    }
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        fields[draw(st.sampled_from(["host", "ssn", "_x"]))] = draw(_VALUES)
    return dict(sorted(fields.items(), key=lambda _: draw(st.integers())))


@pytest.mark.parametrize("region", [None, "DE"])
@settings(max_examples=300)
@given(st.sampled_from(sorted(KINDS)).flatmap(lambda k: st.tuples(st.just(k), _fields(k))))
def test_validation_agrees_with_the_kind_model(
    region: str | None, case: tuple[str, dict[str, Any]]
) -> None:
    kind_id, fields = case
    schema, model = KINDS[kind_id], MODELS[kind_id]
    expected = _outcome(lambda: _by_model(schema, model, fields, region))
    assert _outcome(lambda: schema.validate(fields, phone_region=region)) == expected


_AT = {"at": "2026-11-20T08:15:02Z", "phone": "030 1234567"}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"phone": "030 1234567"}, "fields.at"),
        ({**_AT, "label": "toolong"}, "fields.label"),
        ({**_AT, "ip": "2001:db8::1"}, "fields.ip"),
        ({**_AT, "tags": [1, 2, 3, 4]}, "fields.tags"),
        ({**_AT, "extra": {"note": "card 4111 1111 1111 1111"}}, "fields.extra"),
    ],
)
def test_errors_name_the_same_field(fields: dict[str, Any], where: str) -> None:
    schema, model = KINDS["settings.everything"], MODELS["settings.everything"]
    expected = _outcome(lambda: _by_model(schema, model, fields, "DE"))
    assert expected[0] in ("SchemaViolation", "CardNumber")
    assert _outcome(lambda: schema.validate(fields, phone_region="DE")) == expected
    with pytest.raises(SchemaViolation) as refused:
        schema.validate(fields, phone_region="DE")
    assert refused.value.field == where


def test_nulls_and_absent_fields_are_left_out() -> None:
    values, dropped = KINDS["settings.everything"].validate(
        {"at": "2026-11-20T08:15:02+01:00", "phone": "030 1234567", "ip": None, "host": "h"},
        phone_region="DE",
    )
    assert values == {"at": "2026-11-20T08:15:02+01:00", "phone": "+49301234567"}
    assert dropped == 1


def test_the_values_are_a_new_dict() -> None:
    # Ingest redacts and treats the values in place; the record as sent stays as it was.
    fields = {"resource_id": "r", "metric": "m", "quantity": 1}
    values, _ = KINDS["telemetry.usage"].validate(fields)
    assert values == fields
    assert values is not fields
