"""Field types of the policy as pydantic annotations, strict about what JSON may carry.

Each policy type (``email``, ``phone``, ``ip_address`` …) maps to an annotated
type whose validator normalizes the value into what is stored (an E.164 phone
number, a compressed IP address, ISO 8601 text for dates). Values arrive from
JSON, so nothing is coerced across JSON types: ``"5"`` is not an integer and
``1`` is not a boolean. Error messages never repeat the refused value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, Field, Strict, ValidationInfo

from servinfo.access.identifiers import InvalidIdentifier, normalise_email, normalise_phone
from servinfo.access.views import normalize_ip
from servinfo.policy.model import FieldSpec

__all__ = ["COUNTRIES", "annotation_for"]

#: ISO 3166-1 alpha-2 codes: the regions phonenumbers knows, plus Kosovo's user-assigned XK.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"XK"}
_CURRENCY = re.compile(r"[A-Z]{3}")
_MONEY_TEXT = re.compile(r"\d{1,15}(?:\.\d{1,6})?")
#: Money is stored as a JSON number; 15 significant digits survive the float exactly.
_MONEY_DIGITS = 15
_MAX_LIST = 1000


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string" if isinstance(value, str) else type(value).__name__


def _email(value: Any) -> str:
    # The one normalisation of identifiers (servinfo.access.identifiers): what is stored
    # is what a lookup by the address finds.
    try:
        return normalise_email(_text(value))
    except InvalidIdentifier:
        raise ValueError("not an e-mail address") from None


def _phone(value: Any, info: ValidationInfo) -> str:
    text = _text(value).strip()
    region = None
    if not text.startswith("+"):
        context = info.context if isinstance(info.context, dict) else {}
        region = context.get("phone_region")
        if region is None:
            raise ValueError("not an E.164 number (+<country code><number>)")
    try:
        return normalise_phone(text, region)
    except InvalidIdentifier:
        raise ValueError("not a valid telephone number") from None


def _ip(value: Any) -> str:
    try:
        return normalize_ip(_text(value).strip())
    except ValueError:
        raise ValueError("not an IP address") from None


def _country(value: Any) -> str:
    text = _text(value)
    if text not in COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (upper case, e.g. DE)")
    return text


def _currency(value: Any) -> str:
    if not _CURRENCY.fullmatch(_text(value)):
        raise ValueError("not an ISO 4217 currency code (three upper-case letters, e.g. EUR)")
    return str(value)


def _money(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected an amount (number or decimal text), got {_json_type(value)}")
    if isinstance(value, str) and not _MONEY_TEXT.fullmatch(value):
        raise ValueError("not a decimal amount such as 12.50")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if amount < 0:
        raise ValueError("an amount is never negative (refunds are a status)")
    if len(amount.as_tuple().digits) > _MONEY_DIGITS:
        raise ValueError(f"more than {_MONEY_DIGITS} significant digits")
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _datetime(value: Any) -> str:
    try:
        parsed = dt.datetime.fromisoformat(_text(value))
    except ValueError:
        raise ValueError("not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError("a date-time needs a zone (Z or +hh:mm)")
    return parsed.isoformat()


def _date(value: Any) -> str:
    text = _text(value)
    try:
        if len(text) != len("YYYY-MM-DD"):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD)") from None


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_json_type(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


_Scalar = Annotated[str, Strict()] | Annotated[int, Strict()] | Annotated[float, Strict()] | bool


def annotation_for(spec: FieldSpec) -> Any:
    """The pydantic annotation that validates and normalizes one declared field."""
    kind = spec.type
    if kind in ("string", "text"):
        return Annotated[str, Strict(), Field(max_length=spec.max_length)]
    if kind == "integer":
        return Annotated[int, Strict()]
    if kind == "number":
        return Annotated[float | int, BeforeValidator(_number)]
    if kind == "boolean":
        return Annotated[bool, Strict()]
    if kind == "enum":
        return Literal[tuple(spec.values or ())]
    if kind == "list":
        return Annotated[list[_Scalar], Strict(), Field(max_length=spec.max_length or _MAX_LIST)]
    if kind == "object":
        return Annotated[dict[str, Any], Strict()]
    validators: dict[str, Any] = {
        "email": _email,
        "phone": _phone,
        "ip_address": _ip,
        "country": _country,
        "currency": _currency,
        "datetime": _datetime,
        "date": _date,
    }
    if kind == "money":
        return Annotated[float | int, BeforeValidator(_money)]
    normalize = BeforeValidator(validators[kind])
    if spec.max_length is None:  # no length check to call for every value
        return Annotated[str, normalize]
    return Annotated[str, normalize, AfterValidator(_limit(spec.max_length))]


def _limit(limit: int) -> Any:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return check
