"""A keyed request stopped between any two of its commits, then replayed, stores nothing twice.

Each test stops the request where a killed worker would leave it — after a
region's commit and before the control database's (the audit entry with the
batch's progress or answer), or between two regions — without the clean-up a
living worker does (giving its claim up), then replays it with the same key
once its claim may be taken over. The replay must store each line once,
answer with the ids stored the first time, and leave one audit entry a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from tests.collect.world import IngestWorld, login, ndjson, usage

from servinfo.audit import AuditLog
from servinfo.collect.idempotency import IdempotencyStore
from servinfo.store import RecordWriter


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def each_world(request: pytest.FixtureRequest) -> IngestWorld:
    """The ingest world on each backend."""
    name = "world" if request.param == "sqlite" else "postgres_world"
    built: IngestWorld = request.getfixturevalue(name)
    return built


class Crash(Exception):
    """Stands for the worker being killed: nothing of the request's own clean-up counts."""


@contextmanager
def crashing(
    world: IngestWorld, target: Any, name: str, when: Callable[..., bool]
) -> Iterator[None]:
    """Make ``target.name`` raise :class:`Crash` on the first call ``when`` accepts, as a
    kill there would; the claim is then left as a killed worker leaves it."""
    original = getattr(target, name)
    fired = False

    def patched(*args: Any, **kwargs: Any) -> Any:
        nonlocal fired
        if not fired and when(*args, **kwargs):
            fired = True
            raise Crash()
        return original(*args, **kwargs)

    store = world.deployment.collector.idempotency
    assert store is not None
    abandon = store.abandon
    setattr(target, name, patched)
    store.abandon = lambda claim: None  # type: ignore[method-assign]  # killed: no clean-up
    try:
        yield
    finally:
        setattr(target, name, original)
        store.abandon = abandon  # type: ignore[method-assign]
    assert fired, f"the crash point {name} was never reached"


def _take_over_at_once(world: IngestWorld) -> None:
    """The claims of the killed request may be taken over now (its lease is over)."""
    world.deployment.collector.idempotency = IdempotencyStore(
        world.deployment.control, dt.timedelta(hours=24), lease=dt.timedelta(0)
    )


def _writes_of(events: Sequence[Any]) -> bool:
    return any(getattr(e, "action", None) == "write" for e in events)


def _nth_write(n: int) -> Callable[..., bool]:
    """Accept the ``n``-th call (from 1) that appends a write entry."""
    seen = 0

    def when(_log: Any, events: Sequence[Any], *args: Any, **kwargs: Any) -> bool:
        nonlocal seen
        if not _writes_of(list(events)):
            return False
        seen += 1
        return seen == n

    return when


def _written_record_ids(world: IngestWorld) -> list[str]:
    log = world.deployment.audit
    entries = log.entries(0, log.size())
    return [rid for e in entries if e.action == "write" for rid in e.record_ids]


def _batch(world: IngestWorld, body: bytes, key: str) -> Any:
    with pytest.raises(Crash):
        world.batch("platform", body, key=key)
    _take_over_at_once(world)
    return world.batch("platform", body, key=key)


def _lines(count: int, subject: str = "sub-ada") -> list[dict[str, Any]]:
    return [usage(subject=subject, resource_id=f"vm-{subject}-{n}") for n in range(count)]


@pytest.mark.parametrize("chunk", [1, 2], ids=["first-chunk", "last-chunk"])
def test_a_batch_killed_between_a_region_commit_and_its_entry_stores_each_line_once(
    each_world: IngestWorld, chunk: int
) -> None:
    world = each_world
    body = ndjson(_lines(1500))  # two chunks: 1,000 lines, then 500
    with crashing(world, AuditLog, "record_many", _nth_write(chunk)):
        answer = _batch(world, body, "k-batch")
    assert answer.status_code == 200, answer.text
    ids = [line["id"] for line in answer.json()["accepted"]]
    assert len(ids) == len(set(ids)) == 1500
    assert world.count("eu") == 1500
    written = _written_record_ids(world)
    assert sorted(written) == sorted(ids), "one audit entry a stored record"
    replay = world.batch("platform", body, key="k-batch")
    assert replay.json() == answer.json()
    assert replay.headers["idempotent-replayed"] == "true"


def test_a_batch_killed_between_two_regions_stores_each_line_once(each_world: IngestWorld) -> None:
    world = each_world
    body = ndjson(_lines(20, "sub-ada") + _lines(20, "sub-bob"))  # eu, then us

    def us_region(_writer: Any, region: str, *args: Any, **kwargs: Any) -> bool:
        return region == "us"

    with crashing(world, RecordWriter, "_write_region", us_region):
        answer = _batch(world, body, "k-regions")
    assert answer.status_code == 200, answer.text
    assert (world.count("eu"), world.count("us")) == (20, 20)
    assert len({line["id"] for line in answer.json()["accepted"]}) == 40


def test_a_single_record_killed_before_its_answer_is_stored_once_with_its_first_id(
    each_world: IngestWorld,
) -> None:
    world = each_world
    record = login(ip_address="192.0.2.9")
    with crashing(world, AuditLog, "record_many", _nth_write(1)), pytest.raises(Crash):
        world.post("identity", record, key="k-single")
    before = world.count("eu")
    _take_over_at_once(world)
    answer = world.post("identity", record, key="k-single")
    assert answer.status_code == 201, answer.text
    assert world.count("eu") == before
    assert _written_record_ids(world) == [answer.json()["id"]]
