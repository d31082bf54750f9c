"""Group commit for the audit entries of reads: many entries, one transaction.

Every read appends two entries (its decision and the read). Committing each
read's entries on its own costs a durable commit per read; a busy worker
instead hands entries to :class:`AuditBuffer`, whose flusher thread appends
them in batches, one transaction each.

When a batch is taken is the trade, and it is explicit: the flusher starts
appending once the oldest waiting entry has waited ``max_delay`` seconds (or
``max_batch`` entries wait, or :meth:`AuditBuffer.flush` or
:meth:`AuditBuffer.close` asks). So an entry becomes durable within
``max_delay`` plus the time of one append after the read, a crash may lose at
most that window, and an entry's ``at`` and its place in the log are those of
its batch's append, up to that long after the read.

Waiting for the oldest entry to age, rather than appending whatever is there
as soon as the previous append ends, is what makes batches big: an append has
fixed costs (a transaction, the sequencing row, the latest head, a commit that
syncs) that a batch of a few dozen entries pays per entry, and every batch
takes the interpreter lock from the threads serving reads. At the default of
0.1 s, a worker reading 5,000 records a second appends about 1,000 entries per
batch, ten times a second; a smaller ``max_delay`` narrows the window at the
cost of smaller batches and more CPU per read.

It fails closed: when appends fail (they are retried every ``retry_every``
seconds) and the backlog passes ``max_backlog``, ``record`` raises
:class:`AuditUnavailable`, so reads stop rather than go unaudited. Changes
(principals, ledgers, keys, policy) do not use the buffer: they are appended
durably before the call returns.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from servinfo.audit.entries import DetailValue as Detail
from servinfo.audit.errors import AuditError
from servinfo.audit.sink import RecordedEvent

__all__ = ["DEFAULT_MAX_DELAY", "AuditBuffer", "AuditUnavailable", "BatchAppender"]

logger = logging.getLogger("servinfo.audit")

#: Seconds an entry may wait before its batch is appended (see the module docstring).
DEFAULT_MAX_DELAY = 0.1


class AuditUnavailable(AuditError):
    code = "audit_unavailable"
    http_status = 503


class BatchAppender(Protocol):
    """What the buffer appends to: :meth:`servinfo.audit.AuditLog.record_many`."""

    def record_many(self, events: Iterable[RecordedEvent]) -> range: ...


def _seconds_until_due(
    waiting: int,
    oldest: float,
    now: float,
    *,
    max_delay: float,
    max_batch: int,
    urgent: bool,
) -> float | None:
    """How long the flusher may still wait: 0 to append now, None to wait for an entry.

    ``oldest`` is when the oldest of the ``waiting`` entries was queued; ``urgent``
    is a flush or close in progress.
    """
    if urgent and waiting:
        return 0.0
    if not waiting:
        return None
    if waiting >= max_batch:
        return 0.0
    return max(0.0, oldest + max_delay - now)


class AuditBuffer:
    def __init__(
        self,
        log: BatchAppender,
        *,
        max_delay: float = DEFAULT_MAX_DELAY,
        max_batch: int = 5_000,
        max_backlog: int = 100_000,
        retry_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_delay <= 0 or max_batch < 1 or max_backlog < max_batch:
            raise ValueError(
                f"got max_delay={max_delay}, max_batch={max_batch}, max_backlog={max_backlog};"
                " expected max_delay > 0 and 1 <= max_batch <= max_backlog"
            )
        self._log = log
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._max_backlog = max_backlog
        self._retry_every = retry_every
        self._clock = clock
        self._pending: list[RecordedEvent] = []
        #: When the oldest pending entry was queued (meaningless while none is pending).
        self._oldest = 0.0
        self._lock = threading.Condition()
        self._in_flight = 0
        self._in_flight_oldest = 0.0
        self._flushes = 0  # callers of flush() waiting: the flusher appends at once
        self._failing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def max_delay(self) -> float:
        """Seconds an entry waits at most before the append of its batch starts."""
        return self._max_delay

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
            pending = self._pending
            # The batch being retried counts too: it is as unappended as the rest.
            if self._failing and len(pending) + self._in_flight >= self._max_backlog:
                raise AuditUnavailable(
                    "audit entries cannot be appended; reads are refused until they can"
                )
            if not pending:
                # No notify: the flusher wakes at least every max_delay and then
                # waits for this entry's deadline; one wake-up per batch, not per entry.
                self._oldest = self._clock()
            pending.append(event)
            if len(pending) == self._max_batch:
                self._lock.notify_all()  # a flush() may wait on it too: wake the flusher for sure
            return len(pending)

    def flush(self) -> None:
        """Block until every entry queued so far is appended (or appending failed)."""
        with self._lock:
            self._flushes += 1
            try:
                self._lock.notify_all()
                while (self._pending or self._in_flight) and not self._failing:
                    self._lock.wait(self._max_delay)
            finally:
                self._flushes -= 1

    def close(self) -> None:
        """Append what is pending and stop the flusher (at most 10 s)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout=10)
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            with self._lock:
                batch = self._next_batch()
                done = self._closed and not batch and not self._pending
            if done:
                return
            self._append(batch)
            if self._closed and self._failing:
                logger.error("audit buffer closed with %d entries unappended", len(batch))
                return

    def _next_batch(self) -> list[RecordedEvent]:
        """Wait (holding the condition) until a batch is due; take it."""
        while True:
            wait = _seconds_until_due(
                len(self._pending),
                self._oldest,
                self._clock(),
                max_delay=self._max_delay,
                max_batch=self._max_batch,
                urgent=self._closed or self._flushes > 0,
            )
            if wait == 0.0 or (self._closed and not self._pending):
                break
            self._lock.wait(self._max_delay if wait is None else wait)
        batch = self._pending[: self._max_batch]
        # The rest keeps the taken batch's deadline: it is no younger than that.
        self._pending = self._pending[self._max_batch :]
        self._in_flight = len(batch)
        self._in_flight_oldest = self._oldest
        return batch

    def _append(self, batch: list[RecordedEvent]) -> None:
        try:
            self._log.record_many(batch)
        except Exception:  # keep the entries, retry after a pause, refuse if it persists
            logger.exception("appending %d audit entries failed; will retry", len(batch))
            with self._lock:
                self._pending[:0] = batch
                self._oldest = self._in_flight_oldest  # the returned batch is the oldest
                self._in_flight = 0
                self._failing = True
                closed = self._closed
                self._lock.notify_all()
            if closed:
                return
            threading.Event().wait(self._retry_every)
            return
        with self._lock:
            self._in_flight = 0
            self._failing = False
            self._lock.notify_all()
