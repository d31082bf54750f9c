"""Processing a verified request: the work each type asks for, then the answer.

:meth:`Fulfilment.process` (1) refuses to start a flagged request until an
operator decides to proceed (``proceed_flagged``) — a flagged request is never
refused automatically; (2) moves the request to ``in_progress``, which opens
the rights role's reads of the subject for the reading types; (3) does the
work of the type; (4) records the outcome — ``completed``,
``partially_completed`` when something had to be kept, or ``refused`` with the
reason and the supervisory authority — and tells the subject (by e-mail, to
the address on their account record read before the work, when a sender is
configured; else through the outbox); (5) runs what
must follow the record (an erasure forgets the audit salt only once its own
completion is logged). A failure in (3) puts the request back to
``verified`` so it can be processed again; every step of (3) is idempotent.

Records are read only through the access layer, by the internal ``rights``
principal, for the purpose ``legal`` (answering the request is a legal
obligation, GDPR Art. 6(1)(c)): every read is decided and audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from servinfo.access.compile import SELF_KINDS
from servinfo.access.errors import AccessError
from servinfo.access.identifiers import canonical_identifiers, identifier_fields
from servinfo.access.reads import ReadRecord
from servinfo.rights.contact import Address
from servinfo.rights.entries import Request
from servinfo.rights.errors import (
    DeliveryFailed,
    DeliveryUnavailable,
    FlaggedRequest,
    WrongState,
)
from servinfo.rights.export import access_archive, portability_archive
from servinfo.rights.history import AccessHistory, ActorInfo, build_history
from servinfo.rights.report import LedgerEntries
from servinfo.rights.requests import RequestLifecycle
from servinfo.rights.withholding import Withholding, Withholdings

__all__ = ["READ_PURPOSE", "Fulfilment", "Outcome"]

_log = logging.getLogger(__name__)
#: The purpose the rights principal reads for.
READ_PURPOSE = "legal"
#: What a type's handler returns: final state, outcome, and what must follow the record.
Outcome = tuple[str, dict[str, Any], Callable[[], None] | None]


class Fulfilment(RequestLifecycle):
    def process(
        self,
        request_id: str,
        *,
        actor: str,
        proceed_flagged: bool = False,
        now: dt.datetime | None = None,
    ) -> Request:
        """Do what the request asks; see the module docstring for the steps."""
        at = self._utc(now)
        # (1)
        request = self.ready_to_process(request_id, proceed_flagged=proceed_flagged)
        decision: dict[str, Any] = {}
        if request.flagged and request.operator_decision is None:
            decision = {"operator_decision": "proceed", "decided_by": actor}
        # (2)
        started = self._change(
            request, ("verified",), "start", actor=actor, state="in_progress", **decision
        )
        # (3) The address the answer goes to is read first: an erasure destroys it.
        handler: Callable[[Request, str, dt.datetime], Outcome] = getattr(
            self, "_fulfil_" + request.type.replace("-", "_")
        )
        try:
            address = self._answer_address(started)
            state, outcome, after = handler(started, actor, at)
        except BaseException:
            self._change(started, ("in_progress",), "retry", actor=actor, state="verified")
            raise
        if started.voluntary:
            outcome["voluntary"] = (
                f"Your regime ({started.regime}) does not grant this right; we honour it "
                f"voluntarily under {started.right}."
            )
        if state == "refused":
            outcome = {"refused": True, **outcome, **self._complaint(started.regime)}
        # (4)
        done = self._change(
            started,
            ("in_progress",),
            "complete" if state != "refused" else "refuse",
            actor=actor,
            state=state,
            completed_at=at,
            outcome=outcome,
        )
        self._tell_answer(done, address, at)
        # (5)
        if after is not None:
            after()
        return done

    def _answer_address(self, request: Request) -> Address | None:
        """Where servinfo e-mails the answer itself: the account record's address, when a
        sender is configured and the record has one (else the outbox's mailer tells them)."""
        if not self._messages.can_email:
            return None
        try:
            return self._address_on_record(request.subject_id, "email")
        except (DeliveryUnavailable, AccessError):
            return None

    def _tell_answer(self, done: Request, address: Address | None, at: dt.datetime) -> None:
        """The completion notice: e-mailed now when possible, else left to the mailer."""
        payload = {"request_id": done.request_id, "type": done.type, "state": done.state}
        if address is not None:
            try:
                self._messages.send_answer(address, done)
            except (DeliveryFailed, DeliveryUnavailable) as error:
                _log.warning("the answer to request %s was not e-mailed: %s", done.request_id,
                             error.message)  # fmt: skip
            else:
                self._record_sent("completion_notice", done, {**payload, "channel": "email"}, at)
                return
        self._notify("completion_notice", done.subject_id, payload, done, at)

    def ready_to_process(self, request_id: str, *, proceed_flagged: bool = False) -> Request:
        """The request, if :meth:`process` would start it now: verified, and not flagged
        unless an operator decided (``proceed_flagged``). Refused otherwise, with the
        error :meth:`process` gives — so that queuing it as a job is refused at once.
        """
        request = self.get(request_id)
        if request.state != "verified":
            raise WrongState(request_id, request.state, ("verified",), "process")
        # a flagged request waits for an operator's decision
        if request.flagged and request.operator_decision is None and not proceed_flagged:
            raise FlaggedRequest(
                f"request {request_id} is flagged ({request.flag_reason}); decide: process "
                "it with --proceed-flagged, or refuse it with a reason"
            )
        return request

    def reopen_interrupted(self, request_id: str, *, actor: str) -> Request:
        """Back to ``verified``: a request whose processing stopped in (3) with no one to
        put it back (its worker was killed). Every step of (3) is idempotent, so
        processing it again finishes it; only the job that was processing it calls this.
        An export the interrupted attempt stored was never the answer: it is deleted,
        so that the request ends with the one export of the attempt that answers it.
        """
        request = self.get(request_id)
        if request.state != "in_progress":
            raise WrongState(request_id, request.state, ("in_progress",), "reopen")
        self.exports.delete_for_request(request_id)
        return self._change(request, ("in_progress",), "retry", actor=actor, state="verified")

    # -- reading types ----------------------------------------------------------------

    def _read_all(self, request: Request, categories: list[str] | None = None) -> list[ReadRecord]:
        result = self._reads.read_subject(
            self.rights_principal(), READ_PURPOSE, request.subject_id, categories=categories
        )
        return result.records

    def _fulfil_access(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        records = self._read_all(request)
        withheld = self.withholdings.for_subject(request.subject_id, in_force_at=at)
        ledgers = LedgerEntries.of(self._ledgers, request.subject_id)
        # A legal request under a gag order is withheld from the register's list too.
        ledgers = replace(
            ledgers,
            disclosures=tuple(
                d for d in ledgers.disclosures if not any(w.covers(d) for w in withheld)
            ),
        )
        history = self._access_history(request, records, ledgers, withheld)
        blob = access_archive(
            policy=self._policy(),
            subject=self._directory.get_subject(request.subject_id),
            regime=request.regime,
            request_id=request.request_id,
            records=records,
            ledgers=ledgers,
            now=at,
            history=history,
        )
        info = self.exports.store(request.request_id, request.subject_id, "access", blob, at)
        outcome: dict[str, Any] = {"records": len(records), "export": info.to_dict()}
        if history is not None:
            outcome["history"] = {
                "entries": len(history.entries),
                "checkpoint": history.evidence.size,
                "witnessed": history.evidence.witnessed,
            }
        return "completed", outcome, None

    def _access_history(
        self,
        request: Request,
        records: list[ReadRecord],
        ledgers: LedgerEntries,
        withheld: Sequence[Withholding],
    ) -> AccessHistory | None:
        """The subject's access history, this request's own read included, less what the
        ``withheld`` (in force now) cover; None when the deployment keeps no history
        source (or the log holds nothing about them)."""
        if self._history is None:
            return None
        self._flush_audit()  # the read just made is in the history
        subject_id = request.subject_id
        principals = self._principals.list(include_revoked=True)
        own = [p for p in principals if p.binding == subject_id and p.kind in SELF_KINDS]
        known = {
            "record": [r.record_id for r in records],
            "request": [r.request_id for r in self.list_requests(subject_id=subject_id)],
            "principal": [p.name for p in own],
            "consent": [c.entry_id for c in ledgers.consents],
            "objection": [o.entry_id for o in ledgers.objections],
            "restriction": [r.entry_id for r in ledgers.restrictions],
            "disclosure": [d.disclosure_id for d in ledgers.disclosures],
            # A consent's id or a legal request's reference, as the register shows it.
            "disclosure_reference": [d.reference for d in ledgers.disclosures],
            "hold": [h.hold_id for h in ledgers.holds],
        }
        actors = {
            p.name: ActorInfo(p.role, p.entity, p.kind if p in own else None) for p in principals
        }
        return build_history(self._history, subject_id, known, withhold=withheld, actors=actors)

    @property
    def withholdings(self) -> Withholdings:
        """The grounds on which parts of subjects' access histories are withheld."""
        return Withholdings(self._engine, self._audit)

    def _fulfil_portability(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        records = self._read_all(request)
        blob = portability_archive(
            policy=self._policy(),
            subject=self._directory.get_subject(request.subject_id),
            regime=request.regime,
            request_id=request.request_id,
            records=records,
            now=at,
        )
        info = self.exports.store(request.request_id, request.subject_id, "portability", blob, at)
        return "completed", {"export": info.to_dict()}, None

    def _fulfil_rectification(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        """Correct every record of the kind; each is re-sealed under a fresh key (Art. 16)."""
        kind_id: str = request.parameters["kind"]
        corrections: dict[str, Any] = request.parameters["fields"]
        kind = self._policy().kinds()[kind_id]
        lookup_names = [name for name, spec in kind.fields.items() if spec.lookup]
        identifiers = identifier_fields(self._policy()).get(kind_id, ())
        region = self._directory.get_subject(request.subject_id).jurisdiction[:2].upper()
        category = self._policy().category_of(kind_id)
        targets = [r for r in self._read_all(request, [category]) if r.kind == kind_id]
        for record in targets:
            merged = {**record.fields, **corrections}
            lookup = {
                name: value
                for name in lookup_names
                if isinstance(value := merged.get(name), str) and value.strip()
            }
            self._writer.rectify(
                record.record_id,
                record.region,
                corrections,
                lookup_fields=lookup,
                # The identifiers follow the corrected values (the person is found by them).
                identifiers=canonical_identifiers(identifiers, merged, default_region=region),
                now=at,
            )
        notified = self._notify_recipients(
            request,
            "rectification_notice",
            category,
            {"kind": kind_id, "fields": sorted(corrections)},
            at,
        )
        outcome = {
            "rectified": [r.record_id for r in targets],
            "kind": kind_id,
            "fields": sorted(corrections),
            "recipients_notified": notified,
        }
        if not targets:
            outcome["note"] = f"we hold no {kind.name.lower()} record for you to correct"
        return "completed", outcome, None

    def _notify_recipients(
        self,
        request: Request,
        kind: Any,
        category: str | None,
        extra: dict[str, Any],
        at: dt.datetime,
    ) -> list[str]:
        """Tell every recipient the subject's data went to (Art. 19); their ids.

        Processors and third parties are told; an authority that received data
        under a legal requirement is not (it holds it under its own law).
        """
        recipients = sorted(
            {
                d.recipient
                # A disclosure withheld under a gag order is not told of (docs/sharing.md).
                for d in self._ledgers.disclosures(subject_id=request.subject_id, visible_at=at)
                if d.recipient_kind != "authority"
                and (category is None or category in d.categories)
            }
        )
        for recipient in recipients:
            payload = {"request_id": request.request_id, "subject": request.subject_id, **extra}
            self._notify(kind, recipient, payload, request, at)
        return recipients
