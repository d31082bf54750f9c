"""The body timeout counts the client's delays, never the server's.

servinfo's protocol serves a small ASGI app on loopback, in this process, with
1-second timeouts; the app takes its time before it reads the body. (The
client's own delays, against ``servinfo serve``: test_limits_served.py.)
"""

from __future__ import annotations

import asyncio
import socket

import uvloop
from starlette.types import Receive, Scope, Send
from uvicorn import Config
from uvicorn.server import ServerState

from servinfo.api._protocol import NoDelayHttpToolsProtocol
from servinfo.api.limits import TIMEOUTS_STATE_KEY, ConnectionTimeouts

TIMEOUT = 1.0
#: How long the app waits before it reads: well past the body timeout.
APP_DELAY = 2.5 * TIMEOUT


async def _slow_reader(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer how many body bytes arrived, after a delay before the first read."""
    await asyncio.sleep(APP_DELAY)
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _exchange(head: bytes, body: bytes, *, await_continue: bool) -> bytes:
    listening = socket.socket(family=socket.AF_INET)
    listening.bind(("127.0.0.1", 0))
    config = Config(_slow_reader, lifespan="off")
    config.load()
    timeouts = ConnectionTimeouts(header=TIMEOUT, body=TIMEOUT, keepalive=TIMEOUT)
    server = await asyncio.get_running_loop().create_server(
        lambda: NoDelayHttpToolsProtocol(config, ServerState(), {TIMEOUTS_STATE_KEY: timeouts}),
        sock=listening,
    )
    try:
        reader, writer = await asyncio.open_connection(*listening.getsockname())
        writer.write(head)
        if await_continue:
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert interim.startswith(b"HTTP/1.1 100 "), interim
        writer.write(body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer
    finally:
        server.close()


def _run(head: bytes, body: bytes, *, await_continue: bool = False) -> bytes:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_exchange(head, body, await_continue=await_continue))


def _head(size: int, *extra: bytes) -> bytes:
    lines = [b"POST /x HTTP/1.1", b"Host: servinfo", b"Content-Length: %d" % size, *extra]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""])


def test_a_body_the_app_has_not_read_yet_does_not_time_out() -> None:
    """1 MiB sent at once: the server stops reading after 64 KiB until the app reads."""
    body = b"x" * (1024 * 1024)
    answer = _run(_head(len(body)), body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert answer.endswith(str(len(body)).encode())


def test_a_client_waiting_for_100_continue_does_not_time_out() -> None:
    body = b"y" * 1000
    answer = _run(_head(len(body), b"Expect: 100-continue"), body, await_continue=True)
    assert b"HTTP/1.1 200 " in answer, answer[:200]
    assert answer.endswith(b"1000")
