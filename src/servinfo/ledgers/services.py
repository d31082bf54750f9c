"""The ledgers that rights and sharing build on, and the subject state decisions read.

:class:`Ledgers` records objections (GDPR Art. 21), restrictions of processing
(Art. 18), consents given and withdrawn (Art. 7(3): withdrawing is as easy as
giving — the same call with the same arguments), legal holds and disclosures.
Every change:

1. is checked before anything is written (unknown subject, undeclared or
   non-objectable purpose, nothing in force …) and refused with a
   :class:`~servinfo.ledgers.errors.LedgerError` that names what was expected;
2. runs in one transaction whose first statement bumps the subject's ledger
   version, so a cached access decision about the subject can no longer match;
3. keeps history: rows are only ever closed (withdrawn, lifted, released),
   never changed otherwise or deleted — until the subject is erased
   (:mod:`servinfo.ledgers._erasure`);
4. is audited as ``ledger_change`` (disclosures as ``disclosure``) once committed.

:meth:`Ledgers.subject_state` assembles exactly the
:class:`~servinfo.access.decisions.SubjectState` that access decisions take.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from ulid import ULID

from servinfo.access.decisions import SubjectState
from servinfo.ledgers import _checks, _queries
from servinfo.ledgers._consents import ConsentLedger
from servinfo.ledgers._disclosures import DisclosureLedger
from servinfo.ledgers._erasure import ErasureLedger
from servinfo.ledgers._holds import HoldLedger
from servinfo.ledgers.entries import Objection, Restriction
from servinfo.ledgers.errors import (
    AlreadyInForce,
    NotInForce,
    NotObjectable,
    RestrictionLiftRefused,
)
from servinfo.ledgers.models import GLOBAL_KEY, ObjectionRow, RestrictionRow
from servinfo.policy.model import Policy
from servinfo.store.directory import Subject
from servinfo.store.engines import write_transaction
from servinfo.store.errors import UnknownSubject

__all__ = ["Ledgers"]


class Ledgers(ConsentLedger, HoldLedger, DisclosureLedger, ErasureLedger):
    """``Ledgers(engine, directory, audit, policy_provider, open_request_check=None)``.

    ``engine`` is the control database's (migrated with ``LEDGER_MIGRATIONS``);
    ``policy_provider`` returns the policy in force at each call;
    ``open_request_check(subject_id)`` tells whether the subject has an open,
    verified data-subject request (the rights package provides it; without it, never).
    """

    # -- objections ----------------------------------------------------------------------

    def object(
        self, subject_id: str, purpose: str, actor: str, now: datetime | None = None
    ) -> Objection:
        """Record the subject's objection to an objectable purpose."""
        self._check_objectable(self._policy(), purpose)
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        self._subject(subject_id)
        entry = Objection(str(ULID()), subject_id, purpose, at, actor)
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, subject_id)
            if self._objection_in_force(connection, subject_id, purpose) is not None:
                raise AlreadyInForce(
                    f"subject {subject_id!r} already objects to purpose {purpose!r}"
                )
            connection.execute(
                insert(ObjectionRow).values(
                    id=entry.entry_id,
                    subject_id=subject_id,
                    purpose=purpose,
                    objected_at=at,
                    actor=actor,
                )
            )
        self._changed(
            "objection",
            "placed",
            actor=actor,
            subject_id=subject_id,
            purpose=purpose,
            version=version,
        )
        return entry

    def withdraw_objection(
        self, subject_id: str, purpose: str, actor: str, now: datetime | None = None
    ) -> Objection:
        """End the subject's objection to ``purpose``; the entry stays, closed."""
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        self._subject(subject_id)
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, subject_id)
            found = self._objection_in_force(connection, subject_id, purpose)
            if found is None:
                raise NotInForce(
                    f"subject {subject_id!r} has no objection to purpose {purpose!r} in force"
                )
            connection.execute(
                update(ObjectionRow)
                .where(ObjectionRow.id == found.entry_id)
                .values(withdrawn_at=at, withdrawn_by=actor)
            )
        self._changed(
            "objection",
            "withdrawn",
            actor=actor,
            subject_id=subject_id,
            purpose=purpose,
            version=version,
        )
        return Objection(
            found.entry_id, subject_id, purpose, found.objected_at, found.actor, at, actor
        )

    def objections(self, subject_id: str, *, include_withdrawn: bool = False) -> list[Objection]:
        """The subject's objections in force (or all, oldest first)."""
        self._subject(subject_id)
        with self._read() as connection:
            return _queries.objections(
                connection, [subject_id], in_force_only=not include_withdrawn
            )

    # -- restrictions ----------------------------------------------------------------------

    def restrict(
        self,
        subject_id: str,
        reason: str,
        actor: str,
        allows: Iterable[str] = ("legal",),
        now: datetime | None = None,
    ) -> Restriction:
        """Restrict processing of the subject's data (Art. 18(1)).

        ``allows`` are the purposes Art. 18(2) still permits (legal claims,
        protecting another's rights, important public interest); purposes the
        subject consents to are allowed too, through the consent ledger.
        """
        policy = self._policy()
        if isinstance(allows, str):
            allows = (allows,)
        allowed = tuple(
            sorted({_checks.declared(p, "allowed purpose", policy.purposes) for p in allows})
        )
        reason = _checks.text(reason, "restriction reason", 500)
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        self._subject(subject_id)
        entry = Restriction(str(ULID()), subject_id, reason, allowed, at, actor)
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, subject_id)
            found = _queries.restrictions(connection, [subject_id], in_force_only=True)
            if found:
                raise AlreadyInForce(
                    f"subject {subject_id!r} is already restricted since "
                    f"{found[0].restricted_at.isoformat()}; lift it before restricting anew"
                )
            connection.execute(
                insert(RestrictionRow).values(
                    id=entry.entry_id,
                    subject_id=subject_id,
                    reason=reason,
                    allows=json.dumps(list(allowed)),
                    restricted_at=at,
                    actor=actor,
                )
            )
        self._changed(
            "restriction",
            "placed",
            actor=actor,
            subject_id=subject_id,
            allows=",".join(allowed),
            version=version,
        )
        return entry

    def lift_restriction(
        self,
        subject_id: str,
        actor: str,
        *,
        subject_informed: bool,
        now: datetime | None = None,
    ) -> Restriction:
        """Lift the subject's restriction; Art. 18(3) requires them to be told first."""
        if subject_informed is not True:
            raise RestrictionLiftRefused(subject_id)
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        self._subject(subject_id)
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, subject_id)
            found = _queries.restrictions(connection, [subject_id], in_force_only=True)
            if not found:
                raise NotInForce(f"subject {subject_id!r} has no restriction in force")
            current = found[0]
            connection.execute(
                update(RestrictionRow)
                .where(RestrictionRow.id == current.entry_id)
                .values(lifted_at=at, lifted_by=actor)
            )
        self._changed("restriction", "lifted", actor=actor, subject_id=subject_id, version=version)
        return Restriction(
            current.entry_id,
            subject_id,
            current.reason,
            current.allows,
            current.restricted_at,
            current.actor,
            at,
            actor,
        )

    def restriction(self, subject_id: str) -> Restriction | None:
        """The subject's restriction in force, if any."""
        found = self.restrictions(subject_id, include_lifted=False)
        return found[0] if found else None

    def restrictions(self, subject_id: str, *, include_lifted: bool = True) -> list[Restriction]:
        """The subject's restrictions, oldest first (lifted ones too, by default)."""
        self._subject(subject_id)
        with self._read() as connection:
            return _queries.restrictions(connection, [subject_id], in_force_only=not include_lifted)

    # -- the state access decisions read ----------------------------------------------------

    def subject_state(self, subject_id: str) -> SubjectState:
        """The :class:`SubjectState` access decisions read for the subject."""
        return self.subject_states([subject_id])[subject_id]

    def subject_states(self, subject_ids: Iterable[str]) -> dict[str, SubjectState]:
        """:meth:`subject_state` for many subjects, in a few queries; unknown ids raise.

        The ledger rows come from one statement per 500 subjects
        (:func:`~servinfo.ledgers._queries.state_rows`): a cache miss of a read costs
        that, the directory's lookup and the open-request check.
        """
        ids = list(dict.fromkeys(subject_ids))
        subjects = self._directory.subjects(ids)
        for subject_id in ids:
            if subject_id not in subjects:
                raise UnknownSubject(subject_id)
        policy = self._policy()
        found = _queries.state_rows(self._engine, ids)
        return {
            subject_id: _state(
                policy,
                subjects[subject_id],
                found[subject_id],
                open_request=(
                    self._open_request_check(subject_id)
                    if self._open_request_check is not None
                    else False
                ),
            )
            for subject_id in ids
        }

    def global_version(self) -> int:
        """A counter of every ledger change: a cache shared by processes compares it."""
        with self._read() as connection:
            return _queries.versions(connection, [GLOBAL_KEY]).get(GLOBAL_KEY, 0)

    # -- checks ------------------------------------------------------------------------------

    @staticmethod
    def _check_objectable(policy: Policy, purpose: str) -> None:
        declared = policy.purposes.get(purpose)
        if declared is None or not declared.objectable:
            raise NotObjectable(
                purpose,
                declared=declared is not None,
                objectable=[pid for pid, p in policy.purposes.items() if p.objectable],
            )

    @staticmethod
    def _objection_in_force(
        connection: Connection, subject_id: str, purpose: str
    ) -> Objection | None:
        row = connection.execute(
            select(ObjectionRow.__table__).where(
                ObjectionRow.subject_id == subject_id,
                ObjectionRow.purpose == purpose,
                ObjectionRow.withdrawn_at.is_(None),
            )
        ).first()
        return None if row is None else _queries.objection(row)


def _state(
    policy: Policy, subject: Subject, rows: _queries.StateRows, *, open_request: bool
) -> SubjectState:
    # A consent to disclosure names its recipient (and purpose): it grants the recipient,
    # never the purpose's processing in general.
    consented = frozenset(
        str(recipient) if recipient is not None else str(purpose)
        for purpose, recipient in rows.consents
    )
    allows: set[str] = set()
    for restriction_allows in rows.restrictions:
        allows.update(restriction_allows)
    if rows.restrictions:
        # Art. 18(2): processing the subject consents to stays allowed.
        allows.update(
            purpose for purpose, recipient in rows.consents if purpose and recipient is None
        )
    return SubjectState(
        subject_id=subject.subject_id,
        # Country codes are case-insensitive; the policy lists them in upper case.
        regime=policy.regime_for(subject.jurisdiction.upper()),
        objections=frozenset(rows.objections),
        restricted=bool(rows.restrictions),
        restriction_allows=frozenset(allows),
        consents=consented,
        open_verified_request=open_request,
        version=rows.version,
    )
