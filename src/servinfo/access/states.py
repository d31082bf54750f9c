"""Subject states for decisions, cached between ledger changes.

Reading a subject's objections, restriction and consents costs several
queries; a read of their data must not. States are cached per subject and the
cache is dropped when the ledgers change: at once for changes this process
made (``Ledgers.local_changes``), and within ``check_every`` seconds for
changes another process made (the ledgers' global version, one cheap query
per interval). Rights requests and jurisdiction changes bump the same version.

A miss reads the source outside any lock, so another thread may drop the cache
while the read is under way; the state read then answers this one read but is
not kept, since it may predate the change that dropped the cache (the server
serves requests from several threads).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from servinfo.access.decisions import SubjectState


class StateSource(Protocol):
    local_changes: int

    def subject_state(self, subject_id: str) -> SubjectState: ...

    def global_version(self) -> int: ...


class SubjectStateCache:
    def __init__(
        self,
        source: StateSource,
        *,
        check_every: float = 0.5,
        max_subjects: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._check_every = check_every
        self._max = max_subjects
        self._clock = clock
        self._states: dict[str, SubjectState] = {}
        #: Bumped whenever the cache is dropped: a miss keeps its state only if unchanged.
        self._generation = 0
        self._local = source.local_changes
        self._global = -1
        self._checked_at = float("-inf")

    def subject_state(self, subject_id: str) -> SubjectState:
        self._invalidate_if_changed()
        state = self._states.get(subject_id)
        if state is None:
            generation = self._generation
            state = self._source.subject_state(subject_id)
            if generation == self._generation:
                if len(self._states) >= self._max:
                    self._states.clear()
                self._states[subject_id] = state
        return state

    def clear(self) -> None:
        # Generation first: a miss finishing in between must not keep its state.
        self._generation += 1
        self._states.clear()

    def _invalidate_if_changed(self) -> None:
        if self._source.local_changes != self._local:
            self._local = self._source.local_changes
            self.clear()
        now = self._clock()
        if now - self._checked_at >= self._check_every:
            self._checked_at = now
            version = self._source.global_version()
            if version != self._global:
                self._global = version
                self.clear()
