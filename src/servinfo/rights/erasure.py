"""Erasure (GDPR Art. 17, CCPA right to delete): shred, purge, tell the recipients.

Steps of an erasure request:

(1) Decide what stays. Retention classes the policy marks ``erased_on_request:
    false`` stay until their retention ends — records a legal obligation keeps
    (financial record-keeping, Art. 17(3)(b)). A legal hold in force on the
    subject, its organization or its partner keeps *every* class (Art.
    17(3)(e)): held data is not erased, and the audit salt is kept with it.
(2) Write the erasure to the deployment's shred ledger, kept apart from the
    data (:mod:`servinfo.retention.ledger`), so that a restore of a backup taken
    before it replays it. Then crypto-shred the rest
    (:meth:`RecordWriter.erase_subject`: the subject
    marked erased, its data keys overwritten, records and blind-index entries
    deleted in its home region — the only region its records are written to —
    and committed durably). When it returns the erasure is *effective*.
    Nothing before it depends on the subject's records or on the store's size.
(3) Finish (:meth:`RecordWriter.finish_erasure`): the same in every other
    region that holds a key of the subject, the shred-ledger entries completed
    so a restore stays erased, and the storage purged (the WAL checkpointed
    and truncated) so no old page image keeps a destroyed key.
(4) Count what stayed, by kind, through the access layer (the rights
    principal, purpose ``legal``): after the shred the subject's readable
    records are exactly the kept ones, so the answer can list them and say why.
(5) Log the shred: one audit entry (action ``erasure``, outcome ``shredded``
    or ``partially_shredded``, the counts and the kept kinds, the request id as
    a linked identifier); its sequence number is the outcome's ``erasure_entry``.
    The outcome's ``receipt`` proves it (:mod:`servinfo.rights.receipts`): the
    entry, its tlog-proof against a checkpoint the witnesses cosigned, the kept
    records; made now, while the salt its request reference is keyed with exists.
(6) Delete the subject's exports; tell every processor and third party the
    subject's data was disclosed to (the disclosure register) to erase it too
    (Art. 19), through the notifier; then unlink the ledgers (the subject's
    objections, restrictions and consents deleted, its disclosures kept without
    its id: :mod:`servinfo.ledgers._erasure`).
(7) After the completion is logged: delete the subject's own principals (and
    so their tokens; each removal audited, its name a reference), make the
    subject's request case files name no one
    (:mod:`servinfo.rights.unlinking`), forget the subject's audit salt (earlier
    entries keep their pseudonym, so the log still verifies, but nothing links
    it to the subject any more), drop in-memory caches, and checkpoint the
    control database so neither the salt nor an export lingers in its WAL.
    The request is completed only then. A process that stops in (7) leaves the
    erasure's case file naming the subject: :meth:`Erasure.resume_unlinking`
    (the daily ``request_purge`` job) finishes it.

Under a legal hold nothing is unlinked: the hold keeps the data, the salt and
the evidence around them as they are, and the outcome says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from servinfo.audit.errors import AuditError
from servinfo.retention.schedule import period_for
from servinfo.rights._core import RIGHTS_PRINCIPAL
from servinfo.rights.entries import Request
from servinfo.rights.exports import EXPORT_TABLES
from servinfo.rights.fulfil import Fulfilment, Outcome
from servinfo.rights.receipts import erasure_receipt
from servinfo.rights.unlinking import erasures_left_linked, finish_unlinking, unlink_requests
from servinfo.rights.withholding import Withholdings
from servinfo.store import ErasureReport, checkpoint

__all__ = ["Erasure"]

_logger = logging.getLogger("servinfo.rights.erasure")

#: Control tables that held the subject's secrets or links to it: vacuumed on
#: PostgreSQL after erasure.
_CONTROL_TABLES = (
    "subject_salts",
    "audit_subject_entries",
    *EXPORT_TABLES,
    "principals",
    "rights_requests",
    "rights_verification_codes",
    "rights_outbox",
    "rights_opt_outs",
    "rights_withholdings",
    "consents",
    "objections",
    "restrictions",
    "disclosures",
)


class Erasure(Fulfilment):
    def _fulfil_erasure(self, request: Request, actor: str, at: dt.datetime) -> Outcome:
        policy = self._policy()
        subject_id = request.subject_id
        # (1)
        holds = self._ledgers.holds_for(subject_id)
        by_law = {c for c, rc in policy.retention_classes.items() if not rc.erased_on_request}
        keep = set(policy.retention_classes) if holds else by_law
        # (2) Written to the shred ledger first: a restore of an older backup replays it.
        ledgered = (
            self._before_shred(subject_id, sorted(keep), bool(holds), at)
            if self._before_shred is not None
            else None
        )
        report = self._writer.erase_subject(subject_id, sorted(keep), now=at, finish=False)
        # (3)
        report = self._writer.finish_erasure(subject_id, report)
        # (4)
        kinds = policy.kinds()
        counts = Counter(
            r.kind
            for r in self._read_all(request)
            if r.kind in kinds and kinds[r.kind].retention.retention_class in keep
        )
        kept: list[dict[str, Any]] = []
        for kind_id, count in sorted(counts.items()):
            rule = kinds[kind_id].retention
            legal_obligation = rule.retention_class in by_law
            kept.append(
                {
                    "kind": kind_id,
                    "name": kinds[kind_id].name,
                    "records": count,
                    "retention_class": rule.retention_class,
                    "kept_for": period_for(rule, request.regime),
                    "why": (
                        rule.reason or policy.retention_classes[rule.retention_class].description
                    )
                    if legal_obligation
                    else "A legal hold keeps it for the establishment, exercise or defence "
                    "of legal claims (Art. 17(3)(e)).",
                }
            )
        # (5)
        shred_entry = self._log_shred(request, actor, report, kept, ledgered)
        receipt = self._receipt(request, shred_entry, kept, at)
        # (6)
        exports_deleted = self.exports.delete_for_subject(subject_id)
        notified = self._notify_recipients(request, "erasure_notice", None, {}, at)
        unlinked = {} if holds else self._ledgers.unlink_subject(subject_id).to_dict()
        outcome: dict[str, Any] = {
            "erasure_entry": shred_entry,
            "records_deleted": report.records_deleted,
            "keys_destroyed": report.keys_destroyed,
            "storage_purged": all(r.storage_purged for r in report.regions),
            "kept": kept,
            "holds": [h.hold_id for h in holds],
            "exports_deleted": exports_deleted,
            "recipients_notified": notified,
            "audit_pseudonym_forgotten": not holds,
            "ledgers_unlinked": unlinked,
            **receipt,
        }
        state = "partially_completed" if kept or holds else "completed"

        def after() -> None:  # (7)
            self._flush_audit()
            if not holds:
                self._unlink(request.request_id, subject_id)
            for forget in self._forget_caches:
                forget()
            checkpoint(self._engine, tables=_CONTROL_TABLES)

        return state, outcome, after

    def _unlink(self, request_id: str, subject_id: str) -> None:
        """Step (7) without a hold, in an order that a rerun finishes: the case files
        first (while the principals' names are known), then the principals, the salt,
        and last the erasure's own case file, whose subject id marks it unfinished."""
        names = self._principals.bound_to(subject_id)
        unlink_requests(self._engine, subject_id, names, last=request_id)
        Withholdings(self._engine, self._audit).delete_for_subject(subject_id)
        for removed in self._principals.remove_bound_to(subject_id):
            # Audited like any principal change, while the salt that keys the name exists.
            self._audit.record(
                "principal_change",
                actor=RIGHTS_PRINCIPAL,
                subject_id=subject_id,
                outcome="removed",
                details={"reason": "erasure"},
                linked={"principal": removed},
            )
        self._audit.forget_subject(subject_id)
        finish_unlinking(self._engine, request_id)

    def resume_unlinking(self) -> int:
        """Finish step (7) of the erasures whose process stopped after their completion
        was logged, and unlink those answered before servinfo unlinked (the daily
        ``request_purge`` job asks); how many."""
        left = erasures_left_linked(self._engine)
        if not left:
            return 0
        self._flush_audit()
        for request_id, subject_id in left:
            # Done in (6) already, unless the erasure was answered by a servinfo
            # before this step existed; a second run changes nothing.
            self._ledgers.unlink_subject(subject_id)
            self._unlink(request_id, subject_id)
        for forget in self._forget_caches:
            forget()
        checkpoint(self._engine, tables=_CONTROL_TABLES)
        return len(left)

    def _receipt(
        self, request: Request, entry_index: int, kept: list[dict[str, Any]], at: dt.datetime
    ) -> dict[str, Any]:
        """``{"receipt": …}`` for the outcome, built while the salt the request's reference
        is keyed with still exists. The erasure is effective already: a receipt that cannot
        be made now (no checkpoint signed in time for a worker host, a log that does not verify)
        is reported in the outcome as ``receipt_error``, never a failed erasure."""
        if self._history is None:
            return {"receipt_error": "this deployment gives no access histories or receipts"}
        self._flush_audit()  # the shred entry is durable before it is proved
        try:
            receipt = erasure_receipt(
                self._history,
                subject_id=request.subject_id,
                request_id=request.request_id,
                entry_index=entry_index,
                kept=kept,
                issued_at=at,
            )
        except AuditError as error:
            _logger.warning("an erasure receipt was not made: %s", error.code)
            return {"receipt_error": f"{error.code}: the receipt could not be made"}
        return {"receipt": receipt}

    def _log_shred(
        self,
        request: Request,
        actor: str,
        report: ErasureReport,
        kept: list[dict[str, Any]],
        ledgered: str | None = None,
    ) -> int:
        """The shred entry of step (5); its sequence number."""
        return self._audit.record(
            "erasure",
            actor=actor,
            subject_id=request.subject_id,
            outcome="partially_shredded" if kept else "shredded",
            details={
                "records_deleted": report.records_deleted,
                "keys_destroyed": report.keys_destroyed,
                "kept_kinds": ",".join(sorted(k["kind"] for k in kept)),
                # The shred-ledger row (its mirror in the log): <seq>:<hash>.
                **({"shred_ledger": ledgered} if ledgered else {}),
            },
            linked={"request_id": request.request_id},
        )
