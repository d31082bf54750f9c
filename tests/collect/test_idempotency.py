"""Idempotency-Key: a retried request returns the first answer and stores nothing twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event
from tests.collect.world import IngestWorld, ingest_world, login, ndjson, populate, usage
from tests.support import PostgresDatabases

from servinfo.api import create_app
from servinfo.collect.errors import IdempotencyKeyReused, RequestInProgress
from servinfo.collect.idempotency import Claim, IdempotencyStore, StoredAnswer
from servinfo.deployment import open_deployment
from servinfo.store.engines import WRITE_OPTION, write_transaction


def test_a_retried_record_returns_the_first_answer_and_stores_once(world: IngestWorld) -> None:
    first = world.post("identity", login(ip_address="192.0.2.1"), key="k-1")
    again = world.post("identity", login(ip_address="192.0.2.1"), key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert world.count() == 1


def test_a_stored_record_is_answered_in_the_commit_of_its_audit_entry(
    world: IngestWorld,
) -> None:
    """Two control-database write commits a keyed record: the claim, then answer and audit."""
    world.post("identity", login(ip_address="192.0.2.1"), key="k-warm")  # policy, keys, salts
    control = world.deployment.control
    writes: list[Connection] = []

    def count_writes(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            writes.append(connection)

    event.listen(control, "commit", count_writes)
    try:
        answer = world.post("identity", login(ip_address="192.0.2.7"), key="k-commit")
    finally:
        event.remove(control, "commit", count_writes)
    assert answer.status_code == 201, answer.text
    assert len(writes) == 2
    entry = world.deployment.audit.tail(1)[0]
    assert entry.action == "write"
    assert entry.record_ids == (answer.json()["id"],)
    replay = world.post("identity", login(ip_address="192.0.2.7"), key="k-commit")
    assert replay.json() == answer.json()
    assert world.count() == 2


def test_a_refusal_is_replayed_too(world: IngestWorld) -> None:
    first = world.post("identity", login(subject="sub-nobody"), key="k-2")
    again = world.post("identity", login(subject="sub-nobody"), key="k-2")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_422(world: IngestWorld) -> None:
    world.post("identity", login(ip_address="192.0.2.1"), key="k-3")
    other = world.post("identity", login(ip_address="192.0.2.2"), key="k-3")
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert world.count() == 1


def test_keys_belong_to_their_principal(world: IngestWorld) -> None:
    assert world.post("identity", login(), key="shared").status_code == 201
    assert world.post("platform", usage(), key="shared").status_code == 201
    assert world.count() == 2


def test_an_invalid_key_is_400(world: IngestWorld) -> None:
    answer = world.post("identity", login(), key="has space")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_idempotency_key"


def _batch_is_idempotent_across_workers_and_restarts(path: Path, tokens: dict[str, str]) -> None:
    body = ndjson([usage(), usage(quantity="x"), usage(subject="sub-bob")])
    with ingest_world(path, tokens) as one, ingest_world(path, tokens) as two:
        first = one.batch("platform", body, key="batch-1")
        assert first.status_code == 200, first.text
        assert len(first.json()["accepted"]) == 2
        # Another worker process over the same databases.
        second = two.batch("platform", body, key="batch-1")
        assert second.json() == first.json()
        counts = one.count("eu"), one.count("us")
    # A restart: a new deployment object and app.
    with ingest_world(path, tokens) as restarted:
        third = restarted.batch("platform", body, key="batch-1")
        assert third.json() == first.json()
        assert (restarted.count("eu"), restarted.count("us")) == counts == (1, 1)


def test_a_batch_is_idempotent_across_workers_and_restarts(
    deployment_dir: Path, template: tuple[Path, dict[str, str]]
) -> None:
    _batch_is_idempotent_across_workers_and_restarts(deployment_dir, dict(template[1]))


@pytest.mark.postgres
def test_a_batch_is_idempotent_on_postgresql(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    tokens = populate(tmp_path / "deployment", postgres_databases.url_template)
    _batch_is_idempotent_across_workers_and_restarts(tmp_path / "deployment", tokens)


@pytest.mark.postgres
def test_batches_with_bad_lines_on_postgresql(postgres_world: IngestWorld) -> None:
    body = ndjson([usage(), b"{", usage(subject="sub-nobody"), *[usage()] * 1500])
    answer = postgres_world.batch("platform", body)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["accepted"]) == 1501
    assert [r["line"] for r in answer.json()["rejected"]] == [2, 3]
    assert postgres_world.count() == 1501


class _Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_store_claims_replays_takes_over_and_expires(world: IngestWorld) -> None:
    clock = _Clock()
    store = IdempotencyStore(world.deployment.control, dt.timedelta(hours=1), wait=0.0, clock=clock)
    claim = store.begin("p1", "key", "hash-a")
    assert isinstance(claim, Claim)
    # A racing request with the same key waits, then hears "in progress".
    with pytest.raises(RequestInProgress):
        store.begin("p1", "key", "hash-a")
    with pytest.raises(IdempotencyKeyReused):
        store.begin("p1", "key", "hash-b")
    # The owner died after committing some lines: after the lease, a retry resumes.
    with write_transaction(world.deployment.control) as connection:
        store.progress_in(connection, claim, 1000, {"done_lines": 1000})
    clock.now += dt.timedelta(minutes=1)
    resumed = store.begin("p1", "key", "hash-a")
    assert isinstance(resumed, Claim)
    assert (resumed.done_lines, resumed.partial) == (1000, {"done_lines": 1000})
    store.finish(resumed, 200, {"accepted": []})
    assert store.begin("p1", "key", "hash-a") == StoredAnswer(200, {"accepted": []})
    # Expired keys are free again.
    clock.now += dt.timedelta(hours=2)
    assert isinstance(store.begin("p1", "key", "hash-b"), Claim)


def test_an_abandoned_claim_without_progress_is_released(world: IngestWorld) -> None:
    store = IdempotencyStore(world.deployment.control, dt.timedelta(hours=1), wait=0.0)
    claim = store.begin("p1", "key", "hash")
    assert isinstance(claim, Claim)
    store.abandon(claim)
    assert isinstance(store.begin("p1", "key", "hash"), Claim)


def test_two_apps_share_keys(world: IngestWorld) -> None:
    other = open_deployment(world.deployment.settings.data_dir, {})
    with TestClient(create_app(other)) as client:
        first = world.post("identity", login(), key="k-9")
        again = client.post("/v1/records", json=login(), headers=world.headers("identity", "k-9"))
        assert again.json() == first.json()
    assert world.count() == 1
