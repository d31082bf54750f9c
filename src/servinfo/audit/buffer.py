"""Group commit for the audit entries of reads: no read answered before its entries commit.

Every read appends entries (its decisions and the read). Committing each read's
entries on its own costs a durable commit per read; a busy worker instead hands
entries to :class:`AuditBuffer`, whose flusher thread appends them in groups,
one transaction each. :meth:`AuditBuffer.record` returns a :class:`Ticket` for
the group that holds the entry, and the read path calls :meth:`Ticket.wait`
before any of the read's data leaves the server.

The guarantee: **a read is answered only after its entries are committed.**
No answered read is ever only in the buffer, so a crash (a kill, a power cut)
loses only the entries of reads that were never answered; the log holds every
read whose data left the server.

When a group is appended is the trade. The flusher starts an append as soon
as someone waits on the oldest group and the previous append has ended;
entries arriving during an append form the next group. So a read waits about
one commit (at most two: the one under way, then its own), and throughput
comes from concurrency. That is why waiting need not hold a thread: the read
service returns the answer :class:`Held`, and the read routes await it on the
event loop (:meth:`Held.settled`) while the worker's threads read on, so the
reads that wait together commit together. Entries that no one waits on (a read
that failed between its decision and its end) go with the next group, or once
the oldest has waited ``max_delay``. An entry's ``at`` and its place in the log
are those of its group's append. What it costs: an append's fixed cost
(transaction, sequencing row, head check, a syncing commit) is paid per group
of concurrent reads instead of once per ``max_delay``: about 10 % of the read
path's throughput on two cores (docs/benchmarks.md, "Decisions", the read path).

It fails closed: when an append fails, its entries are dropped and every
reader waiting on that group gets :class:`AuditUnavailable` (HTTP 503
``audit_unavailable``) instead of its data; the next group is tried afresh.
A reader that waits longer than ``wait_timeout`` is refused the same way (its
entries may still be appended later), and so is one whose commit failed after
the database made it durable (a connection lost at COMMIT): the log may then
show a read that was refused, never the other way round. Changes (principals, ledgers, keys,
policy) do not use the buffer: they are appended durably before the call returns.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from servinfo.audit.entries import DetailValue as Detail
from servinfo.audit.errors import AuditError
from servinfo.audit.sink import RecordedEvent

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = [
    "DEFAULT_MAX_DELAY",
    "DEFAULT_WAIT_TIMEOUT",
    "AuditBuffer",
    "AuditUnavailable",
    "BatchAppender",
    "Held",
    "Ticket",
]

logger = logging.getLogger("servinfo.audit")
_T = TypeVar("_T")
_U = TypeVar("_U")

#: Seconds an entry no one waits on may wait before its group is appended.
DEFAULT_MAX_DELAY = 0.1
#: Seconds a read waits for its group's commit before it is refused.
DEFAULT_WAIT_TIMEOUT = 30.0


class AuditUnavailable(AuditError):
    code = "audit_unavailable"
    http_status = 503


class BatchAppender(Protocol):
    """What the buffer appends to: :meth:`servinfo.audit.AuditLog.record_many`."""

    def record_many(
        self,
        events: Iterable[RecordedEvent],
        *,
        also: Callable[[Connection], None] | None = None,
    ) -> range: ...


class Ticket:
    """The group an entry went into: :meth:`wait` (a thread) or :meth:`settled` (a coroutine)
    returns once the group is committed."""

    __slots__ = (
        "_buffer", "_callbacks", "_done", "_error", "also", "events", "opened", "waiters",
    )  # fmt: skip

    def __init__(self, buffer: AuditBuffer, opened: float) -> None:
        self._buffer = buffer
        self._done = threading.Event()
        self._error: str | None = None
        self._callbacks: list[Callable[[], None]] = []
        self.events: list[RecordedEvent] = []
        #: Rows of the control database committed with the group's entries (a disclosure).
        self.also: list[Callable[[Connection], None]] = []
        #: When the group's first entry was queued (the buffer's clock).
        self.opened = opened
        #: Threads waiting on the group: one is enough for the flusher to append it.
        self.waiters = 0

    def wait(self) -> None:
        """Block until the group is committed; :class:`AuditUnavailable` if it was not."""
        if not self._done.is_set():
            self._buffer._waiting(self)
            if not self._done.wait(self._buffer.wait_timeout):
                raise AuditUnavailable(
                    f"the audit entries of this read were not committed within "
                    f"{self._buffer.wait_timeout:g} s; the read is refused"
                )
        self._raise_if_failed()

    async def settled(self) -> None:
        """:meth:`wait` without holding a thread: an event loop's request awaits the commit
        while the worker's threads serve other reads."""
        if not self._done.is_set():
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()

            def resolve() -> None:
                if not future.done():
                    future.set_result(None)

            def notify() -> None:  # in the flusher's thread
                loop.call_soon_threadsafe(resolve)

            self._when_done(notify)
            self._buffer._waiting(self)
            try:
                await asyncio.wait_for(future, self._buffer.wait_timeout)
            except TimeoutError:
                raise AuditUnavailable(
                    f"the audit entries of this read were not committed within "
                    f"{self._buffer.wait_timeout:g} s; the read is refused"
                ) from None
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise AuditUnavailable(self._error)

    def _when_done(self, callback: Callable[[], None]) -> None:
        with self._buffer._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _settle(self, error: str | None) -> None:
        self._error = error
        with self._buffer._lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class Held(Generic[_T]):
    """An answer held until the groups of its audit entries are committed.

    The value (or the error to raise: a denial is an answer too) is released by
    :meth:`wait` in a thread or :meth:`settled` on an event loop; if a group's
    append failed, both raise :class:`AuditUnavailable` instead.
    """

    __slots__ = ("_error", "_tickets", "_value")

    def __init__(
        self, tickets: Sequence[Ticket], value: _T | None = None, error: Exception | None = None
    ) -> None:
        # Entries of one call are usually in one group (two when the flusher took a
        # group between them): each group is waited on once.
        self._tickets = list(dict.fromkeys(tickets))
        self._value = value
        self._error = error

    def wait(self) -> _T:
        for ticket in self._tickets:
            ticket.wait()
        return self._released()

    async def settled(self) -> _T:
        for ticket in self._tickets:
            await ticket.settled()
        return self._released()

    def then(self, step: Callable[[_T], tuple[Sequence[Ticket], _U]]) -> Held[_U]:
        """Run ``step`` on the held value before any commit is awaited: its entries join
        this answer's, and one wait covers both, so nothing is released before every
        entry is committed (the sharing service registers a disclosure this way). A held
        error stays the answer and ``step`` does not run."""
        if self._error is not None:
            return Held(self._tickets, error=self._error)
        assert self._value is not None
        tickets, value = step(self._value)
        return Held([*self._tickets, *tickets], value)

    def _released(self) -> _T:
        if self._error is not None:
            raise self._error
        assert self._value is not None  # a held answer has a value or an error
        return self._value


def _seconds_until_due(
    waiting: int,
    oldest: float,
    now: float,
    *,
    max_delay: float,
    wanted: bool,
    urgent: bool,
) -> float | None:
    """How long the flusher may still wait: 0 to append now, None to wait for an entry.

    ``waiting`` entries are in the oldest group, opened at ``oldest``; ``wanted``
    is someone waiting on it, or a full group after it; ``urgent`` a flush or
    close in progress.
    """
    if not waiting:
        return None
    if wanted or urgent:
        return 0.0
    return max(0.0, oldest + max_delay - now)


class AuditBuffer:
    def __init__(
        self,
        log: BatchAppender,
        *,
        max_delay: float = DEFAULT_MAX_DELAY,
        max_batch: int = 5_000,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_delay <= 0 or max_batch < 1 or wait_timeout <= 0:
            raise ValueError(
                f"got max_delay={max_delay}, max_batch={max_batch}, wait_timeout={wait_timeout};"
                " expected max_delay > 0, max_batch >= 1 and wait_timeout > 0"
            )
        self._log = log
        self._max_delay = max_delay
        self._max_batch = max_batch
        self.wait_timeout = wait_timeout
        self._clock = clock
        #: Groups not yet taken by the flusher, oldest first; the last one takes entries.
        self._groups: deque[Ticket] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the flusher waits on it alone
        self._flushes = 0  # callers of flush() waiting: the flusher appends at once
        self._appends = 0
        self._in_flight: Ticket | None = None  # the group being appended, for flush()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def max_delay(self) -> float:
        """Seconds an entry no one waits on waits at most before its group's append starts."""
        return self._max_delay

    @property
    def appends(self) -> int:
        """Groups committed so far (each one transaction)."""
        return self._appends

    @property
    def pending(self) -> int:
        """Entries queued and not yet taken by the flusher."""
        with self._lock:
            return sum(len(group.events) for group in self._groups)

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
        linked: Mapping[str, str] | None = None,
        subject_actor: bool = False,
        policy_version: str | None = None,
        also: Callable[[Connection], None] | None = None,
    ) -> Ticket:
        """Queue one entry; its :class:`Ticket` says when its group is committed.

        ``linked`` and ``subject_actor`` as :meth:`~servinfo.audit.sink.AuditSink.record`
        (refused at once without a subject, not when the group is appended). ``also``
        writes rows of the control database in the group's transaction: they commit with
        the entry or not at all (its failure fails the group, so keep it to inserts).
        """
        event = RecordedEvent.of(
            action, actor=actor, subject_id=subject_id, purpose=purpose, outcome=outcome,
            reasons=reasons, record_ids=record_ids, details=details, linked=linked,
            subject_actor=subject_actor, policy_version=policy_version,
        )  # fmt: skip
        with self._lock:
            if self._closed:
                raise AuditUnavailable("the audit buffer is closed")
            groups = self._groups
            if not groups or len(groups[-1].events) >= self._max_batch:
                groups.append(Ticket(self, self._clock()))
                # One wake-up per group: a first group has a deadline, a second one
                # makes the full one before it due.
                self._wake.notify()
            group = groups[-1]
            group.events.append(event)
            if also is not None:
                group.also.append(also)
            return group

    def flush(self) -> None:
        """Block until every entry queued so far is appended (or its append failed)."""
        with self._lock:
            groups = [self._in_flight, *self._groups]
            self._flushes += 1
            self._wake.notify()
        try:
            for group in groups:
                if group is not None:
                    group._done.wait()
        finally:
            with self._lock:
                self._flushes -= 1

    def close(self) -> None:
        """Append what is pending and stop the flusher (at most 10 s)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=10)
        atexit.unregister(self.close)

    def _waiting(self, group: Ticket) -> None:
        with self._lock:
            group.waiters += 1
            if group.waiters == 1:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                group = self._next_group()
            if group is None:
                return
            self._append(group)

    def _next_group(self) -> Ticket | None:
        """Wait (holding the lock) until the oldest group is due; take it. None: closed, empty."""
        groups = self._groups
        while True:
            if not groups:
                if self._closed:
                    return None
                self._wake.wait()
                continue
            oldest = groups[0]
            wait = _seconds_until_due(
                len(oldest.events),
                oldest.opened,
                self._clock(),
                max_delay=self._max_delay,
                wanted=oldest.waiters > 0 or len(groups) > 1,
                urgent=self._closed or self._flushes > 0,
            )
            if wait == 0.0:
                # Entries recorded from now on go into a new group: the next append.
                self._in_flight = groups.popleft()
                return self._in_flight
            self._wake.wait(wait)

    def _append(self, group: Ticket) -> None:
        try:
            rows = group.also

            def write_rows(connection: Connection) -> None:
                for row in rows:
                    row(connection)

            self._log.record_many(group.events, also=write_rows if rows else None)
        except Exception as error:  # fail closed: no reader of this group gets its data
            logger.exception("appending %d audit entries failed", len(group.events))
            outcome: str | None = (
                f"the audit entries of this read could not be appended"
                f" ({type(error).__name__}); the read is refused"
            )
        else:
            outcome = None
            self._appends += 1
        group.events = []  # appended or dropped: a ticket kept by a reader holds no entries
        group.also = []
        group._settle(outcome)
