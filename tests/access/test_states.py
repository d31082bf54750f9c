"""The subject-state cache: kept between ledger changes, dropped by every change."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from servinfo.access.decisions import SubjectState
from servinfo.access.states import SubjectStateCache


class FakeLedgers:
    """A state source whose ledger changes the test makes, counting the reads."""

    def __init__(self) -> None:
        self.local_changes = 0
        self.version = 0
        self.restricted: set[str] = set()
        self.reads: list[str] = []
        self.version_reads = 0
        #: Run in the middle of the next read: what another thread does meanwhile.
        self.during_read: Callable[[], None] | None = None

    def subject_state(self, subject_id: str) -> SubjectState:
        self.reads.append(subject_id)
        state = SubjectState(
            subject_id=subject_id,
            regime="gdpr",
            restricted=subject_id in self.restricted,
            version=self.version,
        )
        if self.during_read is not None:
            during, self.during_read = self.during_read, None
            during()
        return state

    def global_version(self) -> int:
        self.version_reads += 1
        return self.version

    def restrict(self, subject_id: str, *, here: bool) -> None:
        """A restriction made by this process (``here``) or by another one."""
        self.restricted.add(subject_id)
        self.version += 1
        if here:
            self.local_changes += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledgers() -> FakeLedgers:
    return FakeLedgers()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(ledgers: FakeLedgers, clock: Clock) -> SubjectStateCache:
    return SubjectStateCache(ledgers, check_every=0.5, clock=clock)


def test_a_state_is_read_once_between_changes(
    cache: SubjectStateCache, ledgers: FakeLedgers, clock: Clock
) -> None:
    for _ in range(3):
        cache.subject_state("subj-1")
        clock.now += 0.2
    cache.subject_state("subj-2")
    assert ledgers.reads == ["subj-1", "subj-2"]


def test_a_change_made_here_applies_to_the_next_read(
    cache: SubjectStateCache, ledgers: FakeLedgers
) -> None:
    assert not cache.subject_state("subj-1").restricted
    ledgers.restrict("subj-1", here=True)
    assert cache.subject_state("subj-1").restricted


def test_a_change_made_elsewhere_applies_within_check_every(
    cache: SubjectStateCache, ledgers: FakeLedgers, clock: Clock
) -> None:
    assert not cache.subject_state("subj-1").restricted
    ledgers.restrict("subj-1", here=False)
    clock.now += 0.4
    assert not cache.subject_state("subj-1").restricted  # not yet asked
    clock.now += 0.1
    assert cache.subject_state("subj-1").restricted
    assert ledgers.version_reads == 2


def test_a_state_read_while_the_cache_is_dropped_is_not_kept(
    cache: SubjectStateCache, ledgers: FakeLedgers
) -> None:
    # Another thread restricts the subject and drops the cache while this read is
    # under way: the state read (unrestricted) answers this read only.
    def change_meanwhile() -> None:
        ledgers.restrict("subj-1", here=True)
        cache.subject_state("subj-2")  # the other thread's read drops the cache

    ledgers.during_read = change_meanwhile
    assert not cache.subject_state("subj-1").restricted
    assert cache.subject_state("subj-1").restricted
    assert ledgers.reads == ["subj-1", "subj-2", "subj-1"]


def test_clear_drops_every_state(cache: SubjectStateCache, ledgers: FakeLedgers) -> None:
    cache.subject_state("subj-1")
    cache.clear()
    cache.subject_state("subj-1")
    assert ledgers.reads == ["subj-1", "subj-1"]


def test_the_cache_stays_within_max_subjects(ledgers: FakeLedgers, clock: Clock) -> None:
    cache = SubjectStateCache(ledgers, max_subjects=2, clock=clock)
    for subject_id in ("subj-1", "subj-2", "subj-3", "subj-1"):
        cache.subject_state(subject_id)
    # The third subject found the cache full and started it afresh.
    assert ledgers.reads == ["subj-1", "subj-2", "subj-3", "subj-1"]
