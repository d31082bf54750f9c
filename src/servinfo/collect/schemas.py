"""One pydantic model per kind, built from the fields the policy declares.

:func:`build_schemas` turns every kind of the policy into a model with
:func:`pydantic.create_model`: each declared field becomes a typed attribute
(:mod:`servinfo.collect._types`), required or optional as declared, and the
model refuses (``extra="forbid"``) or ignores (``extra="ignore"``) undeclared
fields as the kind's ``undeclared`` setting says. :class:`KindSchema` wraps a
model with what ingest needs besides validation: the undeclared fields are
named or counted *before* validation, so that a dropped field is counted and
a refused one named; string fields outside free text are searched for full
card numbers ("never a full card number"); and the free-text, lookup and
telemetry fields are listed for the later steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from stdnum import luhn

from servinfo.collect._types import annotation_for
from servinfo.collect.errors import CardNumber, SchemaViolation, UndeclaredField
from servinfo.policy import Policy
from servinfo.policy.model import Kind, Retention

__all__ = ["KindSchema", "build_schemas", "compile_kinds"]

#: Field types whose text may hide a card number; the others are too constrained to.
_CARD_CHECKED_TYPES = frozenset({"string", "email", "list", "object"})
#: 13 to 19 digits, optionally grouped by spaces or dashes (4111 1111 1111 1111).
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
#: Card numbers start with 2–6 (Mastercard 2/5, Amex 3, Visa 4, Discover 6); this keeps
#: Luhn-valid ids of other shapes from being refused (one in ten random numbers passes Luhn).
_CARD_FIRST_DIGITS = frozenset("23456")
_SHORTEST_CARD = 13
_MAX_PROBLEMS = 5
_VALUE_ERROR = "Value error, "


def build_schemas(policy: Policy) -> dict[str, type[BaseModel]]:
    """A validating model per kind id (``account.profile`` …)."""
    return {kind_id: _model(kind_id, kind) for kind_id, kind in policy.kinds().items()}


def compile_kinds(policy: Policy) -> dict[str, KindSchema]:
    """Every kind's :class:`KindSchema`, by kind id."""
    return {
        kind_id: KindSchema.from_kind(kind_id, kind, _model(kind_id, kind))
        for kind_id, kind in policy.kinds().items()
    }


def _model(kind_id: str, kind: Kind) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for name, spec in kind.fields.items():
        annotation = annotation_for(spec)
        definitions[name] = (annotation, ...) if spec.required else (annotation | None, None)
    extra: Literal["forbid", "ignore"] = "forbid" if kind.undeclared == "refuse" else "ignore"
    model: type[BaseModel] = create_model(
        "Fields_" + kind_id.replace(".", "_"),
        __config__=ConfigDict(extra=extra, frozen=True),
        **definitions,
    )
    return model


@dataclass(frozen=True)
class KindSchema:
    """A kind's model and the field lists that minimization, redaction and storage use."""

    kind_id: str
    category: str
    model: type[BaseModel]
    declared: frozenset[str]
    undeclared: Literal["refuse", "drop"]
    free_text: tuple[str, ...]
    lookup: tuple[str, ...]
    truncate: tuple[str, ...]
    pseudonymize: tuple[str, ...]
    card_checked: tuple[str, ...]
    retention: Retention

    @classmethod
    def from_kind(cls, kind_id: str, kind: Kind, model: type[BaseModel]) -> KindSchema:
        fields = kind.fields
        return cls(
            kind_id=kind_id,
            category=kind_id.split(".", 1)[0],
            model=model,
            declared=frozenset(fields),
            undeclared=kind.undeclared,
            free_text=tuple(n for n, s in fields.items() if s.free_text),
            lookup=tuple(n for n, s in fields.items() if s.lookup),
            truncate=tuple(n for n, s in fields.items() if s.telemetry == "truncate"),
            pseudonymize=tuple(n for n, s in fields.items() if s.telemetry == "pseudonymize"),
            card_checked=tuple(
                n for n, s in fields.items() if s.type in _CARD_CHECKED_TYPES and not s.free_text
            ),
            retention=kind.retention,
        )

    def validate(
        self, fields: object, *, phone_region: str | None = None
    ) -> tuple[dict[str, Any], int]:
        """The validated, normalized fields (nulls left out) and how many were dropped.

        Raises :class:`UndeclaredField` for an undeclared field of a ``refuse``
        kind, :class:`SchemaViolation` naming each bad field (up to five), and
        :class:`CardNumber` when a field other than free text holds a full
        card number.
        """
        # (1) An object of fields.
        if not isinstance(fields, dict):
            raise SchemaViolation("fields", "expected an object of the kind's fields")
        # (2) Minimization: name or count undeclared fields before validation.
        dropped = 0
        extra = [name for name in fields if name not in self.declared]
        if extra:
            if self.undeclared == "refuse":
                raise UndeclaredField(
                    f"fields.{extra[0]}",
                    f"not declared by the policy for {self.kind_id} "
                    f"(declared: {', '.join(sorted(self.declared))}); "
                    "undeclared fields are refused (data minimization)",
                )
            dropped = len(extra)
            fields = {k: v for k, v in fields.items() if k in self.declared}
        # (3) Types, lengths, values, required fields.
        try:
            model = self.model.model_validate(fields, context={"phone_region": phone_region})
        except ValidationError as error:
            raise _violation(error) from None
        # Every field left out defaults to None, so the set fields that are not
        # None are the model's non-None values: no per-field attribute lookups.
        values = {name: value for name, value in model.__dict__.items() if value is not None}
        # (4) Never a full card number, except in free text (which redaction masks).
        for name in self.card_checked:
            value = values.get(name)
            if value is None or (isinstance(value, str) and len(value) < _SHORTEST_CARD):
                continue
            if any(_has_card_number(s) for s in _strings(value)):
                raise CardNumber(
                    f"fields.{name}",
                    "holds a full card number; only the last four digits (card_last4) "
                    "may be stored",
                )
        return values, dropped


def _violation(error: ValidationError) -> SchemaViolation:
    problems = []
    for item in error.errors(include_url=False, include_input=False)[:_MAX_PROBLEMS]:
        location = "fields"
        for part in item["loc"]:
            location += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = str(item["msg"]).removeprefix(_VALUE_ERROR)
        problems.append((location, message))
    first, message = problems[0]
    rest = "".join(f"; {where}: {what}" for where, what in problems[1:])
    return SchemaViolation(first, message + rest)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _has_card_number(text: str) -> bool:
    if len(text) < _SHORTEST_CARD:
        return False
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if digits[0] in _CARD_FIRST_DIGITS and luhn.is_valid(digits):
            return True
    return False
