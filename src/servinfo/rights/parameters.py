"""What each request type may carry, checked when the request is opened.

Bad parameters are the requester's mistake and are refused at once with
what was expected, so a request never fails half-way through processing:

* ``rectification``: ``fields`` (the corrections) and optionally ``kind`` (an
  account kind, default ``account.profile``); only declared fields the subject
  provided or we observed — a derived value (a score) is recomputed, not edited;
* ``objection``: optionally ``purpose``; without it, every objectable purpose;
* ``withdraw-consent``: optionally ``purpose`` or ``recipient``; without, every consent;
* ``restriction``: optionally ``ground`` (Art. 18(1)) and ``allows``, the
  purposes Art. 18(2) still permits: legal claims (``legal``) and protecting
  other people's rights (``protect``); consented purposes stay allowed anyway;
* the others take none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servinfo.policy.model import Policy
from servinfo.rights.errors import InvalidRequest

__all__ = ["ART_18_2_PURPOSES", "RESTRICTION_GROUNDS", "check_parameters"]

#: Purposes a restriction may still allow (Art. 18(2)): legal claims, others' rights.
ART_18_2_PURPOSES = ("legal", "protect")
#: The grounds of Art. 18(1)(a)–(d).
RESTRICTION_GROUNDS = {
    "accuracy_contested": "The subject contests the accuracy of the data (Art. 18(1)(a)).",
    "unlawful_processing": "The processing is unlawful and the subject opposes erasure "
    "(Art. 18(1)(b)).",
    "legal_claims": "The subject needs the data for legal claims (Art. 18(1)(c)).",
    "objection_pending": "The subject objected and the verification of grounds is pending "
    "(Art. 18(1)(d)).",
}
_ALLOWED_KEYS = {
    "access": set(),
    "portability": set(),
    "erasure": set(),
    "opt-out": set(),
    "rectification": {"fields", "kind"},
    "objection": {"purpose"},
    "withdraw-consent": {"purpose", "recipient"},
    "restriction": {"ground", "allows"},
}
_SCALARS = (str, int, float, bool)


def check_parameters(
    policy: Policy, request_type: str, parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``parameters`` checked for ``request_type``; a plain dict to store."""
    given = dict(parameters or {})
    allowed = _ALLOWED_KEYS.get(request_type, set())
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidRequest(
            f"a {request_type} request takes parameters {sorted(allowed) or 'none'}, got {unknown}"
        )
    check = _CHECKS.get(request_type)
    if check is not None:
        check(policy, given)
    return given


def _rectification(policy: Policy, given: dict[str, Any]) -> None:
    kind_id = given.setdefault("kind", "account.profile")
    kinds = policy.kinds()
    if not isinstance(kind_id, str) or policy.category_of(kind_id) != "account":
        raise InvalidRequest(f"rectification corrects account information; got kind {kind_id!r}")
    if kind_id not in kinds:
        declared = sorted(k for k in kinds if policy.category_of(k) == "account")
        raise InvalidRequest(f"kind {kind_id!r} is not declared; expected one of {declared}")
    fields = given.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise InvalidRequest("a rectification request needs 'fields': the corrected values")
    declared_fields = kinds[kind_id].fields
    for name, value in fields.items():
        spec = declared_fields.get(name)
        if spec is None:
            raise InvalidRequest(
                f"field {name!r} is not declared for {kind_id}; expected one of "
                f"{sorted(declared_fields)}"
            )
        if spec.provenance == "derived":
            raise InvalidRequest(
                f"field {name!r} of {kind_id} is derived by us, not provided: it is "
                "recomputed, not rectified"
            )
        if not isinstance(value, _SCALARS) or (isinstance(value, str) and not value.strip()):
            raise InvalidRequest(f"field {name!r}: expected a non-empty value")
        if spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length:
            raise InvalidRequest(
                f"field {name!r}: at most {spec.max_length} characters, got {len(value)}"
            )
        if spec.type == "email" and (not isinstance(value, str) or "@" not in value):
            raise InvalidRequest(f"field {name!r}: expected an e-mail address")


def _objection(policy: Policy, given: dict[str, Any]) -> None:
    purpose = given.get("purpose")
    if purpose is not None and purpose not in policy.purposes:
        raise InvalidRequest(
            f"purpose {purpose!r} is not declared; objectable purposes: "
            f"{sorted(p for p, d in policy.purposes.items() if d.objectable)}"
        )


def _withdrawal(policy: Policy, given: dict[str, Any]) -> None:
    if "purpose" in given and "recipient" in given:
        raise InvalidRequest("withdraw consent to one purpose or one recipient, not both")
    purpose = given.get("purpose")
    if purpose is not None and purpose not in policy.purposes:
        raise InvalidRequest(f"purpose {purpose!r} is not declared")
    recipient = given.get("recipient")
    if recipient is not None and (not isinstance(recipient, str) or not recipient.strip()):
        raise InvalidRequest("recipient: expected a recipient id")


def _restriction(policy: Policy, given: dict[str, Any]) -> None:
    ground = given.setdefault("ground", "accuracy_contested")
    if ground not in RESTRICTION_GROUNDS:
        raise InvalidRequest(
            f"restriction ground {ground!r} is unknown; expected one of "
            f"{sorted(RESTRICTION_GROUNDS)}"
        )
    allows = given.setdefault("allows", ["legal"])
    if isinstance(allows, str):
        allows = given["allows"] = [allows]
    if not isinstance(allows, list) or not all(a in ART_18_2_PURPOSES for a in allows):
        raise InvalidRequest(
            f"a restriction still allows only what Art. 18(2) permits: a subset of "
            f"{list(ART_18_2_PURPOSES)} (and purposes the subject consents to); got {allows!r}"
        )
    missing = [a for a in allows if a not in policy.purposes]
    if missing:
        raise InvalidRequest(f"the policy does not declare the purposes {missing}")


_CHECKS = {
    "rectification": _rectification,
    "objection": _objection,
    "withdraw-consent": _withdrawal,
    "restriction": _restriction,
}
