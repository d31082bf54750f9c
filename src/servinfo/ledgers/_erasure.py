"""What an erasure does to the ledgers: the subject's own entries go, the register stays.

The one exception to "a ledger row is never deleted" (:mod:`servinfo.ledgers.models`):
once a subject is erased, its objections, restrictions and consents have nothing
left to govern and only tie its id to the times and purposes of its choices, so
they are deleted. The disclosure register must still answer how much went to
each recipient, so its rows stay, naming :data:`~servinfo.store.erasure.ERASED_SUBJECT`
instead of the subject (and, for a disclosure on consent, no longer the consent's
entry id, which is deleted with the consent). Legal holds stay as they are: a
hold in force keeps the subject from being unlinked at all, and a released one
is the record of a legal claim. The subject's ledger version stays too: caches
compare it, and a counter that went back to zero could match a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, update

from servinfo.ledgers import _queries
from servinfo.ledgers._base import LedgerService
from servinfo.ledgers.errors import InvalidLedgerInput
from servinfo.ledgers.models import ConsentRow, DisclosureRow, ObjectionRow, RestrictionRow
from servinfo.store.engines import write_transaction
from servinfo.store.erasure import ERASED_SUBJECT


@dataclass(frozen=True)
class LedgersUnlinked:
    """How many rows of an erased subject :meth:`ErasureLedger.unlink_subject` changed."""

    objections: int
    restrictions: int
    consents: int
    disclosures: int

    def to_dict(self) -> dict[str, int]:
        return {
            "objections": self.objections,
            "restrictions": self.restrictions,
            "consents": self.consents,
            "disclosures": self.disclosures,
        }


class ErasureLedger(LedgerService):
    def unlink_subject(self, subject_id: str) -> LedgersUnlinked:
        """Delete the erased subject's own entries; keep its disclosures without its id.

        Only for a subject already erased (its recipients already told, Art. 19:
        telling them reads the register by subject). Running it again changes nothing.
        """
        if not self._subject(subject_id).erased:
            raise InvalidLedgerInput(f"subject {subject_id!r} is not erased; erase it first")
        with write_transaction(self._engine) as connection:
            _queries.bump(connection, subject_id)  # first, as every change: caches drop it
            objections, restrictions, consents = (
                connection.execute(delete(table).where(table.subject_id == subject_id)).rowcount
                for table in (ObjectionRow, RestrictionRow, ConsentRow)
            )
            mine = DisclosureRow.subject_id == subject_id
            connection.execute(
                update(DisclosureRow)
                .where(mine, DisclosureRow.basis == "consent")
                .values(reference=ERASED_SUBJECT)
            )
            disclosures = connection.execute(
                update(DisclosureRow).where(mine).values(subject_id=ERASED_SUBJECT)
            ).rowcount
        self.local_changes += 1
        return LedgersUnlinked(objections, restrictions, consents, disclosures)
