"""The plumbing every ledger operation shares: wiring, subject look-up, auditing.

Each change runs in one write transaction that bumps the version first (see
:mod:`servinfo.ledgers._queries`) and is audited *after* it commits: the audit
sink appends to the control database too, and on SQLite a second writer would
wait on the lock this transaction holds. The ledger row is itself the
evidence, so a crash between commit and audit loses a log entry, never the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from sqlalchemy import Connection, Engine

from servinfo.audit import AuditSink, DetailValue
from servinfo.policy.model import Policy
from servinfo.store.directory import Subject, SubjectDirectory

Ledger = Literal["objection", "restriction", "consent", "legal_hold"]


class LedgerService:
    """Holds the collaborators; the ledgers' public class extends it."""

    def __init__(
        self,
        engine: Engine,
        directory: SubjectDirectory,
        audit: AuditSink,
        policy_provider: Callable[[], Policy],
        *,
        open_request_check: Callable[[str], bool] | None = None,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._audit = audit
        # A provider, not a policy: a reloaded policy applies to the next call.
        self._policy = policy_provider
        self._open_request_check = open_request_check
        #: Changes this process made: a cache of subject states in this process
        #: compares it on every read, so its own changes apply at once.
        self.local_changes = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string()!r})"

    def _subject(self, subject_id: str) -> Subject:
        """The subject, or the store's ``UnknownSubject``: checked before any write."""
        return self._directory.get_subject(subject_id)

    def _read(self) -> Connection:
        """A connection whose reads all see one snapshot (REPEATABLE READ on PostgreSQL).

        SQLite's deferred transaction already reads one snapshot in WAL mode.
        """
        connection = self._engine.connect()
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        return connection

    def _changed(
        self,
        ledger: Ledger,
        change: str,
        *,
        actor: str,
        subject_id: str | None,
        purpose: str | None = None,
        linked: Mapping[str, str] | None = None,
        **details: DetailValue,
    ) -> None:
        """Audit a committed change. ``linked``: the entry's ids (a hold's, a consent's),
        keyed with the subject's salt; a change about no subject (an organization's hold)
        ties them to no person and names them in ``details``."""
        self.local_changes += 1
        if subject_id is None and linked:
            details = {**details, **linked}
            linked = None
        self._audit.record(
            "ledger_change",
            actor=actor,
            subject_id=subject_id,
            purpose=purpose,
            details={"ledger": ledger, "change": change, **details},
            linked=linked,
        )
