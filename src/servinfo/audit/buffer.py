"""Group commit for the audit entries of reads: many entries, one transaction.

Every read appends two entries (its decision and the read). Committing each
read's entries on its own costs a durable commit per read; a busy worker
instead hands entries to :class:`AuditBuffer`, whose flusher thread appends
whatever has accumulated, at least every ``max_delay`` seconds, in one
transaction. The trade is explicit: an entry becomes durable within
``max_delay`` of the read, and a crash may lose at most that window.

It fails closed: when appends fail and the backlog passes ``max_backlog``,
``record`` raises :class:`AuditUnavailable`, so reads stop rather than go
unaudited. Changes (principals, ledgers, keys, policy) do not use the buffer:
they are appended durably before the call returns.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping, Sequence

from servinfo.audit.entries import DetailValue as Detail
from servinfo.audit.errors import AuditError
from servinfo.audit.log import AuditLog
from servinfo.audit.sink import RecordedEvent

logger = logging.getLogger("servinfo.audit")


class AuditUnavailable(AuditError):
    code = "audit_unavailable"
    http_status = 503


class AuditBuffer:
    def __init__(
        self,
        log: AuditLog,
        *,
        max_delay: float = 0.02,
        max_batch: int = 5_000,
        max_backlog: int = 100_000,
    ) -> None:
        self._log = log
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._pending: list[RecordedEvent] = []
        self._lock = threading.Condition()
        self._in_flight = 0
        self._failing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def record(
        self,
        action: str,
        *,
        actor: str,
        subject_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        reasons: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        details: Mapping[str, Detail] | None = None,
    ) -> int:
        """Queue one entry; returns how many entries wait to be appended."""
        event = RecordedEvent.of(
            action, actor=actor, subject_id=subject_id, purpose=purpose, outcome=outcome,
            reasons=reasons, record_ids=record_ids, details=details,
        )  # fmt: skip
        with self._lock:
            if self._closed:
                raise AuditUnavailable("the audit buffer is closed")
            if self._failing and len(self._pending) >= self._max_backlog:
                raise AuditUnavailable(
                    "audit entries cannot be appended; reads are refused until they can"
                )
            self._pending.append(event)
            if len(self._pending) >= self._max_batch:
                self._lock.notify()
            return len(self._pending)

    def flush(self) -> None:
        """Block until every entry queued so far is appended (or appending failed)."""
        with self._lock:
            self._lock.notify()
            while (self._pending or self._in_flight) and not self._failing:
                self._lock.wait(self._max_delay)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=10)
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending and not self._closed:
                    self._lock.wait(self._max_delay)
                batch, self._pending = (
                    self._pending[: self._max_batch],
                    self._pending[self._max_batch :],
                )
                self._in_flight = len(batch)
                done = self._closed and not batch and not self._pending
            if done:
                return
            if batch:
                self._append(batch)
                if self._closed and self._failing:
                    logger.error("audit buffer closed with %d entries unappended", len(batch))
                    return

    def _append(self, batch: list[RecordedEvent]) -> None:
        try:
            self._log.record_many(batch)
        except Exception:  # keep the entries, retry on the next tick, refuse if it persists
            logger.exception("appending %d audit entries failed; will retry", len(batch))
            with self._lock:
                self._pending[:0] = batch
                self._in_flight = 0
                self._failing = True
                closed = self._closed
                self._lock.notify_all()
            if closed:
                return
            threading.Event().wait(self._max_delay * 10)
            return
        with self._lock:
            self._in_flight = 0
            self._failing = False
            self._lock.notify_all()
