"""servinfo.client against a real uvicorn server over TLS on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.collect.world import login, ndjson, usage
from typer.testing import CliRunner

from servinfo.api import create_app
from servinfo.cli.app import app
from servinfo.client import Client, Refused, Unavailable
from servinfo.deployment import Deployment, open_deployment


class LoseFirstAnswers:
    """Test-only middleware: processes the first ``n`` batch requests, then answers 503.

    What a client sees when the server stored the batch but the answer was lost.
    """

    def __init__(self, app: ASGIApp, n: int) -> None:
        self.app = app
        self.left = n

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.left <= 0 or not scope["path"].startswith("/v1/records"):
            await self.app(scope, receive, send)
            return
        self.left -= 1

        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Server:
    url: str
    cert: str
    deployment: Deployment
    middleware: LoseFirstAnswers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(deployment_dir: Path) -> Iterator[Server]:
    deployment = open_deployment(deployment_dir, {})
    middleware = LoseFirstAnswers(create_app(deployment), 0)
    port = _free_port()
    config = uvicorn.Config(
        middleware,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(deployment.settings.tls_cert_file),
        ssl_keyfile=str(deployment.settings.tls_key_file),
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.started, "uvicorn did not start"
    try:
        yield Server(
            f"https://127.0.0.1:{port}",
            str(deployment.settings.tls_cert_file),
            deployment,
            middleware,
        )
    finally:
        running.should_exit = True
        thread.join(10)
        deployment.close()


def _count(deployment: Deployment) -> int:
    from sqlalchemy import text

    with deployment.regions["eu"].connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM records")).scalar_one())


def test_send_and_send_many_over_tls(server: Server, template: tuple[Path, dict[str, str]]) -> None:
    tokens = template[1]
    with Client(server.url, tokens["identity"], verify=server.cert) as client:
        answer = client.send(login(ip_address="198.51.100.4"))
        assert answer["type"] == "record"
    with Client(server.url, tokens["platform"], verify=server.cert, batch_size=2) as client:
        summary = client.send_many([usage(), usage(quantity="x"), usage(), usage()])
    assert summary.batches == 2
    assert summary.lines == 4
    assert summary.accepted == 3
    assert [(r.line, r.error) for r in summary.rejected] == [(2, "schema_violation")]
    assert _count(server.deployment) == 4


def test_a_retry_after_a_lost_answer_stores_once(
    server: Server, template: tuple[Path, dict[str, str]]
) -> None:
    server.middleware.left = 2  # the first two answers are lost after the batch was stored
    with Client(server.url, template[1]["platform"], verify=server.cert, backoff=0.01) as client:
        summary = client.send_many([usage(), usage()])
        assert summary.accepted == 2
    assert _count(server.deployment) == 2


def test_resending_a_list_after_unavailable_stores_nothing_twice(
    server: Server, template: tuple[Path, dict[str, str]]
) -> None:
    # The first batch is stored but its answer is lost; the client gives up at
    # once and the caller sends the whole list again.
    records = [usage(quantity=n) for n in range(5)]
    server.middleware.left = 1
    token = template[1]["platform"]
    with Client(server.url, token, verify=server.cert, batch_size=2, retries=0) as client:
        with pytest.raises(Unavailable):
            client.send_many(records)
        summary = client.send_many(records)
    assert (summary.batches, summary.accepted, summary.rejected) == (3, 5, [])
    assert _count(server.deployment) == 5


def test_a_caller_key_makes_a_resend_safe_and_a_changed_list_refused(
    server: Server, template: tuple[Path, dict[str, str]]
) -> None:
    server.middleware.left = 2  # both batches stored, both answers lost
    token = template[1]["platform"]
    with Client(server.url, token, verify=server.cert, batch_size=1, retries=0) as client:
        for _ in range(2):
            with pytest.raises(Unavailable):
                client.send_many([usage(quantity=1), usage(quantity=2)], key="usage-run-7")
        summary = client.send_many([usage(quantity=1), usage(quantity=2)], key="usage-run-7")
        assert summary.accepted == 2
        with pytest.raises(Refused) as refused:
            client.send_many([usage(quantity=3)], key="usage-run-7")
    assert refused.value.error == "idempotency_key_reused"
    assert _count(server.deployment) == 2


def test_ingest_through_the_api_run_twice_stores_each_line_once(
    server: Server, template: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    file = tmp_path / "usage.ndjson"
    file.write_bytes(ndjson([usage(quantity=n) for n in range(5)]))
    command = ["ingest", str(file), "--url", server.url, "--cacert", server.cert, "--chunk", "2"]
    command += ["--token", template[1]["platform"], "--json"]
    for _ in range(2):  # the second run as after a failure the operator could not place
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["accepted"] == 5
    assert _count(server.deployment) == 5


def test_4xx_is_not_retried(server: Server, template: tuple[Path, dict[str, str]]) -> None:
    client = Client(server.url, template[1]["platform"], verify=server.cert)
    with client, pytest.raises(Refused) as refused:
        client.send(login())
    assert refused.value.status == 403
    assert refused.value.error == "not_your_kind"


def test_an_unreachable_server_gives_up(template: tuple[Path, dict[str, str]]) -> None:
    slept: list[float] = []
    with (
        Client(
            f"https://127.0.0.1:{_free_port()}", "svi_x", retries=2, sleep=slept.append
        ) as client,
        pytest.raises(Unavailable),
    ):
        client.send(usage())
    assert len(slept) == 2


def test_the_certificate_is_verified(server: Server) -> None:
    with Client(server.url, "svi_x", retries=0) as client, pytest.raises(Unavailable):
        client.send(usage())
