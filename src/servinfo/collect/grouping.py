"""Group commit for single-record requests: concurrent writes share their transactions.

A record sent on its own costs a write transaction in its region and one in
the control database (its audit entry, with its idempotency answer), each a
commit that syncs to disk, and each taken in turn under the database's writer
lock. When several requests of a worker arrive together, :class:`CommitGroups`
lets them share those transactions: the first caller leads and commits, and
whoever arrives meanwhile waits for the group after it, which the longest
waiting of them then leads. No caller waits for a timer, so a request that
arrives alone is committed at once; under load, a group holds everything that
arrived during the previous commit.

Each caller still gets its own result: ``commit`` returns one outcome per item
— a value or the exception that refused that item — and an exception that
escapes ``commit`` fails every item of its group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["CommitGroups"]

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("done", "error", "item", "leads", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.leads = False
        self.result: Result | None = None
        self.error: BaseException | None = None

    def settle(self, outcome: Result | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.error = outcome
        else:
            self.result = outcome
        self.done.set()

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # settled: set by settle()


class CommitGroups(Generic[Item, Result]):
    """Runs ``commit`` over the items of concurrent :meth:`submit` calls, a group at a time."""

    def __init__(
        self,
        commit: Callable[[list[Item]], Sequence[Result | BaseException]],
        *,
        max_group: int = 256,
    ) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be positive, got {max_group}")
        self._commit = commit
        self._max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item, Result]] = []
        self._leading = False

    def submit(self, item: Item) -> Result:
        """Commit ``item`` with whatever else is waiting; its result, or its exception."""
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._waiting.append(waiter)
            leads = not self._leading
            self._leading = True
        if not leads:
            waiter.done.wait()
            if not waiter.leads:
                return waiter.outcome()
        self._lead()
        return waiter.outcome()

    def _lead(self) -> None:
        with self._lock:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
        try:
            outcomes: Sequence[Result | BaseException] = self._commit([w.item for w in group])
            if len(outcomes) != len(group):
                raise RuntimeError(f"commit gave {len(outcomes)} outcomes for {len(group)} items")
        except BaseException as error:  # every item of the group failed with it
            outcomes = [error] * len(group)
        for waiter, outcome in zip(group, outcomes, strict=True):
            waiter.settle(outcome)
        with self._lock:
            if self._waiting:
                # The longest waiting caller leads the next group; this one returns.
                following = self._waiting[0]
                following.leads = True
                following.done.set()
            else:
                self._leading = False
