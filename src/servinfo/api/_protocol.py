"""uvicorn's HTTP/1.1 protocol on httptools, with ``TCP_NODELAY`` set on every connection.

With several workers uvicorn binds the listening socket itself, as
``socket.socket(family=…)``, whose protocol number is 0; asyncio sets
``TCP_NODELAY`` only on sockets whose protocol is ``IPPROTO_TCP``, so every
accepted connection kept Nagle's algorithm on. A response leaves in two
writes (head, then body), and the body then waited for the client's delayed
ACK: ~40 ms a request, which capped each keep-alive connection at ~23
requests a second. One worker was not affected (asyncio binds that socket).

The parser is httptools (llhttp, in C) rather than the pure-Python h11: with
uvloop's event loop it halved the server's CPU for a small request.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["NoDelayHttpToolsProtocol"]


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
