"""The witness over HTTP: each status code of tlog-witness, its media types, the body limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient
from tests.witness.support import SyntheticLog, origin_hash

from servinfo.audit.note import Ed25519NoteSigner, parse_vkey
from servinfo.audit.witness_protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    parse_cosignatures,
)
from servinfo.witness.app import create_app
from servinfo.witness.service import Witness
from servinfo.witness.store import WitnessStore


@pytest.fixture
def client(witness: Witness) -> Iterator[TestClient]:
    with TestClient(create_app(witness, max_body_bytes=64 * 1024)) as test_client:
        yield test_client


def _post(client: TestClient, request: AddCheckpointRequest | bytes) -> tuple[int, str, bytes]:
    body = request if isinstance(request, bytes) else request.to_bytes()
    answer = client.post("/add-checkpoint", content=body)
    return answer.status_code, answer.headers.get("content-type", ""), answer.content


def test_200_carries_the_cosignature_lines(client: TestClient, log: SyntheticLog) -> None:
    status, media_type, body = _post(client, log.request(0))
    assert status == 200
    assert media_type.startswith("text/plain")
    assert body.endswith(b"\n")
    assert body.count("— ".encode()) == 2
    assert len(parse_cosignatures(body)) == 2


def test_400_for_a_body_that_is_not_a_request(client: TestClient) -> None:
    status, media_type, body = _post(client, b"old 01\n\n")
    assert status == 400
    assert media_type.startswith("text/plain")
    assert body.endswith(b"\n")


def test_400_for_an_old_size_above_the_checkpoints(client: TestClient, log: SyntheticLog) -> None:
    assert _post(client, AddCheckpointRequest(11, (), log.signed(10)))[0] == 400


def test_403_for_a_checkpoint_no_trusted_key_signed(client: TestClient, log: SyntheticLog) -> None:
    impostor = Ed25519NoteSigner(log.origin, Ed25519PrivateKey.generate())
    assert _post(client, AddCheckpointRequest(0, (), log.signed(signer=impostor)))[0] == 403


def test_404_for_an_unknown_origin(client: TestClient) -> None:
    assert _post(client, SyntheticLog("log.example/other").append(1).request(0))[0] == 404


def test_409_answers_the_size_last_cosigned_as_text_x_tlog_size(
    client: TestClient, log: SyntheticLog
) -> None:
    assert _post(client, log.request(0))[0] == 200
    log.append(3)
    status, media_type, body = _post(client, log.request(5))
    assert (status, media_type, body) == (409, SIZE_CONTENT_TYPE, b"10\n")


def test_422_for_a_fork_and_for_a_bad_proof(client: TestClient, log: SyntheticLog) -> None:
    assert _post(client, log.request(0))[0] == 200
    assert _post(client, log.fork(4).append(6).request(10, proof=()))[0] == 422
    log.append(2)
    assert _post(client, log.request(10, proof=(bytes(32),)))[0] == 422


def test_503_when_the_state_stays_locked(
    client: TestClient, witness: Witness, log: SyntheticLog
) -> None:
    witness.store = WitnessStore(witness.store.path, busy_timeout=0.05)
    holder = sqlite3.connect(witness.store.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        status, _, body = _post(client, log.request(0))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (status, body) == (503, b"the witness state stayed locked for 0.05 s; retry\n")
    assert _post(client, log.request(0))[0] == 200


def test_413_for_a_body_past_the_limit_declared_or_streamed(client: TestClient) -> None:
    assert _post(client, b"old 0\n" + b"A" * (64 * 1024))[0] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(80):
            yield b"A" * 1024

    assert client.post("/add-checkpoint", content=chunks()).status_code == 413


def test_only_post_is_allowed_on_add_checkpoint(client: TestClient) -> None:
    assert client.get("/add-checkpoint").status_code == 405


def test_the_root_lists_the_witness_keys(client: TestClient, witness: Witness) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    vkeys = answer.text.split()
    assert vkeys == witness.vkeys()
    assert [parse_vkey(v).name for v in vkeys] == [witness.name] * 2


def test_monitors_read_the_last_cosigned_checkpoint(
    client: TestClient, witness: Witness, log: SyntheticLog
) -> None:
    path = f"/{origin_hash(log.origin)}/checkpoint"
    assert client.get(path).status_code == 404
    assert _post(client, log.request(0))[0] == 200
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.content == witness.latest(log.origin)
    assert client.get(f"/{origin_hash('log.example/other')}/checkpoint").status_code == 404
    assert client.get("/NOT-A-HASH/checkpoint").status_code == 404
