"""Account closure: the start of every retention period that counts from it.

The identity service reports that an account closed (a ``subject`` object with
``closed_at`` through ingest), or an operator does (``servinfo subjects close``);
reopening is reported the same way (``closed_at: null``, ``servinfo subjects
reopen``). Steps:

(1) The subject directory records the state and marks it *pending*
    (:meth:`SubjectDirectory.set_closed`), in the control database.
(2) :func:`settle` recomputes ``retain_until`` of the subject's records of
    every kind whose retention ``starts: account_closed``, in its home region:
    closure date + the kind's period under the subject's regime, or the
    provisional end again on reopening (:mod:`servinfo.retention.schedule`).
(3) The directory's pending mark is cleared — only if the state is still the
    one applied, so a closure reported meanwhile is settled by the next pass.

A crash between (1) and (3) leaves the mark; every sweep settles the pending
closures of its region first, so (2) runs again (it is idempotent). Until it
runs, the records keep their previous end: an open account's records are never
deleted early, and a closed one's are deleted a sweep late at worst.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from servinfo.access.errors import Forbidden
from servinfo.audit import AuditSink
from servinfo.policy import Policy
from servinfo.retention.schedule import retention_end
from servinfo.store import Principal, Subject, SubjectDirectory
from servinfo.store.expiry import set_retention_end

__all__ = ["CLOSURE_PERMISSIONS", "AccountClosure", "ClosureOutcome", "settle", "settle_pending"]

#: Either lets a principal report a closure: the identity service registers
#: subjects; the privacy team manages what keeps or ends their data.
CLOSURE_PERMISSIONS = ("register_subjects", "manage_ledgers")


@dataclass(frozen=True)
class ClosureOutcome:
    subject_id: str
    #: ``closed``, ``reopened`` or ``unchanged``.
    status: str
    closed_at: dt.datetime | None
    #: Records whose end of retention was recomputed.
    records: int

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject_id,
            "status": self.status,
            "closed_at": None if self.closed_at is None else self.closed_at.isoformat(),
            "records": self.records,
        }


def closure_ends(policy: Policy, subject: Subject) -> dict[str, dt.date]:
    """The end of every kind that counts from closure, for the subject's current state."""
    regime = policy.regime_for(subject.jurisdiction.upper())
    return {
        kind_id: retention_end(kind.retention, regime, subject.created_at.date(), subject.closed_at)
        for kind_id, kind in policy.kinds().items()
        if kind.retention.starts == "account_closed"
    }


def settle(directory: SubjectDirectory, engine: Engine, policy: Policy, subject: Subject) -> int:
    """Steps (2) and (3) for one subject whose records live in ``engine``; records changed."""
    changed = set_retention_end(
        engine, subject.subject_id, closure_ends(policy, subject), clear_kept=True
    )
    directory.settle_closure(subject.subject_id, subject.closed_at)
    return changed


def settle_pending(
    directory: SubjectDirectory, region: str, engine: Engine, policy: Policy
) -> tuple[int, int]:
    """Settle every pending closure of ``region``: (subjects, records changed)."""
    subjects = records = 0
    while pending := directory.pending_closures([region]):
        settled_any = False
        for subject in pending:
            records += set_retention_end(
                engine, subject.subject_id, closure_ends(policy, subject), clear_kept=True
            )
            settled_any |= directory.settle_closure(subject.subject_id, subject.closed_at)
            subjects += 1
        if not settled_any:  # each one changed meanwhile: the next sweep settles them
            break
    return subjects, records


class AccountClosure:
    """Close and reopen accounts on an operator's or the identity service's word; audited."""

    def __init__(
        self,
        *,
        directory: SubjectDirectory,
        regions: Mapping[str, Engine],
        policy: Callable[[], Policy],
        audit: AuditSink,
    ) -> None:
        self._directory = directory
        self._regions = regions
        self._policy = policy
        self._audit = audit

    def close(
        self, principal: Principal, subject_id: str, closed_at: dt.datetime
    ) -> ClosureOutcome:
        """Record the account closed at ``closed_at`` and recompute its retention."""
        return self._set(principal, subject_id, closed_at)

    def reopen(self, principal: Principal, subject_id: str) -> ClosureOutcome:
        """Record the account open again: its records' ends become provisional again."""
        return self._set(principal, subject_id, None)

    def _set(
        self, principal: Principal, subject_id: str, closed_at: dt.datetime | None
    ) -> ClosureOutcome:
        policy = self._policy()
        role = policy.roles.get(principal.role)
        if role is None or not set(CLOSURE_PERMISSIONS) & set(role.permissions):
            raise Forbidden(
                f"role '{principal.role}' lacks the permission "
                f"'{CLOSURE_PERMISSIONS[0]}' or '{CLOSURE_PERMISSIONS[1]}'"
            )
        changed = self._directory.set_closed(subject_id, closed_at)  # UnknownSubject
        subject = self._directory.get_subject(subject_id)
        records = 0
        if subject.home_region in self._regions:
            records = settle(self._directory, self._regions[subject.home_region], policy, subject)
        status = "unchanged" if not changed else ("closed" if closed_at else "reopened")
        self._audit.record(
            "account_closure",
            actor=principal.name,
            subject_id=subject_id,
            outcome=status,
            details={"records": records},
        )
        return ClosureOutcome(subject_id, status, subject.closed_at, records)
