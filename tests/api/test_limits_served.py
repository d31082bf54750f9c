"""A real ``servinfo serve`` on loopback: oversized bodies, slow clients, idle connections.

Raw sockets, so that the test controls every byte and sees when the server
cuts: an HTTP client library would finish its request before reading.
The server runs one worker: its process is the worker whose memory is measured.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.serving import Served, serving

from servinfo.deployment import create_deployment

pytestmark = pytest.mark.slow

#: The timeouts the served deployment is given (seconds), and the slack a loaded
#: machine may add before a timer fires and the socket sees it.
TIMEOUT = 1
SLACK = 2.5
REQUEST_LIMIT = 1024 * 1024  # limits.max_request_bytes by default
MIB = 1024 * 1024


def _set(text: str, section: str, key: str, value: int) -> str:
    line = f"{key} = {value}"
    if re.search(rf"^{key} = ", text, flags=re.M):
        return re.sub(rf"^{key} = .*$", line, text, flags=re.M)
    return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("limits")
    data_dir = root / "deployment"
    create_deployment(data_dir, {})
    config = data_dir / "servinfo.toml"
    text = config.read_text()
    for key in ("header_timeout_seconds", "body_timeout_seconds", "keepalive_timeout_seconds"):
        text = _set(text, "server", key, TIMEOUT)
    config.write_text(text)
    with serving(data_dir, root / "serve.log", workers=1) as server:
        yield server


def _port(served: Served) -> int:
    return int(served.url.rsplit(":", 1)[1])


def _connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", _port(served)), timeout=10)


def _until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, float | None]:
    """What the server sends until it closes; when it closed (None: still open at deadline)."""
    received = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return received, None
        except ConnectionResetError:
            return received, time.monotonic()
        if not data:
            return received, time.monotonic()
        received += data


# -- timeouts --------------------------------------------------------------------------


def test_unfinished_headers_are_answered_408_and_closed(served: Served) -> None:
    """The slowloris case: 500 connections that never finish their headers."""
    sockets = [_connect(served) for _ in range(500)]
    started = time.monotonic()
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: servinfo\r\nX-Slow: a")
    results = [_until_closed(sock, started + TIMEOUT + SLACK) for sock in sockets]
    for sock in sockets:
        sock.close()
    assert all(closed is not None for _, closed in results)
    for received, _ in results:
        assert received.startswith(b"HTTP/1.1 408 "), received[:200]
        assert b'"error": "request_timeout"' in received


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        received, closed = _until_closed(sock, time.monotonic() + TIMEOUT + SLACK)
    assert closed is not None
    assert received == b""


def test_a_body_that_stops_is_answered_408_and_closed(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"POST /v1/requests/req-1/verify HTTP/1.1\r\nHost: servinfo\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"code": '
        )
        received, closed = _until_closed(sock, time.monotonic() + TIMEOUT + SLACK)
    assert closed is not None
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]


def test_a_slow_but_steady_body_is_served(served: Served) -> None:
    """The body timeout is a pause between pieces, not a time for the whole body."""
    body = b'{"code": "ABCDEF"}'
    with _connect(served) as sock:
        sock.sendall(
            b"POST /v1/requests/req-1/verify HTTP/1.1\r\nHost: servinfo\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for byte in range(len(body)):  # 18 pieces over about 3.6 s
            time.sleep(TIMEOUT / 5)
            sock.sendall(body[byte : byte + 1])
        received, closed = _until_closed(sock, time.monotonic() + 10)
    assert closed is not None
    # No such request: it fails like a wrong code (an unknown address's reference must).
    assert received.startswith(b"HTTP/1.1 403 "), received[:200]


def test_an_idle_kept_alive_connection_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: servinfo\r\n\r\n")
        answered = time.monotonic()
        received, closed = _until_closed(sock, answered + TIMEOUT + SLACK)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert closed is not None


def test_endless_headers_are_refused_431_early(served: Served) -> None:
    """The parser keeps an unfinished header in memory: 64 MiB of one were all held."""
    baseline = _rss_bytes(served.pid)
    sent = 0
    with _connect(served) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: servinfo\r\nX-Long: ")
        piece = b"a" * 65536
        try:
            while sent < 64 * MIB:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received, closed = _until_closed(sock, time.monotonic() + 10)
    grown = _rss_bytes(served.pid) - baseline
    print(f"{sent / MIB:.1f} MiB of header sent; RSS grew {grown / MIB:.1f} MiB")
    assert received.startswith(b"HTTP/1.1 431 "), received[:200]
    assert b'"error": "headers_too_large"' in received
    assert closed is not None
    assert sent < 64 * MIB
    assert _rss_bytes(served.pid) - baseline < 16 * MIB


# -- an oversized body, and the worker's memory --------------------------------------


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _receive_buffer_max() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 6 * MIB


def _send_chunked(served: Served, path: str, headers: bytes, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes chunked, made as they go; the answer, and the bytes sent before it."""
    piece = b"[" + b"1234567," * (8191) + b"1234567"  # 64 KiB of a JSON array's start
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sock = _connect(served)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.sendall(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: servinfo\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + headers + b"\r\n"
    )
    sock.setblocking(False)
    pending, sent, answer = memoryview(b""), 0, b""
    sent_at_answer: int | None = None
    finished = ended = False
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        deadline = time.monotonic() + 300
        while not finished and time.monotonic() < deadline:
            for key, events in selector.select(timeout=1):
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except (ConnectionResetError, BlockingIOError):
                        data = b""
                    if sent_at_answer is None and data:
                        sent_at_answer = sent
                    answer += data
                    finished = not data or b"\r\n\r\n" in answer
                if not events & selectors.EVENT_WRITE or sent_at_answer is not None:
                    continue
                if not pending:
                    if ended:
                        selector.modify(key.fileobj, selectors.EVENT_READ)
                        continue
                    ended = sent >= total
                    pending = memoryview(b"0\r\n\r\n" if ended else chunk)
                try:
                    pending = pending[sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):
                    selector.modify(key.fileobj, selectors.EVENT_READ)
                    continue
                if not pending and not ended:
                    sent += len(piece)
    sock.close()
    return answer, sent if sent_at_answer is None else sent_at_answer


INGEST_LIMIT = 16 * MIB  # limits.max_body_bytes by default
BOGUS = b"Authorization: Bearer not-a-token\r\n"


@pytest.mark.parametrize(
    ("path", "authorization", "status", "limit"),
    [
        ("/v1/decisions", b"", b"401", 0),
        ("/v1/decisions", BOGUS, b"413", REQUEST_LIMIT),
        ("/v1/records", BOGUS, b"413", INGEST_LIMIT),
    ],
    ids=["no token", "a bogus token", "ingest, a bogus token"],
)
def test_an_oversized_chunked_body_is_cut_and_memory_returns_to_its_baseline(
    served: Served, path: str, authorization: bytes, status: bytes, limit: int
) -> None:
    """200 MB chunked to /v1/decisions was read to its end, and a worker's memory grew by
    hundreds of megabytes and stayed there; now at most the limit is read (plus what the
    kernel's buffers held), and memory returns to where it was."""
    _send_chunked(served, path, authorization, 2 * limit + MIB)  # warm the code paths
    time.sleep(0.5)
    baseline = _rss_bytes(served.pid)
    answer, sent = _send_chunked(served, path, authorization, 200 * 1000 * 1000)
    time.sleep(0.5)
    after = _rss_bytes(served.pid)
    print(
        f"{path} {authorization!r}: {sent / MIB:.1f} MiB sent before the answer; "
        f"RSS {baseline / MIB:.1f} MiB before, {after / MIB:.1f} MiB after"
    )
    answered = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else answer[:100]
    assert answered == status, answer[:300]
    assert sent <= limit + _receive_buffer_max() + MIB
    assert after - baseline < 8 * MIB


def test_a_local_client_cannot_choose_its_address_with_x_forwarded_for(served: Served) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: each request naming
    another address would have had a bucket of its own. No proxy is trusted unless
    ``server.trusted_proxies`` names it."""
    statuses = []
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for n in range(200):
            headers = {"X-Forwarded-For": f"198.51.100.{n % 250}"}
            statuses.append(client.get("/healthz", headers=headers).status_code)
    assert 429 in statuses
