"""Single-object requests (``POST /v1/records``) of a worker, answered a group at a time.

A record sent on its own does little work of its own next to the transactions
it needs: its idempotency claim, its region write, and its audit entry with
its answer, each a commit taken in turn under a database's writer lock. So
the requests that arrive together are answered as one group, by one thread:
one claiming transaction, one subject lookup, one write transaction per
region, and one audit transaction (an entry per request) that also commits
the answers. Requests that arrive while a group is being answered wait on the
event loop, not in a thread each, and make the next group. There is no
timer: a request that arrives alone is answered at once.

Each request keeps its own answer. A refusal (a bad token, malformed JSON, an
unknown subject, a subject erased meanwhile …) is its request's alone; an
error that fails a group's transaction (the database gone) fails each request
of it, and their claims are given up so that retries run again. A request
whose key another request holds waits for that one's answer, polling between
groups, and replays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from starlette.concurrency import run_in_threadpool

from servinfo.collect.errors import RequestInProgress
from servinfo.collect.idempotency import Claim, StoredAnswer, request_hash
from servinfo.collect.objects import parse_json
from servinfo.collect.outcome import Outcome
from servinfo.deployment import Deployment
from servinfo.errors import ServinfoError
from servinfo.store import Principal

__all__ = ["Replied", "SingleRequest", "SingleRequests"]

PATH = "/v1/records"


@dataclass(frozen=True, slots=True)
class SingleRequest:
    token: str
    key: str | None
    body: bytes


class Replied(NamedTuple):
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


class _InProgress:
    """Another request holds the key: look again after a while."""


_IN_PROGRESS = _InProgress()
_Result = Replied | BaseException | _InProgress


class SingleRequests:
    """The single-object requests of a worker, answered in groups.

    A worker has one event loop; the queue is kept per loop all the same, so
    that an application run on several loops (a test client's threads) keeps
    each loop's requests and futures to itself.
    """

    def __init__(self, deployment: Deployment, *, max_group: int = 256) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be positive, got {max_group}")
        self._deployment = deployment
        self._max_group = max_group
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    def waiting(self) -> int:
        """How many requests of this loop wait for the next group."""
        queue = self._queues.get(asyncio.get_running_loop())
        return 0 if queue is None else len(queue.waiting)

    async def answer(self, request: SingleRequest) -> Replied:
        """The request's answer (replayed if its key was answered before), or its error."""
        store = self._deployment.collector.idempotency
        deadline = time.monotonic() + (store.wait if store is not None else 0.0)
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue(self.answer_group, self._max_group)
        while True:
            result = await queue.in_next_group(request)
            if isinstance(result, Replied):
                return result
            if isinstance(result, BaseException):
                raise result
            if store is None or time.monotonic() >= deadline:
                raise RequestInProgress()
            await asyncio.sleep(store.poll)

    def answer_group(self, requests: list[SingleRequest]) -> list[_Result]:
        """Answer requests that arrived together, in the calling thread: one result each (an
        answer, the error refusing it, or a mark that another request holds its key)."""
        return _Group(self._deployment, requests).answer()


class _Queue:
    """One event loop's waiting requests, and the task that answers them a group at a time."""

    def __init__(
        self, answer_group: Callable[[list[SingleRequest]], list[_Result]], max_group: int
    ) -> None:
        self._answer_group = answer_group
        self._max_group = max_group
        self.waiting: list[tuple[SingleRequest, asyncio.Future[_Result]]] = []
        self._answering: asyncio.Task[None] | None = None

    async def in_next_group(self, request: SingleRequest) -> _Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Result] = loop.create_future()
        self.waiting.append((request, future))
        if self._answering is None:
            self._answering = loop.create_task(self._answer_waiting())
        return await future

    async def _answer_waiting(self) -> None:
        group: list[tuple[SingleRequest, asyncio.Future[_Result]]] = []
        try:
            while self.waiting:
                group = self.waiting[: self._max_group]
                del self.waiting[: self._max_group]
                try:
                    results = await run_in_threadpool(
                        self._answer_group, [request for request, _ in group]
                    )
                except Exception as error:  # each request of the group fails with it
                    results = [error] * len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if not future.done():  # done: the client went away meanwhile
                        future.set_result(result)
                group = []
        except asyncio.CancelledError:  # the worker is stopping: nobody will answer these
            for _, future in group + self.waiting:
                future.cancel()
            self.waiting.clear()
            raise
        finally:
            self._answering = None


class _Group:
    """One group's requests on their way through authentication, claims and ingest."""

    def __init__(self, deployment: Deployment, requests: list[SingleRequest]) -> None:
        self._deployment = deployment
        self._store = deployment.collector.idempotency
        self._requests = requests
        self._results: list[_Result | None] = [None] * len(requests)
        self._claims: dict[int, Claim] = {}

    def answer(self) -> list[_Result]:
        try:
            principals = self._authenticate()
            if self._store is not None:
                self._claim(principals)
            self._ingest(principals)
        except Exception as error:  # the whole group fails: give up what it claimed
            self._fail(list(self._claims), error)
            raise
        results = [result for result in self._results if result is not None]
        assert len(results) == len(self._requests)  # every request got its result
        return results

    def _open(self) -> list[int]:
        """The requests without a result yet."""
        return [i for i, result in enumerate(self._results) if result is None]

    def _authenticate(self) -> dict[int, Principal]:
        # The requests of a group mostly come from a few services: each token once.
        by_token: dict[str, Principal | ServinfoError] = {}
        principals: dict[int, Principal] = {}
        for index, request in enumerate(self._requests):
            found = by_token.get(request.token)
            if found is None:
                try:
                    found = self._deployment.principal_service.authenticate(request.token)
                except ServinfoError as error:
                    found = error
                by_token[request.token] = found
            if isinstance(found, ServinfoError):
                self._results[index] = found
            else:
                principals[index] = found
        return principals

    def _claim(self, principals: dict[int, Principal]) -> None:
        store = self._store
        assert store is not None
        keyed: list[tuple[int, str, str, str]] = []  # index, principal id, key, request hash
        for index in self._open():
            key = self._requests[index].key
            if key is None:
                continue
            try:
                store.check_key(key)
            except ServinfoError as error:
                self._results[index] = error
                continue
            body_hash = request_hash(PATH, self._requests[index].body)
            keyed.append((index, principals[index].principal_id, key, body_hash))
        if not keyed:
            return
        store.purge_if_due()
        taken = store.claim_many([(principal_id, key, h) for _, principal_id, key, h in keyed])
        for (index, principal_id, key, body_hash), claim in zip(keyed, taken, strict=True):
            if claim is None:
                try:
                    found = store.existing(principal_id, key, body_hash)
                except ServinfoError as error:  # the same key with another body
                    self._results[index] = error
                    continue
                if isinstance(found, StoredAnswer):
                    self._results[index] = Replied(found.status_code, found.body, replayed=True)
                    continue
                if found is None:
                    self._results[index] = _IN_PROGRESS
                    continue
                claim = found
            self._claims[index] = claim

    def _ingest(self, principals: dict[int, Principal]) -> None:
        items: list[tuple[int, Principal, object]] = []
        for index in self._open():
            try:
                items.append((index, principals[index], parse_json(self._requests[index].body)))
            except ServinfoError as error:
                self._refuse(index, error)
        if items:
            collector = self._deployment.collector
            try:
                outcomes = collector.ingest_many(
                    [(principal, value, self._claims.get(i)) for i, principal, value in items]
                )
            except Exception as error:  # fails these requests, not the worker
                self._fail((i for i, _, _ in items), error)
                return
            for (index, _, _), outcome in zip(items, outcomes, strict=True):
                if isinstance(outcome, Outcome):
                    self._reply(index, outcome.http_status, outcome.to_dict(), outcome.answered)
                else:
                    self._refuse(index, outcome)
        self._store_answers()

    def _refuse(self, index: int, error: ServinfoError) -> None:
        self._reply(index, error.http_status, {"error": error.code, "detail": error.message})

    def _reply(self, index: int, status: int, body: dict[str, Any], stored: bool = False) -> None:
        self._results[index] = Replied(status, body)
        if stored:
            del self._claims[index]

    def _store_answers(self) -> None:
        """Store the answers not committed with a write: refusals, registrations."""
        answering = [i for i in self._claims if isinstance(self._results[i], Replied)]
        if not answering:
            return
        assert self._store is not None
        answers: list[tuple[Claim, int, dict[str, Any]]] = []
        for index in answering:
            replied = self._results[index]
            assert isinstance(replied, Replied)
            answers.append((self._claims[index], replied.status_code, replied.body))
        try:
            self._store.finish_many(answers)
        except Exception as error:  # fails these requests, not the worker
            self._fail(answering, error)
            return
        for index in answering:
            del self._claims[index]

    def _fail(self, indices: Iterable[int], error: Exception) -> None:
        """Fail these requests with ``error`` and give their claims up for the retries."""
        for index in indices:
            self._results[index] = error
            claim = self._claims.pop(index, None)
            if claim is not None and self._store is not None:
                # A claim that cannot be given up now expires with its lease.
                with contextlib.suppress(Exception):
                    self._store.abandon(claim)
