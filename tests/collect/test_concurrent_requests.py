"""Concurrent requests of a worker: single records share their commits and keep their own
answers; a batch answered while another is in flight hands its connection back."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.collect.world import IngestWorld, ndjson, usage

from servinfo.collect import routes
from servinfo.collect.batch import Batch, BatchResult
from servinfo.collect.idempotency import Claim, IdempotencyStore
from servinfo.collect.outcome import Outcome
from servinfo.store import SubjectErased


class _HeldWriter:
    """Holds the writer's first call until :meth:`release`, so that records queue behind it."""

    def __init__(self, world: IngestWorld) -> None:
        self._writer = world.deployment.writer
        self._original = self._writer.put_many
        self._released = threading.Event()
        self.sizes: list[int] = []
        self._groups = world.deployment.collector._single_writes

    def __enter__(self) -> _HeldWriter:
        def put_many(records: Any, *args: Any, **kwargs: Any) -> list[str]:
            records = list(records)
            self.sizes.append(len(records))
            if len(self.sizes) == 1:
                assert self._released.wait(10)
            return self._original(records, *args, **kwargs)

        self._writer.put_many = put_many  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._writer.put_many = self._original  # type: ignore[method-assign]

    def wait_until(self, held: bool = False, queued: int = 0) -> None:
        deadline = time.monotonic() + 10
        while (held and not self.sizes) or len(self._groups._waiting) < queued:
            assert time.monotonic() < deadline, "the requests never queued"
            time.sleep(0.005)

    def release(self) -> None:
        self._released.set()


def test_records_arriving_together_are_written_and_audited_in_one_group(
    world: IngestWorld,
) -> None:
    deployment = world.deployment
    principal = deployment.principal_service.authenticate(world.tokens["platform"])
    ingest = deployment.collector.ingest
    with _HeldWriter(world) as held, ThreadPoolExecutor(5) as pool:
        first = pool.submit(ingest, principal, usage(quantity=0))
        held.wait_until(held=True)
        rest = [pool.submit(ingest, principal, usage(quantity=n)) for n in range(1, 5)]
        held.wait_until(queued=4)
        held.release()
        outcomes: list[Outcome] = [first.result(10)] + [f.result(10) for f in rest]
    assert held.sizes == [1, 4]
    ids = [o.id for o in outcomes]
    assert len(set(ids)) == 5
    assert all(o.status == "stored" for o in outcomes)
    # One audit entry per request, naming its own record.
    entries = [e for e in deployment.audit.tail(10) if e.action == "write"]
    assert sorted(e.record_ids[0] for e in entries[-5:]) == sorted(ids)
    assert world.count() == 5


def test_a_record_whose_subject_was_erased_meanwhile_fails_alone(world: IngestWorld) -> None:
    deployment = world.deployment
    principal = deployment.principal_service.authenticate(world.tokens["platform"])
    ingest = deployment.collector.ingest
    with _HeldWriter(world) as held, ThreadPoolExecutor(4) as pool:
        first = pool.submit(ingest, principal, usage())
        held.wait_until(held=True)
        ada = [pool.submit(ingest, principal, usage()) for _ in range(2)]
        bob = pool.submit(ingest, principal, usage(subject="sub-bob"))
        held.wait_until(queued=3)
        # Erased after its record was checked, before the group that holds it is written.
        deployment.directory.mark_erased("sub-bob", dt.datetime.now(dt.UTC))
        held.release()
        assert first.result(10).status == "stored"
        assert [f.result(10).status for f in ada] == ["stored", "stored"]
        with pytest.raises(SubjectErased):
            bob.result(10)
    assert held.sizes[:2] == [1, 3]  # the group of three failed whole, then each went alone
    assert world.count("eu") == 3
    assert world.count("us") == 0


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


def test_a_worker_busy_with_another_batch_hands_the_connection_back(
    world: IngestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch answered while another is in flight closes its connection; the last keeps it."""
    second_done = threading.Event()
    created: list[Batch] = []

    class OrderedBatch(Batch):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

        def finish(self) -> BatchResult:
            if self is created[0]:  # the first batch ends after the second has answered
                assert second_done.wait(10)
            return super().finish()

    monkeypatch.setattr(routes, "Batch", OrderedBatch)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(world.batch, "platform", ndjson([usage()]), "batch-a")
        while not created:
            time.sleep(0.005)
        second = world.batch("platform", ndjson([usage()]), "batch-b")
        second_done.set()
        first_answer = first.result(10)
    assert second.status_code == first_answer.status_code == 200
    assert second.headers["connection"] == "close"
    assert "connection" not in first_answer.headers
