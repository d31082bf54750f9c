"""The ledgers' exceptions.

::

    ServinfoError
    └── LedgerError                 anything the ledgers refuse                        (400)
        ├── InvalidLedgerInput      malformed or undeclared input (empty reason …)     (422)
        │   ├── NotObjectable       the purpose is undeclared or not objectable         (422)
        │   └── InvalidHoldTarget   a hold names both or neither of subject and org     (422)
        ├── AlreadyInForce          the objection, restriction or consent already holds (409)
        ├── NotInForce              there is nothing in force to withdraw or lift       (409)
        ├── RestrictionLiftRefused  lifting before the subject was told (Art. 18(3))    (409)
        ├── DisclosureRefused       no valid ground for the disclosure                  (422)
        └── HoldNotFound            no legal hold with that id                          (404)

Unknown subjects and organizations raise the store's
:class:`~servinfo.store.UnknownSubject` and :class:`~servinfo.store.UnknownOrganization`.
Every refusal happens before anything is written. Messages name opaque ids
and policy ids, never free text a caller supplied (a reason may hold personal data).
"""

from __future__ import annotations

from collections.abc import Iterable

from servinfo.errors import ServinfoError

__all__ = [
    "AlreadyInForce",
    "DisclosureRefused",
    "HoldNotFound",
    "InvalidHoldTarget",
    "InvalidLedgerInput",
    "LedgerError",
    "NotInForce",
    "NotObjectable",
    "RestrictionLiftRefused",
]


def _listed(values: Iterable[str]) -> str:
    shown = sorted(values)
    return ", ".join(shown) if shown else "none"


class LedgerError(ServinfoError):
    """Base class of the ledgers' errors."""

    code = "ledger_error"
    http_status = 400


class InvalidLedgerInput(LedgerError):
    """Input the ledgers cannot record: wrong shape, or an id the policy does not declare."""

    code = "invalid_ledger_input"
    http_status = 422


class NotObjectable(InvalidLedgerInput):
    """An objection to a purpose that is undeclared or that the policy makes non-objectable."""

    code = "not_objectable"

    def __init__(self, purpose: str, *, declared: bool, objectable: Iterable[str]) -> None:
        found = "is not objectable" if declared else "is not declared in the policy"
        super().__init__(
            f"purpose {purpose!r} {found}; expected one of the objectable purposes: "
            f"{_listed(objectable)}"
        )
        self.purpose = purpose


class InvalidHoldTarget(InvalidLedgerInput):
    """A legal hold must name exactly one of a subject and an organization."""

    code = "invalid_hold_target"

    def __init__(self, subject_id: str | None, org_id: str | None) -> None:
        found = "both" if subject_id is not None and org_id is not None else "neither"
        super().__init__(
            f"a legal hold covers exactly one subject or one organization; got {found}"
        )


class AlreadyInForce(LedgerError):
    """The change asked for is already the state of the ledger."""

    code = "already_in_force"
    http_status = 409


class NotInForce(LedgerError):
    """A withdrawal, lift or release of something that is not in force."""

    code = "not_in_force"
    http_status = 409


class RestrictionLiftRefused(LedgerError):
    """GDPR Art. 18(3): the subject must be informed before a restriction is lifted."""

    code = "restriction_lift_refused"
    http_status = 409

    def __init__(self, subject_id: str) -> None:
        super().__init__(
            f"the restriction of subject {subject_id!r} was not lifted: GDPR Art. 18(3) "
            "requires informing the subject before lifting it; got subject_informed=False, "
            "expected True (inform the subject, then lift)"
        )
        self.subject_id = subject_id


class DisclosureRefused(LedgerError):
    """A disclosure whose ground (processor contract, consent, legal requirement) fails."""

    code = "disclosure_refused"
    http_status = 422


class HoldNotFound(LedgerError):
    """No legal hold has the id given."""

    code = "hold_not_found"
    http_status = 404

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no legal hold with id {hold_id!r}")
        self.hold_id = hold_id
