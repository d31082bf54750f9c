"""Concurrent requests of a worker: single objects are answered in groups that share their
commits, each keeping its own answer; batches run one at a time, and a batch answered while
another is in flight hands its connection back."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.collect.world import IngestWorld, ndjson, usage

from servinfo.collect import routes
from servinfo.collect.batch import Batch, BatchResult
from servinfo.collect.idempotency import Claim, IdempotencyStore
from servinfo.collect.routes import Batches
from servinfo.collect.singles import SingleRequest, SingleRequests


class _HeldWriter:
    """Holds the writer's first call until :meth:`release`, so that requests queue behind it."""

    def __init__(self, world: IngestWorld) -> None:
        self._writer = world.deployment.writer
        self._original = self._writer.put_many
        self._released = threading.Event()
        self.sizes: list[int] = []
        self._then: Callable[..., list[str]] = self._original
        self._singles: SingleRequests = world.client.app.state.single_requests  # type: ignore[attr-defined]
        self._client = world.client

    def __enter__(self) -> _HeldWriter:
        def put_many(records: Any, *args: Any, **kwargs: Any) -> list[str]:
            records = list(records)
            self.sizes.append(len(records))
            if len(self.sizes) == 1:
                assert self._released.wait(10)
            return self._then(records, *args, **kwargs)

        self._writer.put_many = put_many  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._writer.put_many = self._original  # type: ignore[method-assign]

    def wait_until(self, held: bool = False, queued: int = 0) -> None:
        deadline = time.monotonic() + 10
        while (held and not self.sizes) or self._queued() < queued:
            assert time.monotonic() < deadline, "the requests never queued"
            time.sleep(0.005)

    def _queued(self) -> int:
        portal = self._client.portal
        assert portal is not None  # one event loop for every request, as in a worker
        return portal.call(_waiting, self._singles)

    def then(self, put_many: Callable[..., list[str]]) -> None:
        """Write through ``put_many`` rather than the writer's own."""
        self._then = put_many

    def release(self) -> None:
        self._released.set()


async def _waiting(singles: SingleRequests) -> int:
    return singles.waiting()


def test_records_arriving_together_are_written_and_audited_in_one_group(
    world: IngestWorld,
) -> None:
    _records_arriving_together_share_one_group(world)


@pytest.mark.postgres
def test_records_arriving_together_share_one_group_on_postgresql(
    postgres_world: IngestWorld,
) -> None:
    _records_arriving_together_share_one_group(postgres_world)
    _each_request_keeps_its_own_refusal(postgres_world)


def _records_arriving_together_share_one_group(world: IngestWorld) -> None:
    deployment = world.deployment
    before = world.count()
    with _HeldWriter(world) as held, ThreadPoolExecutor(5) as pool:
        first = pool.submit(world.post, "platform", usage(quantity=0), "key-0")
        held.wait_until(held=True)
        rest = [
            pool.submit(world.post, "platform", usage(quantity=n), f"key-{n}") for n in range(1, 5)
        ]
        held.wait_until(queued=4)
        held.release()
        answers = [first.result(10)] + [f.result(10) for f in rest]
    assert held.sizes == [1, 4]
    assert [a.status_code for a in answers] == [201] * 5
    ids = [a.json()["id"] for a in answers]
    assert len(set(ids)) == 5
    # One audit entry per request, naming its own record.
    entries = [e for e in deployment.audit.tail(10) if e.action == "write"]
    assert sorted(e.record_ids[0] for e in entries[-5:]) == sorted(ids)
    assert world.count() == before + 5
    # Each key kept its own answer, committed with the group's audit entries.
    replayed = world.post("platform", usage(quantity=3), "key-3")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == ids[3]


def test_each_request_of_a_group_keeps_its_own_refusal(world: IngestWorld) -> None:
    """A bad token, malformed JSON, an unknown subject and a bad key, beside good records."""
    _each_request_keeps_its_own_refusal(world)


def _each_request_keeps_its_own_refusal(world: IngestWorld) -> None:
    before = world.count()
    bad_token = {"Authorization": "Bearer not-a-token", "Content-Type": "application/json"}
    with _HeldWriter(world) as held, ThreadPoolExecutor(6) as pool:
        first = pool.submit(world.post, "platform", usage(), "first")
        held.wait_until(held=True)
        good = pool.submit(world.post, "platform", usage(quantity=2), "good")
        malformed = pool.submit(
            world.client.post,
            "/v1/records",
            content=b'{"subject": ',
            headers=world.headers("platform", "malformed"),
        )
        unknown = pool.submit(world.post, "platform", usage(subject="sub-nobody"), "unknown")
        no_token = pool.submit(world.client.post, "/v1/records", content=b"{}", headers=bad_token)
        spaced_key = pool.submit(world.post, "platform", usage(), "a key with spaces")
        held.wait_until(queued=5)
        held.release()
        assert first.result(10).status_code == 201
        assert good.result(10).status_code == 201
        assert malformed.result(10).status_code == 400
        assert unknown.result(10).status_code == 422
        assert unknown.result(10).json()["error"] == "unknown_subject"
        assert no_token.result(10).status_code == 401
        assert spaced_key.result(10).status_code == 400
    assert held.sizes == [1, 1]
    assert world.count() == before + 2
    # The refusals were stored under their keys too: a retry gets the same answer.
    again = world.post("platform", usage(subject="sub-nobody"), "unknown")
    assert again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_record_whose_subject_was_erased_meanwhile_fails_alone(world: IngestWorld) -> None:
    deployment = world.deployment
    original = deployment.writer.put_many

    def erasing_bob_first(records: Any, *args: Any, **kwargs: Any) -> list[str]:
        records = list(records)
        if len(records) == 3:  # checked already; erased before its group is written
            deployment.directory.mark_erased("sub-bob", dt.datetime.now(dt.UTC))
        return original(records, *args, **kwargs)

    with _HeldWriter(world) as held, ThreadPoolExecutor(4) as pool:
        held.then(erasing_bob_first)
        first = pool.submit(world.post, "platform", usage())
        held.wait_until(held=True)
        ada = [pool.submit(world.post, "platform", usage()) for _ in range(2)]
        bob = pool.submit(world.post, "platform", usage(subject="sub-bob"))
        held.wait_until(queued=3)
        held.release()
        assert first.result(10).status_code == 201
        assert [f.result(10).status_code for f in ada] == [201, 201]
        assert bob.result(10).status_code == 410
        assert bob.result(10).json()["error"] == "subject_erased"
    assert held.sizes == [1, 3, 1, 1, 1]  # the group of three failed whole, then each alone
    assert world.count("eu") == 3
    assert world.count("us") == 0


def test_a_failing_write_fails_each_request_of_its_group_and_frees_their_keys(
    world: IngestWorld,
) -> None:
    writer = world.deployment.writer
    original = writer.put_many

    def broken(*args: Any, **kwargs: Any) -> list[str]:
        raise OSError("disk gone")

    writer.put_many = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="disk gone"):  # the test client re-raises it
            world.post("platform", usage(), "retry-me")
    finally:
        writer.put_many = original  # type: ignore[method-assign]
    retried = world.post("platform", usage(), "retry-me")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert world.count() == 1


def test_a_request_waits_for_the_one_holding_its_key_and_replays_its_answer(
    world: IngestWorld,
) -> None:
    with _HeldWriter(world) as held, ThreadPoolExecutor(2) as pool:
        first = pool.submit(world.post, "platform", usage(), "same")
        held.wait_until(held=True)
        second = pool.submit(world.post, "platform", usage(), "same")
        time.sleep(0.2)  # the second has found the key taken and polls
        assert not second.done()
        held.release()
        answers = [first.result(10), second.result(10)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert world.count() == 1


def test_concurrent_claims_of_one_key_let_exactly_one_request_in(world: IngestWorld) -> None:
    store = IdempotencyStore(world.deployment.control, dt.timedelta(hours=1), wait=0.0)
    barrier = threading.Barrier(6)

    def claim(n: int) -> str:
        barrier.wait(5)
        key = "shared" if n < 3 else f"own-{n}"
        try:
            return "claimed" if isinstance(store.begin("p1", key, "hash"), Claim) else "other"
        except Exception as error:  # the refusal is the result
            return type(error).__name__

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(claim, range(6)))
    assert sorted(results[:3]) == ["RequestInProgress", "RequestInProgress", "claimed"]
    assert results[3:] == ["claimed"] * 3


def test_a_worker_processes_one_batch_at_a_time_and_hands_the_next_connection_back(
    world: IngestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch waits for the first; the first, answered while the second is in
    flight, closes its connection; the last one keeps it."""
    batches: Batches = world.client.app.state.batches  # type: ignore[attr-defined]
    release_first = threading.Event()
    running: list[int] = []
    overlapped: list[bool] = []

    class OrderedBatch(Batch):
        def finish(self) -> BatchResult:
            overlapped.append(bool(running))
            running.append(1)
            try:
                if len(overlapped) == 1:  # the first waits until the second is in flight
                    assert release_first.wait(10)
                return super().finish()
            finally:
                running.pop()

    monkeypatch.setattr(routes, "Batch", OrderedBatch)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(world.batch, "platform", ndjson([usage()]), "batch-a")
        deadline = time.monotonic() + 10
        while not overlapped:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        second = pool.submit(world.batch, "platform", ndjson([usage()]), "batch-b")
        while batches.in_flight < 2:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.1)
        assert len(overlapped) == 1  # the second batch waits its turn
        release_first.set()
        answers = [first.result(10), second.result(10)]
    assert overlapped == [False, False]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].headers["connection"] == "close"
    assert "connection" not in answers[1].headers
    assert world.count() == 2


async def _post_streamed_batch(
    app: Any, token: str, parts: AsyncIterator[bytes]
) -> tuple[int, dict[str, Any]]:
    """POST /v1/records:batch straight to the ASGI app, the body sent as ``parts`` come."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/v1/records:batch",
        "raw_path": b"/v1/records:batch",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/x-ndjson"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "state": {},
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        try:
            part = await anext(parts)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": part, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], json.loads(b"".join(body))


def test_a_batch_streaming_in_slowly_holds_no_other_batch_of_its_worker_up(
    world: IngestWorld,
) -> None:
    """Batches take turns a received chunk at a time, not a whole body at a time."""
    app = world.client.app
    token = world.tokens["platform"]

    async def scenario() -> None:
        first_chunk_in = asyncio.Event()
        rest_may_come = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield ndjson([usage(quantity=1)])
            first_chunk_in.set()
            await rest_may_come.wait()
            yield ndjson([usage(quantity=2)])

        async def quick() -> AsyncIterator[bytes]:
            yield ndjson([usage(quantity=3), usage(quantity=4)])

        slow_batch = asyncio.create_task(_post_streamed_batch(app, token, slow()))
        await asyncio.wait_for(first_chunk_in.wait(), 10)
        # The slow sender's body is half in: another batch of the worker goes ahead.
        status, answer = await asyncio.wait_for(_post_streamed_batch(app, token, quick()), 10)
        assert status == 200
        assert answer["counts"]["accepted"] == 2
        assert not slow_batch.done()
        rest_may_come.set()
        status, answer = await asyncio.wait_for(slow_batch, 10)
        assert status == 200
        assert [a["line"] for a in answer["accepted"]] == [1, 2]

    portal = world.client.portal
    assert portal is not None
    portal.call(scenario)
    assert world.count() == 4


def test_a_group_that_fails_while_claiming_gives_its_claims_up(
    world: IngestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second key of a group is held elsewhere, and reading its row fails: the first
    key, claimed in the same transaction, is free again for the retry."""
    store = world.deployment.collector.idempotency
    assert store is not None
    principal = world.deployment.principal_service.authenticate(world.tokens["platform"])
    body = json.dumps(usage()).encode()
    held = store.begin(principal.principal_id, "held-elsewhere", "another request's hash")
    assert isinstance(held, Claim)

    def unreadable(*args: Any) -> None:
        raise OSError("control database gone")

    monkeypatch.setattr(store, "existing", unreadable)
    token = world.tokens["platform"]
    group = [SingleRequest(token, "fresh", body), SingleRequest(token, "held-elsewhere", body)]
    with pytest.raises(OSError, match="control database gone"):
        SingleRequests(world.deployment).answer_group(group)
    monkeypatch.undo()
    again = store.begin(principal.principal_id, "fresh", "any hash")
    assert isinstance(again, Claim)  # not RequestInProgress: the failed group let it go
    assert world.count() == 0
