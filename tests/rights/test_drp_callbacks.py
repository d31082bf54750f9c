"""Status callbacks: where they may go (SSRF), how they are sent, and by which job.

Destinations are checked with a resolver and a transport the test controls:
a refused destination is refused before any request reaches the transport,
and no test connects anywhere but to a receiver on 127.0.0.1, which the
tests that use it allow-list explicitly.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from tests.rights.test_drp import Drp, drp
from tests.rights.world import World

from servinfo.deployment import open_deployment
from servinfo.jobs import Registry, Worker
from servinfo.jobs.kinds import DRP_CALLBACK, DRP_SYNC, servinfo_registry
from servinfo.rights.drp import CallbackRules, HttpxCallbackSender
from servinfo.rights.drp.models import DrpRequestRow

__all__ = ["drp"]  # the fixture, re-exported for this module's tests

_STATUS = {"request_id": "r-1", "status": "fulfilled", "received_at": "2026-05-04T10:00:00+00:00"}
_PUBLIC = "93.184.216.34"


class Resolver:
    """Answers from a table, and counts the questions."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        return self.answers.get(host, [])


class Transport(httpx.MockTransport):
    """Records every request that would have gone out, and answers ``status``."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)
        self._status = status
        self._headers = headers or {}

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self._status, headers=self._headers, content=b"ignored")


def _sender(
    answers: dict[str, list[str]] | None = None, transport: Transport | None = None, **rules: Any
) -> tuple[HttpxCallbackSender, Resolver, Transport]:
    resolver = Resolver(answers or {})
    transport = transport or Transport()
    return (
        HttpxCallbackSender(CallbackRules(**rules), resolver=resolver, transport=transport),
        (resolver),
        transport,
    )


REFUSED: dict[str, tuple[str, list[str], str]] = {
    "loopback address": ("https://127.0.0.1/cb", [], "loopback"),
    "name of a loopback address": ("https://agent.test/cb", ["127.0.0.1"], "loopback"),
    "IPv6 loopback": ("https://[::1]/cb", [], "loopback"),
    "metadata service": ("https://169.254.169.254/latest/meta-data", [], "link-local"),
    "name of the metadata service": ("https://agent.test/cb", ["169.254.169.254"], "link-local"),
    "IPv6 metadata service": ("https://agent.test/cb", ["fd00:ec2::254"], "private"),
    "IPv6 link-local": ("https://agent.test/cb", ["fe80::1"], "link-local"),
    "private 10/8": ("https://agent.test/cb", ["10.0.0.5"], "private"),
    "private 172.16/12": ("https://172.16.3.4/cb", [], "private"),
    "private 192.168/16": ("https://agent.test/cb", ["192.168.1.10"], "private"),
    "carrier-grade NAT": ("https://agent.test/cb", ["100.64.0.1"], "not a public"),
    "multicast": ("https://agent.test/cb", ["224.0.0.1"], "not a unicast"),
    "unspecified": ("https://0.0.0.0/cb", [], "not a unicast"),
    "IPv6 unspecified": ("https://[::]/cb", [], "not a unicast"),
    "IPv4-mapped loopback": ("https://[::ffff:127.0.0.1]/cb", [], "loopback"),
    "IPv4-mapped metadata": ("https://agent.test/cb", ["::ffff:169.254.169.254"], "link-local"),
    "one private address among public ones": (
        "https://agent.test/cb",
        [_PUBLIC, "10.1.1.1"],
        "private",
    ),
    "plain http": ("http://agent.test/cb", [_PUBLIC], "scheme 'http'"),
    "user name in the URL": ("https://user:pw@agent.test/cb", [_PUBLIC], "user name"),
    "another scheme": ("file:///etc/passwd", [], "scheme 'file'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_destinations_are_refused_before_any_connection(case: str) -> None:
    url, addresses, words = REFUSED[case]
    sender, _, transport = _sender({"agent.test": addresses})
    result = sender.send(url, _STATUS)
    assert not result.delivered
    assert result.final
    assert words in result.detail
    assert transport.requests == []


def test_the_request_goes_to_the_checked_address_named_as_the_url() -> None:
    sender, resolver, transport = _sender({"agent.test": [_PUBLIC]})
    result = sender.send("https://agent.test:8443/drp/status?x=1", _STATUS)
    assert (result.delivered, result.detail) == (True, "HTTP 200")
    (request,) = transport.requests
    assert str(request.url) == f"https://{_PUBLIC}:8443/drp/status?x=1"
    assert request.headers["host"] == "agent.test:8443"
    assert request.extensions["sni_hostname"] == "agent.test"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == _STATUS
    assert resolver.asked == ["agent.test"]


def test_a_rebinding_name_is_resolved_once() -> None:
    """A DNS server that answers a public address, then loopback, cannot aim the post."""
    answers = iter([[_PUBLIC], ["127.0.0.1"]])
    transport = Transport()
    asked: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    sender = HttpxCallbackSender(resolver=rebinding, transport=transport)
    assert sender.send("https://agent.test/cb", _STATUS).delivered
    assert asked == ["agent.test"]
    assert [request.url.host for request in transport.requests] == [_PUBLIC]


def test_redirects_are_not_followed() -> None:
    moved = Transport(302, {"Location": "http://127.0.0.1/admin"})
    sender, _, transport = _sender({"agent.test": [_PUBLIC]}, moved)
    result = sender.send("https://agent.test/cb", _STATUS)
    assert (result.delivered, result.detail, result.final) == (False, "HTTP 302", False)
    assert len(transport.requests) == 1


def test_an_unresolvable_name_is_retried_later_not_refused() -> None:
    sender, _, transport = _sender({})
    result = sender.send("https://gone.test/cb", _STATUS)
    assert (result.delivered, result.final) == (False, False)
    assert transport.requests == []


def test_allow_listed_networks_and_plain_http_are_settings() -> None:
    sender, _, transport = _sender(
        {"agent.internal": ["10.1.2.3"]},
        allow_http=True,
        allowed=(ipaddress.ip_network("10.0.0.0/8"),),
    )
    assert sender.send("http://agent.internal/cb", _STATUS).delivered
    assert [str(request.url) for request in transport.requests] == ["http://10.1.2.3/cb"]
    refused = sender.send("http://127.0.0.1/cb", _STATUS)
    assert refused.final
    assert len(transport.requests) == 1


# -- a real receiver on 127.0.0.1, allow-listed -------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []
    answer: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(self.answer)
        self.end_headers()
        self.wfile.write(b"ignored")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received.clear()
    _Receiver.answer = 200
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


_LOOPBACK = CallbackRules(allow_http=True, allowed=(ipaddress.ip_network("127.0.0.1/32"),))


def test_a_real_receiver_gets_the_status_object(receiver: str) -> None:
    result = HttpxCallbackSender(_LOOPBACK).send(f"{receiver}/update_status", _STATUS)
    assert (result.delivered, result.detail) == (True, "HTTP 200")
    assert _Receiver.received == [("/update_status", "application/json", _STATUS)]


def test_a_non_2xx_answer_is_not_delivered(receiver: str) -> None:
    _Receiver.answer = 500
    result = HttpxCallbackSender(_LOOPBACK).send(f"{receiver}/update_status", {"status": "open"})
    assert (result.delivered, result.detail, result.final) == (False, "HTTP 500", False)


def test_failures_never_raise() -> None:
    closed = HttpxCallbackSender(
        CallbackRules(allow_http=True, allowed=_LOOPBACK.allowed, timeout=0.5)
    ).send("http://127.0.0.1:9/", {"status": "open"})
    assert (closed.delivered, closed.detail) == (False, "ConnectError")
    unusable = HttpxCallbackSender().send("not a url", {"status": "open"})
    assert (unusable.delivered, unusable.final) == (False, True)


def _worker(world: World, env: dict[str, str]) -> Worker:
    """A worker of the deployment opened with ``env``: the real ``drp_callback`` job."""
    deployment = open_deployment(world.data_dir, env)
    registry = Registry([servinfo_registry([]).get(DRP_CALLBACK)])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    return Worker(deployment.jobs.queue, registry, deployment=deployment, clock=lambda: later)


def _callback_result(drp: Drp, request_id: str) -> str | None:
    with drp.world.deployment.control.connect() as connection:
        found: str | None = connection.scalar(
            DrpRequestRow.__table__.select()
            .with_only_columns(DrpRequestRow.callback_result)
            .where(DrpRequestRow.request_id == request_id)
        )
    return found


def test_the_worker_posts_to_an_allow_listed_receiver_and_refuses_it_by_default(
    drp: Drp, receiver: str
) -> None:
    url = f"{receiver}/drp/status"
    opened = drp.post(
        drp.agent.sign(drp.agent.exercise("sale:opt-out", status_callback=url))
    ).json()
    assert opened["status"] == "in_progress"
    rid = drp.world.rights.list_requests()[0].request_id
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    assert drp.service.sync() == 1
    assert _Receiver.received == []  # nothing inline

    default = _worker(drp.world, {})
    try:
        job = default.run_one()
        assert job is not None
        assert (job.kind, job.state, job.attempts) == (DRP_CALLBACK, "failed", 1)
        assert _Receiver.received == []
        assert (_callback_result(drp, opened["request_id"]) or "").startswith("refused: ")
        drp.world.deployment.jobs.queue.retry(job.id)
    finally:
        assert default.deployment is not None
        default.deployment.close()

    allowed = _worker(
        drp.world,
        {"SERVINFO_DRP_CALLBACK_ALLOW": "127.0.0.1", "SERVINFO_DRP_CALLBACK_ALLOW_HTTP": "true"},
    )
    try:
        job = allowed.run_one()
        assert job is not None
        assert job.state == "done"
    finally:
        assert allowed.deployment is not None
        allowed.deployment.close()
    ((path, media_type, body),) = _Receiver.received
    assert (path, media_type) == ("/drp/status", "application/json")
    assert body == drp.get(opened["request_id"]).json()
    assert body["status"] == "fulfilled"


def test_the_worker_s_drp_sync_queues_the_callback_of_an_operator_s_change(drp: Drp) -> None:
    """A request processed by an operator reaches the agent with no status read and no cron."""
    opened = drp.post(
        drp.agent.sign(drp.agent.exercise("sale:opt-out", status_callback="https://agent.test/s"))
    ).json()
    assert opened["status"] == "in_progress"
    rid = drp.world.rights.list_requests()[0].request_id
    drp.world.rights.process(rid, actor="dpo", now=drp.clock.now)
    queue = drp.world.deployment.jobs.queue
    assert queue.list(kind=DRP_CALLBACK) == []

    every = servinfo_registry([])
    registry = Registry([every.get(DRP_SYNC)], [s for s in every.schedules if s.kind == DRP_SYNC])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    worker = Worker(queue, registry, deployment=drp.world.deployment, clock=lambda: later)
    ran = worker.run_until_idle()
    assert [(j.kind, j.state, j.result) for j in queue.list(kind=DRP_SYNC)] == [
        (DRP_SYNC, "done", {"changed": 1})
    ], ran
    (callback,) = queue.list(kind=DRP_CALLBACK)
    assert callback.params["request_id"] == opened["request_id"]
