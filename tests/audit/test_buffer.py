"""The read path's group commit: batches by age, appends in order, fails closed."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

import pytest
from tests.audit.support import AuditBackend

from servinfo.audit import AuditLog
from servinfo.audit.buffer import AuditBuffer, AuditUnavailable, _seconds_until_due
from servinfo.audit.sink import RecordedEvent
from servinfo.crypto import Keyring

#: Long enough that no batch comes due by age while a test runs.
NEVER = 3600.0
#: How long a test waits for the flusher before it fails.
PATIENCE = 10.0


class FakeLog:
    """Keeps the batches it is given; fails while ``broken`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[RecordedEvent]] = []
        self.broken = False
        self.appended = threading.Event()

    def record_many(self, events: Iterable[RecordedEvent]) -> range:
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
    buffer = AuditBuffer(log, max_delay=NEVER, max_batch=10, max_backlog=20, retry_every=0.01)
    yield buffer
    log.broken = False
    buffer.close()


def _record(buffer: AuditBuffer, actor: str) -> int:
    return buffer.record("read", actor=actor, subject_id="subj-1", purpose="provide")


# -- when a batch is due --------------------------------------------------------------


def test_nothing_waiting_waits_for_an_entry() -> None:
    due = _seconds_until_due(0, 0.0, 5.0, max_delay=0.1, max_batch=10, urgent=False)
    assert due is None
    assert _seconds_until_due(0, 0.0, 5.0, max_delay=0.1, max_batch=10, urgent=True) is None


def test_a_batch_is_due_when_its_oldest_entry_has_waited_max_delay() -> None:
    def due(now: float) -> float | None:
        return _seconds_until_due(3, 10.0, now, max_delay=0.25, max_batch=10, urgent=False)

    assert due(10.0) == pytest.approx(0.25)
    assert due(10.2) == pytest.approx(0.05)
    assert due(10.25) == 0.0
    assert due(11.0) == 0.0


def test_a_full_batch_or_a_flush_is_due_at_once() -> None:
    assert _seconds_until_due(10, 10.0, 10.0, max_delay=5, max_batch=10, urgent=False) == 0.0
    assert _seconds_until_due(1, 10.0, 10.0, max_delay=5, max_batch=10, urgent=True) == 0.0


def test_settings_that_cannot_work_are_refused(log: FakeLog) -> None:
    with pytest.raises(ValueError, match="max_delay=0"):
        AuditBuffer(log, max_delay=0)
    with pytest.raises(ValueError, match="max_batch=10, max_backlog=5"):
        AuditBuffer(log, max_batch=10, max_backlog=5)


# -- batching -------------------------------------------------------------------------


def test_entries_wait_for_their_deadline_then_go_in_one_batch(log: FakeLog) -> None:
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


def test_a_full_batch_is_appended_without_waiting(buffer: AuditBuffer, log: FakeLog) -> None:
    for i in range(10):
        _record(buffer, f"a{i}")
    assert log.appended.wait(PATIENCE)
    assert [len(batch) for batch in log.batches] == [10]


def test_flush_appends_everything_in_order(buffer: AuditBuffer, log: FakeLog) -> None:
    for i in range(25):
        _record(buffer, f"a{i}")
    buffer.flush()
    assert log.actors == [f"a{i}" for i in range(25)]
    assert all(len(batch) <= 10 for batch in log.batches)


def test_close_appends_what_is_pending(log: FakeLog) -> None:
    buffer = AuditBuffer(log, max_delay=NEVER)
    _record(buffer, "last")
    buffer.close()
    assert log.actors == ["last"]
    with pytest.raises(AuditUnavailable, match="closed"):
        _record(buffer, "too late")


def test_record_returns_how_many_entries_wait(buffer: AuditBuffer) -> None:
    assert [_record(buffer, f"a{i}") for i in range(3)] == [1, 2, 3]


def test_events_are_copied_when_recorded(buffer: AuditBuffer, log: FakeLog) -> None:
    reasons = ["purpose 'provide' may use category 'telemetry'"]
    details: dict[str, str | int | bool | None] = {"count": 1}
    buffer.record("read", actor="a", reasons=reasons, details=details)
    reasons.append("changed")
    details["count"] = 2
    buffer.flush()
    (event,) = log.batches[0]
    assert event.reasons == ("purpose 'provide' may use category 'telemetry'",)
    assert event.details == {"count": 1}


# -- failing closed -------------------------------------------------------------------


def test_reads_are_refused_while_the_backlog_cannot_be_appended(
    buffer: AuditBuffer, log: FakeLog
) -> None:
    log.broken = True
    _record(buffer, "first")
    buffer.flush()  # returns once appending failed
    for i in range(19):
        _record(buffer, f"a{i}")
    with pytest.raises(AuditUnavailable, match="refused"):
        _record(buffer, "one too many")
    log.broken = False  # the next retry appends the backlog
    assert log.appended.wait(PATIENCE)
    buffer.flush()
    assert log.actors == ["first", *(f"a{i}" for i in range(19))]
    _record(buffer, "again")  # appending works again: so does recording


# -- against the real log -------------------------------------------------------------


def test_buffered_entries_land_in_the_log_and_verify(
    audit_backend: AuditBackend, keyring: Keyring
) -> None:
    log = AuditLog(audit_backend.engine, keyring)
    buffer = AuditBuffer(log, max_delay=NEVER, max_batch=50)
    try:
        for i in range(120):
            buffer.record("read", actor=f"p{i % 7}", subject_id=f"subj-{i % 13}", purpose="provide")
        buffer.flush()
    finally:
        buffer.close()
    assert log.size() == 120
    assert log.verify().entries == 120
    assert [entry.actor for entry in log.entries(0, 120)] == [f"p{i % 7}" for i in range(120)]
