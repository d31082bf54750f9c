"""The ledgers that rights and sharing build on: objections, restrictions, consents,
legal holds and disclosures, in the control database.

Wiring (what the deployment does)::

    migrate_control(control, [LEDGER_MIGRATIONS])
    ledgers = Ledgers(control, directory, audit_sink, lambda: policy)
    ledgers.object("subj-1", "improve_use", actor="privacy-officer")
    state = ledgers.subject_state("subj-1")   # what access.decide takes

The command line (``servinfo objection|restriction|consent|hold|disclosure …``)
is in :mod:`servinfo.ledgers.cli`; errors are in :mod:`servinfo.ledgers.errors`.
"""

from servinfo.ledgers._consents import ConsentTerms
from servinfo.ledgers._erasure import LedgersUnlinked
from servinfo.ledgers._queries import bump as bump_version
from servinfo.ledgers.entries import (
    Basis,
    Consent,
    ConsentState,
    Disclosure,
    Hold,
    Objection,
    RecipientKind,
    Restriction,
)
from servinfo.ledgers.errors import (
    AlreadyInForce,
    DisclosureRefused,
    HoldNotFound,
    InvalidHoldTarget,
    InvalidLedgerInput,
    LedgerError,
    NotInForce,
    NotObjectable,
    RestrictionLiftRefused,
)
from servinfo.ledgers.migrations import LEDGER_MIGRATIONS
from servinfo.ledgers.services import Ledgers

__all__ = [
    "LEDGER_MIGRATIONS",
    "AlreadyInForce",
    "Basis",
    "Consent",
    "ConsentState",
    "ConsentTerms",
    "Disclosure",
    "DisclosureRefused",
    "Hold",
    "HoldNotFound",
    "InvalidHoldTarget",
    "InvalidLedgerInput",
    "LedgerError",
    "Ledgers",
    "LedgersUnlinked",
    "NotInForce",
    "NotObjectable",
    "Objection",
    "RecipientKind",
    "Restriction",
    "RestrictionLiftRefused",
    "bump_version",
]
