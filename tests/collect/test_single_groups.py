"""Concurrent single-record requests share their commits, and keep their own answers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.collect.world import IngestWorld, usage

from servinfo.collect.idempotency import Claim, IdempotencyStore
from servinfo.collect.outcome import Outcome
from servinfo.store import SubjectErased


def _hold_first_write(world: IngestWorld, waiting: int) -> tuple[list[int], Callable[[], None]]:
    """Make the writer's first call wait until ``waiting`` more records queue behind it."""
    writer = world.deployment.writer
    original = writer.put_many
    sizes: list[int] = []
    groups = world.deployment.collector._single_writes

    def put_many(records: Any, *args: Any, **kwargs: Any) -> list[str]:
        records = list(records)
        sizes.append(len(records))
        if len(sizes) == 1:
            deadline = time.monotonic() + 10
            while len(groups._waiting) < waiting and time.monotonic() < deadline:
                time.sleep(0.005)
        return original(records, *args, **kwargs)

    writer.put_many = put_many  # type: ignore[method-assign]

    def restore() -> None:
        writer.put_many = original  # type: ignore[method-assign]

    return sizes, restore


def test_records_arriving_together_are_written_and_audited_in_one_group(
    world: IngestWorld,
) -> None:
    deployment = world.deployment
    principal = deployment.principal_service.authenticate(world.tokens["platform"])
    sizes, restore = _hold_first_write(world, waiting=4)
    try:
        with ThreadPoolExecutor(5) as pool:
            first = pool.submit(deployment.collector.ingest, principal, usage(quantity=0))
            while not sizes:
                time.sleep(0.005)
            rest = [
                pool.submit(deployment.collector.ingest, principal, usage(quantity=n))
                for n in range(1, 5)
            ]
            outcomes: list[Outcome] = [first.result(10)] + [f.result(10) for f in rest]
    finally:
        restore()
    assert sizes == [1, 4]
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
    sizes, restore = _hold_first_write(world, waiting=3)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(deployment.collector.ingest, principal, usage())
            while not sizes:
                time.sleep(0.005)
            ada = [pool.submit(deployment.collector.ingest, principal, usage()) for _ in range(2)]
            bob = pool.submit(deployment.collector.ingest, principal, usage(subject="sub-bob"))
            while len(deployment.collector._single_writes._waiting) < 3:
                time.sleep(0.005)
            # Erased after its record was checked, before the group that holds it is written.
            deployment.directory.mark_erased("sub-bob", dt.datetime.now(dt.UTC))
            assert first.result(10).status == "stored"
            assert [f.result(10).status for f in ada] == ["stored", "stored"]
            with pytest.raises(SubjectErased):
                bob.result(10)
    finally:
        restore()
    assert sizes[:2] == [1, 3]  # the group of three failed whole, then each went alone
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
