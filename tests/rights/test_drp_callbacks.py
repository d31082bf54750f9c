"""The httpx status-callback sender against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from servinfo.rights.drp import HttpxCallbackSender


class _Agent(BaseHTTPRequestHandler):
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
def server() -> Iterator[str]:
    _Agent.received.clear()
    _Agent.answer = 200
    httpd = HTTPServer(("127.0.0.1", 0), _Agent)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_the_status_object_is_posted_as_json(server: str) -> None:
    status = {"request_id": "r-1", "status": "fulfilled", "received_at": "2026-05-04T10:00:00"}
    result = HttpxCallbackSender().send(f"{server}/update_status", status)
    assert (result.delivered, result.detail) == (True, "HTTP 200")
    assert _Agent.received == [("/update_status", "application/json", status)]


def test_a_non_2xx_answer_is_not_delivered(server: str) -> None:
    _Agent.answer = 500
    result = HttpxCallbackSender().send(f"{server}/update_status", {"status": "open"})
    assert (result.delivered, result.detail) == (False, "HTTP 500")


def test_failures_never_raise(server: str) -> None:
    closed = HttpxCallbackSender(timeout=0.5).send("http://127.0.0.1:9/", {"status": "open"})
    assert not closed.delivered
    assert closed.detail == "ConnectError"
    unusable = HttpxCallbackSender().send("not a url", {"status": "open"})
    assert not unusable.delivered
