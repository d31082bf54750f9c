"""The reasons an access decision gives, in one place so their wording stays stable.

A decision lists *every* reason: on a denial each failed check, on an allowance
the grounds that allowed it. The API's 403 body, the audit entry and the CLI all
show these texts, so they are short, name only policy ids (never a subject, whose
identifier is personal data) and change only deliberately. ``code`` is the
machine-readable half: clients branch on it, people read ``text``.

Nothing here is public API; :mod:`servinfo.access.decisions` re-exports
:class:`Reason`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Reason"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One check of a decision: ``passed`` grounds allow, failed ones deny."""

    code: str
    text: str
    passed: bool

    def __str__(self) -> str:
        return self.text


def ok(code: str, text: str) -> Reason:
    return Reason(code, text, True)


def fail(code: str, text: str) -> Reason:
    return Reason(code, text, False)


# -- the principal --------------------------------------------------------------------

REVOKED = fail("revoked", "principal revoked")


def role_kind(role: str, kind: str, allowed: bool) -> Reason:
    if allowed:
        return ok("role_kind", f"kind '{kind}' may hold role '{role}'")
    return fail("role_kind", f"kind '{kind}' may not hold role '{role}'")


def unknown_role(role: str) -> Reason:
    return fail("role_unknown", f"role '{role}' is not declared in the policy")


# -- need to know -----------------------------------------------------------------------


def purpose_category(purpose: str, category: str, allowed: bool) -> Reason:
    if allowed:
        return ok("purpose_category", f"purpose '{purpose}' may use category '{category}'")
    return fail("purpose_category", f"purpose '{purpose}' may not use category '{category}'")


def role_purpose(role: str, purpose: str, allowed: bool) -> Reason:
    if allowed:
        return ok("role_purpose", f"role '{role}' serves '{purpose}'")
    return fail("role_purpose", f"role '{role}' does not serve '{purpose}'")


def role_category(role: str, category: str, allowed: bool) -> Reason:
    if allowed:
        return ok("role_category", f"role '{role}' sees category '{category}'")
    return fail("role_category", f"role '{role}' may not see category '{category}'")


def role_region(role: str, region: str, allowed: bool) -> Reason:
    if allowed:
        return ok("role_region", f"role '{role}' reaches region '{region}'")
    return fail("role_region", f"role '{role}' may not reach region '{region}'")


# -- transfers --------------------------------------------------------------------------


def same_entity(entity: str, region: str) -> Reason:
    return ok("transfer", f"no transfer: '{entity}' operates region '{region}'")


def same_area(importer: str, country: str, region: str) -> Reason:
    return ok(
        "transfer", f"no transfer: '{importer}' in {country} is within region '{region}''s law"
    )


def transfer(source: str, destination: str, mechanism: str, name: str) -> Reason:
    return ok("transfer", f"transfer {source}→{destination} under {mechanism} ({name})")


def no_rule(source: str, destination: str) -> Reason:
    return fail("transfer", f"no transfer rule {source}→{destination}")


def no_mechanism(source: str, destination: str, importer: str, skipped: list[str]) -> Reason:
    text = f"no valid transfer mechanism {source}→{destination} for importer '{importer}'"
    return fail("transfer", f"{text}: {'; '.join(skipped)}" if skipped else text)


def expired_mechanism(mechanism: str, expires: dt.date) -> str:
    return f"{mechanism} expired on {expires.isoformat()}"


def uncertified(mechanism: str) -> str:
    return f"{mechanism} covers only DPF-certified importers"


def placement(what: str, value: str | None) -> Reason:
    if value is None:
        return fail("placement", f"the principal has no {what}")
    return fail("placement", f"{what} '{value}' is not declared in the policy")


SERVICE_NO_TRANSFER = ok("transfer", "no transfer: a service runs inside the data's region")

# -- processors -------------------------------------------------------------------------


def processor_contract(
    processor: str, reference: str, signed: dt.date, expires: dt.date, state: str
) -> Reason:
    """The contract check; ``state`` is :meth:`Policy.contract_state` on the day."""
    if state == "terminated":
        return fail("processor_contract", f"contract {reference} of '{processor}' was terminated")
    if state == "pending":
        return fail("processor_contract", f"contract {reference} of '{processor}' starts {signed}")
    if state == "expired":
        return fail(
            "processor_contract", f"contract {reference} of '{processor}' expired on {expires}"
        )
    return ok("processor_contract", f"contract {reference} of '{processor}' runs until {expires}")


def processor_scope(processor: str, what: str, value: str, allowed: bool) -> Reason:
    if allowed:
        return ok("processor_scope", f"processor '{processor}' is engaged for {what} '{value}'")
    return fail("processor_scope", f"processor '{processor}' is not engaged for {what} '{value}'")


# -- the subject ------------------------------------------------------------------------

OWN_DATA = ok("subject_binding", "the subject reads their own data")
NOT_OWN_DATA = fail("subject_binding", "a subject may read only their own data")
#: The audit reasons of a lookup refused because the caller has no standing towards the
#: subject, or because the id exists nowhere: the log does not tell the two apart either.
NO_SUCH_SUBJECT = fail("subject_unknown", "no subject by that id that the principal may read")
NO_SUCH_RECORD = fail("record_unknown", "no record by that id that the principal may read")
#: An outside principal (processor, third party, authority) that read without a grant.
NO_GRANT = fail(
    "grant_required", "an outside recipient reads only with a grant of the sharing service"
)
REQUEST_OPEN = ok("rights_request", "the subject has an open, verified request")
NO_REQUEST = fail("rights_request", "the subject has no open, verified request")


def objected(purpose: str, objected_to: str, objectable: bool) -> Reason:
    if not objectable:
        return ok(
            "objection",
            f"objection to '{objected_to}' has no effect: '{purpose}' is not objectable",
        )
    if objected_to == purpose:
        return fail("objection", f"the subject objected to '{purpose}'")
    return fail("objection", f"the subject objected to '{objected_to}', which covers '{purpose}'")


def restriction(purpose: str, allowed: bool) -> Reason:
    if allowed:
        return ok("restriction", f"processing restricted, but '{purpose}' is still allowed")
    return fail("restriction", f"processing restricted: '{purpose}' is not allowed")


def consent(purpose: str, regime: str, given: bool) -> Reason:
    if given:
        return ok("consent", f"consent given for '{purpose}' ({regime})")
    return fail("consent", f"'{purpose}' rests on consent under {regime}, and none is given")
