"""Connections of ``servinfo serve`` send without Nagle's delay, with several workers too."""

from __future__ import annotations

import asyncio
import socket

import uvloop
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from servinfo.api._protocol import NoDelayHttpToolsProtocol


async def _app(scope: object, receive: object, send: object) -> None:  # never called
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted_connection(protocol: type[HttpToolsProtocol]) -> int:
    # Bound as uvicorn binds the socket it shares with its workers: protocol number 0.
    listening = socket.socket(family=socket.AF_INET)
    listening.bind(("127.0.0.1", 0))
    config = Config(_app, http=protocol, lifespan="off")
    state = ServerState()
    server = await asyncio.get_running_loop().create_server(
        lambda: protocol(config, state, {}), sock=listening
    )
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname())
        for _ in range(100):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        (accepted,) = state.connections
        sock = accepted.transport.get_extra_info("socket")
        nodelay: int = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return nodelay
    finally:
        server.close()


def test_uvicorns_own_protocol_keeps_nagle_on_a_shared_socket() -> None:
    """The reason for NoDelayHttpToolsProtocol: asyncio skips sockets whose protocol is 0."""
    assert asyncio.run(_nodelay_of_accepted_connection(HttpToolsProtocol)) == 0


def test_servinfo_turns_nagle_off_on_every_connection() -> None:
    assert asyncio.run(_nodelay_of_accepted_connection(NoDelayHttpToolsProtocol)) != 0


def test_servinfo_turns_nagle_off_under_the_loop_it_serves_with() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(_nodelay_of_accepted_connection(NoDelayHttpToolsProtocol)) != 0
