"""Requests the ledgers fulfil: restriction, objection, withdrawal of consent, opt-out.

* Restriction (Art. 18): the ledger's restriction, allowing only what Art.
  18(2) permits (legal claims, others' rights; consented purposes stay allowed
  by the ledger itself). Lifting it needs the subject told first (Art. 18(3)):
  :meth:`LedgerRequests.announce_restriction_lift` sends the notice, and
  :meth:`LedgerRequests.lift_restriction` lifts only once it was delivered.
* Objection (Art. 21): an objection to the purpose asked, or to every
  objectable purpose (the pre-credit check among them); access decisions block
  them from then on. A purpose the policy does not make objectable is refused
  with the policy's stated ground (compelling legitimate grounds).
* Withdrawal (Art. 7(3)): the consents named, or every consent in force — the
  same ledger call that gave them, so withdrawing is as easy as giving.
* Opt-out of sale or sharing (CCPA s. 1798.120): recorded in
  ``rights_opt_outs`` (:meth:`LedgerRequests.opted_out` is what sharing asks),
  and every consent in force to disclose to a third party is withdrawn.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import insert, select
from ulid import ULID

from servinfo.ledgers import AlreadyInForce, NotInForce
from servinfo.rights.entries import Request
from servinfo.rights.erasure import Erasure
from servinfo.rights.errors import LiftNotAnnounced
from servinfo.rights.fulfil import Outcome
from servinfo.rights.models import OptOutRow, OutboxRow
from servinfo.rights.parameters import RESTRICTION_GROUNDS
from servinfo.store.engines import write_transaction

__all__ = ["LedgerRequests"]


class LedgerRequests(Erasure):
    # -- restriction --------------------------------------------------------------------

    def _fulfil_restriction(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        ground = request.parameters["ground"]
        allows = request.parameters["allows"]
        try:
            entry = self._ledgers.restrict(
                request.subject_id, RESTRICTION_GROUNDS[ground], actor, allows=allows, now=at
            )
        except AlreadyInForce:
            return "completed", {"restricted": True, "note": "already restricted"}, None
        outcome: dict[str, Any] = {
            "restricted": True, "ground": ground, "allows": allows, "entry": entry.entry_id,
        }  # fmt: skip
        # Art. 19: every recipient of the subject's data is told of the restriction.
        outcome["recipients_notified"] = self._notify_recipients(
            request, "restriction_notice", None, {"restricted": True}, at
        )
        return "completed", outcome, None

    def announce_restriction_lift(
        self, subject_id: str, reason: str, *, actor: str, now: dt.datetime | None = None
    ) -> str:
        """Tell the subject their restriction will be lifted, and why (Art. 18(3))."""
        at = self._utc(now)
        current = self._ledgers.restriction(subject_id)
        if current is None:
            raise NotInForce(f"subject {subject_id!r} has no restriction in force")
        payload = {"restriction": current.entry_id, "reason": reason.strip()}
        notice = self._notify("restriction_lift_notice", subject_id, payload, None, at)
        self._audit.record(
            "request_change",
            actor=actor,
            subject_id=subject_id,
            details={"change": "restriction_lift_announced"},
            linked={"notice": notice},
        )
        return notice

    def lift_restriction(
        self, subject_id: str, *, actor: str, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Lift the subject's restriction once a lift notice for it was delivered."""
        current = self._ledgers.restriction(subject_id)
        if current is None:
            raise NotInForce(f"subject {subject_id!r} has no restriction in force")
        with self._engine.connect() as connection:
            notices = connection.execute(
                select(OutboxRow.id, OutboxRow.payload).where(
                    OutboxRow.recipient == subject_id,
                    OutboxRow.kind == "restriction_lift_notice",
                )
            ).all()
        told = [
            n.id
            for n in notices
            if json.loads(n.payload).get("restriction") == current.entry_id
            and self._notifier.delivered(n.id)
        ]
        if not told:
            raise LiftNotAnnounced(
                f"subject {subject_id!r} has not been told that restriction "
                f"{current.entry_id} will be lifted (Art. 18(3)): announce it, and lift "
                "once the notice was delivered"
            )
        lifted = self._ledgers.lift_restriction(
            subject_id, actor, subject_informed=True, now=self._utc(now)
        )
        return {"restriction": lifted.entry_id, "lifted_at": lifted.lifted_at, "notice": told[0]}

    # -- objection ----------------------------------------------------------------------

    def _fulfil_objection(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        policy = self._policy()
        asked = request.parameters.get("purpose")
        if asked is not None and not policy.purposes[asked].objectable:
            ground = policy.purposes[asked].grounds.get(request.regime)
            reason = f"The purpose {policy.purposes[asked].name!r} is not open to objection"
            if ground is not None:
                reason += f": {ground.detail}"
            return "refused", {"reason": reason}, None
        targets = [asked] if asked else [p for p, d in policy.purposes.items() if d.objectable]
        placed, already = [], []
        for purpose in targets:
            try:
                self._ledgers.object(request.subject_id, purpose, actor, now=at)
                placed.append(purpose)
            except AlreadyInForce:
                already.append(purpose)
        return "completed", {"objected": placed, "already_in_force": already}, None

    # -- consent ------------------------------------------------------------------------

    def _fulfil_withdraw_consent(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        purpose = request.parameters.get("purpose")
        recipient = request.parameters.get("recipient")
        in_force = self._ledgers.consents(request.subject_id)
        chosen = [
            c
            for c in in_force
            if (purpose is None and recipient is None)
            or (purpose is not None and c.purpose == purpose)
            or (recipient is not None and c.recipient == recipient)
        ]
        for consent in chosen:
            self._ledgers.withdraw_consent(
                request.subject_id,
                purpose=consent.purpose,
                recipient=consent.recipient,
                actor=actor,
                now=at,
            )
        outcome: dict[str, Any] = {"withdrawn": [c.scope for c in chosen]}
        if not chosen:
            outcome["note"] = "no consent matching the request was in force"
        return "completed", outcome, None

    # -- opt-out ------------------------------------------------------------------------

    def _fulfil_opt_out(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        processors = self._policy().processors
        with write_transaction(self._engine) as connection:
            existing = connection.scalar(
                select(OptOutRow.id).where(
                    OptOutRow.subject_id == request.subject_id, OptOutRow.revoked_at.is_(None)
                )
            )
            if existing is None:
                connection.execute(
                    insert(OptOutRow).values(
                        id=str(ULID()),
                        subject_id=request.subject_id,
                        request_id=request.request_id,
                        at=at,
                        actor=actor,
                    )
                )
        third_parties = [
            c
            for c in self._ledgers.consents(request.subject_id)
            if c.recipient is not None and c.recipient not in processors
        ]
        for consent in third_parties:
            self._ledgers.withdraw_consent(
                request.subject_id, recipient=consent.recipient, actor=actor, now=at
            )
        outcome = {
            "opted_out": True,
            "consents_withdrawn": [c.scope for c in third_parties],
            "note": "recorded: your Service Information is not sold or shared with third "
            "parties from now on",
        }
        return "completed", outcome, None

    def opted_out(self, subject_id: str) -> bool:
        """Whether the subject opted out of sale or sharing: sharing must ask this."""
        with self._engine.connect() as connection:
            found = connection.scalar(
                select(OptOutRow.id).where(
                    OptOutRow.subject_id == subject_id, OptOutRow.revoked_at.is_(None)
                )
            )
        return found is not None
