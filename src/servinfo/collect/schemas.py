"""One pydantic model per kind, built from the fields the policy declares.

:func:`build_schemas` turns every kind of the policy into a model with
:func:`pydantic.create_model`: each declared field becomes a typed attribute
(:mod:`servinfo.collect._types`), required or optional as declared, and the
model refuses (``extra="forbid"``) or ignores (``extra="ignore"``) undeclared
fields as the kind's ``undeclared`` setting says.

:class:`KindSchema` validates the same fields, with the same annotations, as a
``TypedDict``: pydantic then returns the fields as a dict rather than a model
instance to be read back, which takes about 40 % off its time per record. It
adds what ingest needs besides validation: the undeclared fields are named or
counted *before* validation, so that a dropped field is counted and a refused
one named; string fields outside free text are searched for full card numbers
("never a full card number"); and the free-text, lookup and telemetry fields
are listed for the later steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Required

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model, with_config
from stdnum import luhn

# pydantic refuses typing.TypedDict before Python 3.12; typing_extensions is its dependency.
from typing_extensions import TypedDict

from servinfo.access.identifiers import identifier_fields
from servinfo.collect._digits import has_digit_run
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
#: Separators a card number's digit groups may have (4111 1111 1111 1111).
_SEPARATORS = b" -"
_MAX_PROBLEMS = 5
_VALUE_ERROR = "Value error, "


def build_schemas(policy: Policy) -> dict[str, type[BaseModel]]:
    """A validating model per kind id (``account.profile`` …)."""
    return {kind_id: _model(kind_id, kind) for kind_id, kind in policy.kinds().items()}


def compile_kinds(policy: Policy) -> dict[str, KindSchema]:
    """Every kind's :class:`KindSchema`, by kind id."""
    identifiers = identifier_fields(policy)
    return {
        kind_id: KindSchema.from_kind(kind_id, kind, identifiers.get(kind_id, ()))
        for kind_id, kind in policy.kinds().items()
    }


def _model(kind_id: str, kind: Kind) -> type[BaseModel]:
    definitions: dict[str, Any] = {
        name: (annotation, ...) if required else (annotation, None)
        for name, annotation, required in _fields(kind)
    }
    model: type[BaseModel] = create_model(
        _name(kind_id),
        __config__=ConfigDict(extra=_extra(kind), frozen=True),
        **definitions,
    )
    return model


def _fields_adapter(kind_id: str, kind: Kind) -> TypeAdapter[Any]:
    """The model's fields as a ``TypedDict``: the same checks, a dict out."""
    definitions: dict[str, Any] = {
        name: Required[annotation] if required else NotRequired[annotation]
        for name, annotation, required in _fields(kind)
    }
    # The functional form is the one that takes names known only at run time.
    shape = TypedDict(_name(kind_id), definitions)  # type: ignore[misc]
    return TypeAdapter(with_config(ConfigDict(extra=_extra(kind)))(shape))


def _fields(kind: Kind) -> Iterator[tuple[str, Any, bool]]:
    """Each declared field: its name, annotation (null allowed unless required), requiredness."""
    for name, spec in kind.fields.items():
        annotation = annotation_for(spec)
        yield name, (annotation if spec.required else annotation | None), spec.required


def _name(kind_id: str) -> str:
    return "Fields_" + kind_id.replace(".", "_")


def _extra(kind: Kind) -> Literal["forbid", "ignore"]:
    return "forbid" if kind.undeclared == "refuse" else "ignore"


@dataclass(frozen=True)
class KindSchema:
    """A kind's validator and the field lists that minimization, redaction and storage use."""

    kind_id: str
    category: str
    adapter: TypeAdapter[Any]
    declared: frozenset[str]
    undeclared: Literal["refuse", "drop"]
    free_text: tuple[str, ...]
    lookup: tuple[str, ...]
    #: The identifiers the kind's records carry: (identifier name, field, type).
    identifiers: tuple[tuple[str, str, str], ...]
    truncate: tuple[str, ...]
    pseudonymize: tuple[str, ...]
    card_checked: tuple[str, ...]
    #: Whether a field's check depends on the subject's country (national phone numbers).
    regional: bool
    retention: Retention

    @classmethod
    def from_kind(
        cls, kind_id: str, kind: Kind, identifiers: tuple[tuple[str, str, str], ...] = ()
    ) -> KindSchema:
        fields = kind.fields
        return cls(
            kind_id=kind_id,
            category=kind_id.split(".", 1)[0],
            adapter=_fields_adapter(kind_id, kind),
            declared=frozenset(fields),
            undeclared=kind.undeclared,
            free_text=tuple(n for n, s in fields.items() if s.free_text),
            lookup=tuple(n for n, s in fields.items() if s.lookup),
            identifiers=identifiers,
            truncate=tuple(n for n, s in fields.items() if s.telemetry == "truncate"),
            pseudonymize=tuple(n for n, s in fields.items() if s.telemetry == "pseudonymize"),
            card_checked=tuple(
                n for n, s in fields.items() if s.type in _CARD_CHECKED_TYPES and not s.free_text
            ),
            regional=any(s.type == "phone" for s in fields.values()),
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
        if not fields.keys() <= self.declared:  # one set comparison in the usual case
            extra = [name for name in fields if name not in self.declared]
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
        context = {"phone_region": phone_region} if self.regional else None
        try:
            values: dict[str, Any] = self.adapter.validate_python(fields, context=context)
        except ValidationError as error:
            raise _violation(error) from None
        # Fields left out are not in the result (a fresh dict); fields sent as null are.
        if None in values.values():
            values = {name: value for name, value in values.items() if value is not None}
        # (4) Never a full card number, except in free text (which redaction masks).
        for name in self.card_checked:
            value = values.get(name)
            if value is None:
                continue
            if isinstance(value, str):  # the usual case, without generators
                found = _has_card_number(value)
            else:
                found = any(_has_card_number(s) for s in _strings(value))
            if found:
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
    # For ASCII text (in which the regex's \d is 0-9), a cheap screen first: without
    # 13 digits together once separators are removed, it holds no card number.
    if text.isascii() and not has_digit_run(
        text.encode("ascii"), _SHORTEST_CARD, ignoring=_SEPARATORS
    ):
        return False
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if digits[0] in _CARD_FIRST_DIGITS and luhn.is_valid(digits):
            return True
    return False
