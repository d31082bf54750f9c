"""The read path's group commit: a waiter's group is appended at once, in order; fails closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection
from tests.audit.support import ORIGIN, AuditBackend

from servinfo.audit import AuditLog
from servinfo.audit.buffer import (
    AuditBuffer,
    AuditUnavailable,
    Held,
    Ticket,
    _seconds_until_due,
)
from servinfo.audit.sink import RecordedEvent
from servinfo.crypto import Keyring

#: Long enough that no group comes due by age while a test runs.
NEVER = 3600.0
#: How long a test waits for another thread before it fails.
PATIENCE = 10.0


class FakeLog:
    """Keeps the batches it is given; fails while ``broken`` is set; holds appends at ``gate``."""

    def __init__(self) -> None:
        self.batches: list[list[RecordedEvent]] = []
        self.broken = False
        self.appended = threading.Event()
        self.entered = threading.Event()  # an append has started
        self.gate = threading.Event()
        self.gate.set()

    def record_many(
        self, events: Iterable[RecordedEvent], *, also: Callable[[Connection], None] | None = None
    ) -> range:
        self.entered.set()
        if not self.gate.wait(PATIENCE):
            raise TimeoutError("the test never opened the gate")
        if self.broken:
            raise OSError("disk full")
        batch = list(events)
        start = sum(len(b) for b in self.batches)
        self.batches.append(batch)
        self.appended.set()
        return range(start, start + len(batch))

    @property
    def actors(self) -> list[str]:
        return [event.actor for batch in self.batches for event in batch]


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def buffer(log: FakeLog) -> Iterator[AuditBuffer]:
    buffer = AuditBuffer(log, max_delay=NEVER, max_batch=10)
    yield buffer
    log.broken = False
    log.gate.set()
    buffer.close()


def _record(buffer: AuditBuffer, actor: str) -> Ticket:
    return buffer.record("read", actor=actor, subject_id="subj-1", purpose="provide")


def _in_thread(target: object) -> threading.Thread:
    assert callable(target)
    thread = threading.Thread(target=target)
    thread.start()
    return thread


# -- when a group is due --------------------------------------------------------------


def test_nothing_waiting_waits_for_an_entry() -> None:
    for wanted, urgent in ((False, False), (True, True)):
        due = _seconds_until_due(0, 0.0, 5.0, max_delay=0.1, wanted=wanted, urgent=urgent)
        assert due is None


def test_a_group_no_one_waits_on_is_due_when_its_oldest_entry_has_waited_max_delay() -> None:
    def due(now: float) -> float | None:
        return _seconds_until_due(3, 10.0, now, max_delay=0.25, wanted=False, urgent=False)

    assert due(10.0) == pytest.approx(0.25)
    assert due(10.2) == pytest.approx(0.05)
    assert due(10.25) == 0.0
    assert due(11.0) == 0.0


def test_a_waiter_a_flush_or_a_close_makes_a_group_due_at_once() -> None:
    assert _seconds_until_due(1, 10.0, 10.0, max_delay=5, wanted=True, urgent=False) == 0.0
    assert _seconds_until_due(1, 10.0, 10.0, max_delay=5, wanted=False, urgent=True) == 0.0


def test_settings_that_cannot_work_are_refused(log: FakeLog) -> None:
    with pytest.raises(ValueError, match="max_delay=0"):
        AuditBuffer(log, max_delay=0)
    with pytest.raises(ValueError, match="max_batch=0"):
        AuditBuffer(log, max_batch=0)
    with pytest.raises(ValueError, match="wait_timeout=0"):
        AuditBuffer(log, wait_timeout=0)


# -- waiting for the commit -----------------------------------------------------------


def test_wait_returns_once_the_group_is_committed(buffer: AuditBuffer, log: FakeLog) -> None:
    ticket = _record(buffer, "reader")
    ticket.wait()  # no flush, no age: waiting alone makes the group due
    assert log.actors == ["reader"]
    ticket.wait()  # a committed group answers at once, again


def test_a_reader_sees_its_entries_in_the_log_when_wait_returns(
    buffer: AuditBuffer, log: FakeLog
) -> None:
    log.gate.clear()
    seen: list[list[str]] = []

    def read() -> None:
        _record(buffer, "reader").wait()
        seen.append(log.actors)

    thread = _in_thread(read)
    assert log.entered.wait(PATIENCE)
    assert seen == []  # the append is under way: the reader still waits
    log.gate.set()
    thread.join(PATIENCE)
    assert seen == [["reader"]]


def test_readers_arriving_during_an_append_share_the_next_commit(log: FakeLog) -> None:
    buffer = AuditBuffer(log, max_delay=NEVER)
    try:
        log.gate.clear()
        first = _record(buffer, "first")
        waiting = [_in_thread(first.wait)]
        assert log.entered.wait(PATIENCE)  # the first reader's group is being appended
        # Nine readers (two entries each: a decision and a read) arrive meanwhile.
        tickets = [_record(buffer, f"r{i}") for i in range(18)]
        waiting += [_in_thread(ticket.wait) for ticket in tickets[1::2]]
        log.gate.set()
        for thread in waiting:
            thread.join(PATIENCE)
        assert [len(batch) for batch in log.batches] == [1, 18]
        assert buffer.appends == 2  # ten reads, two commits
    finally:
        log.gate.set()
        buffer.close()


def test_entries_no_one_waits_on_go_when_their_deadline_passes(log: FakeLog) -> None:
    clock = [100.0]
    buffer = AuditBuffer(log, max_delay=0.01, max_batch=10, clock=lambda: clock[0])
    try:
        for i in range(3):
            _record(buffer, f"a{i}")
        # Real time passes, the buffer's clock does not: the entries are not due.
        assert not log.appended.wait(0.1)
        clock[0] += 0.02
        assert log.appended.wait(PATIENCE)
        assert [len(batch) for batch in log.batches] == [3]
        assert log.actors == ["a0", "a1", "a2"]
    finally:
        buffer.close()


def test_a_full_group_is_appended_without_waiting(buffer: AuditBuffer, log: FakeLog) -> None:
    tickets = [_record(buffer, f"a{i}") for i in range(11)]
    assert tickets[0] is tickets[9]
    assert tickets[10] is not tickets[0]
    assert log.appended.wait(PATIENCE)
    assert [len(batch) for batch in log.batches] == [10]  # the eleventh waits for a reader


def test_flush_appends_everything_in_order(buffer: AuditBuffer, log: FakeLog) -> None:
    for i in range(25):
        _record(buffer, f"a{i}")
    buffer.flush()
    assert log.actors == [f"a{i}" for i in range(25)]
    assert [len(batch) for batch in log.batches] == [10, 10, 5]


def test_flush_waits_for_the_append_under_way(buffer: AuditBuffer, log: FakeLog) -> None:
    log.gate.clear()
    reader = _in_thread(_record(buffer, "in flight").wait)
    assert log.entered.wait(PATIENCE)
    flushed: list[list[str]] = []

    def flush() -> None:
        buffer.flush()
        flushed.append(log.actors)

    flusher = _in_thread(flush)
    log.gate.set()
    flusher.join(PATIENCE)
    reader.join(PATIENCE)
    assert flushed == [["in flight"]]


def test_close_appends_what_is_pending(log: FakeLog) -> None:
    buffer = AuditBuffer(log, max_delay=NEVER)
    _record(buffer, "last")
    buffer.close()
    assert log.actors == ["last"]
    with pytest.raises(AuditUnavailable, match="closed"):
        _record(buffer, "too late")


def test_events_are_copied_when_recorded(buffer: AuditBuffer, log: FakeLog) -> None:
    reasons = ["purpose 'provide' may use category 'telemetry'"]
    details: dict[str, str | int | bool | None] = {"count": 1}
    ticket = buffer.record("read", actor="a", reasons=reasons, details=details)
    reasons.append("changed")
    details["count"] = 2
    ticket.wait()
    (event,) = log.batches[0]
    assert event.reasons == ("purpose 'provide' may use category 'telemetry'",)
    assert event.details == {"count": 1}


# -- failing closed -------------------------------------------------------------------


def test_a_failed_append_refuses_every_reader_of_its_group(
    buffer: AuditBuffer, log: FakeLog
) -> None:
    log.broken = True
    first, second = _record(buffer, "first"), _record(buffer, "second")
    assert first is second
    for ticket in (first, second):
        with pytest.raises(AuditUnavailable, match="could not be appended"):
            ticket.wait()
    assert log.batches == []
    log.broken = False  # the next group is appended; the refused one is not retried
    _record(buffer, "after").wait()
    assert log.actors == ["after"]


def test_a_reader_waits_at_most_wait_timeout(log: FakeLog) -> None:
    log.gate.clear()
    buffer = AuditBuffer(log, max_delay=NEVER, wait_timeout=0.01)
    try:
        with pytest.raises(AuditUnavailable, match=r"not committed within 0\.01 s"):
            _record(buffer, "stuck").wait()
    finally:
        log.gate.set()
        buffer.close()


# -- awaited on an event loop ---------------------------------------------------------


def test_awaiting_holds_no_thread_and_returns_once_committed(log: FakeLog) -> None:
    """Reads awaited on one event loop share a commit, with no thread of their own."""
    log.gate.clear()
    buffer = AuditBuffer(log, max_delay=NEVER)

    async def readers() -> list[str]:
        tickets = [_record(buffer, f"reader-{n}") for n in range(5)]
        answers = [Held([ticket], f"data-{n}") for n, ticket in enumerate(tickets)]
        waiting = [asyncio.ensure_future(answer.settled()) for answer in answers]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)  # the commit is held at the gate
        log.gate.set()
        return list(await asyncio.gather(*waiting))

    try:
        assert asyncio.run(readers()) == [f"data-{n}" for n in range(5)]
        assert len(log.batches) == 1
    finally:
        log.gate.set()
        buffer.close()


def test_an_awaited_answer_is_refused_when_its_append_fails(
    buffer: AuditBuffer, log: FakeLog
) -> None:
    log.broken = True
    answer = Held([_record(buffer, "reader")], "data")
    with pytest.raises(AuditUnavailable, match="could not be appended"):
        asyncio.run(answer.settled())


def test_a_held_denial_is_raised_only_after_its_commit(buffer: AuditBuffer, log: FakeLog) -> None:
    denied = Held[str]([_record(buffer, "reader")], error=PermissionError("denied"))
    with pytest.raises(PermissionError):
        denied.wait()
    assert log.actors == ["reader"]


# -- against the real log -------------------------------------------------------------


def test_buffered_entries_land_in_the_log_and_verify(
    audit_backend: AuditBackend, keyring: Keyring, signer_state_file: Path
) -> None:
    log = AuditLog(
        audit_backend.engine,
        keyring,
        signer_state_file=signer_state_file,
        origin=ORIGIN,
    )
    buffer = AuditBuffer(log, max_delay=NEVER, max_batch=50)
    try:
        tickets = [
            buffer.record("read", actor=f"p{i % 7}", subject_id=f"subj-{i % 13}", purpose="provide")
            for i in range(120)
        ]
        tickets[-1].wait()
        # Groups commit in order: the last one committed means every one did.
        assert log.size() == 120
    finally:
        buffer.close()
    assert log.verify().entries == 120
    assert [entry.actor for entry in log.entries(0, 120)] == [f"p{i % 7}" for i in range(120)]
