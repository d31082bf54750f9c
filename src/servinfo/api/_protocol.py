"""uvicorn's HTTP/1.1 protocol on httptools, with ``TCP_NODELAY`` and connection timeouts.

No delay. With several workers uvicorn binds the listening socket itself, as
``socket.socket(family=…)``, whose protocol number is 0; asyncio sets
``TCP_NODELAY`` only on sockets whose protocol is ``IPPROTO_TCP``, so every
accepted connection kept Nagle's algorithm on. A response leaves in two
writes (head, then body), and the body then waited for the client's delayed
ACK: ~40 ms a request, which capped each keep-alive connection at ~23
requests a second. One worker was not affected (asyncio binds that socket).

Timeouts. uvicorn closes a kept-alive connection that stays idle, but nothing
else: a client that sends its request headers a byte at a time, or stops in
the middle of a body, held its connection (and the request's memory) for as
long as it liked; 500 such connections were held for 40 s and more. Here:

- the headers of a request must be complete ``server.header_timeout_seconds``
  after the connection opened or the request's first byte arrived;
- a body may pause at most ``server.body_timeout_seconds`` between two of its
  pieces, counted only while the server is ready to read (while the app is
  busy with what it has, reading is paused, and that is not the client's
  delay);
- an idle kept-alive connection is closed after
  ``server.keepalive_timeout_seconds`` (uvicorn's own timer, set from it).

Header size. The parser keeps an unfinished header in memory as it grows: one
endless header line filled a worker's memory for as long as the header
timeout let it. The bytes a connection sends while its request's headers are
unfinished are counted, and past :data:`MAX_HEADER_BYTES` the request is
answered 431 ``headers_too_large`` and the connection closed.

A late request is answered 408 ``request_timeout`` when it has begun and
nothing was answered yet, and the connection is closed. The application hands
the timeouts over through the lifespan state (``TIMEOUTS_STATE_KEY``), in each
worker; without it (the lifespan off) the defaults apply.

The parser is httptools (llhttp, in C) rather than the pure-Python h11: with
uvloop's event loop it halved the server's CPU for a small request.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from servinfo.api.limits import TIMEOUTS_STATE_KEY, ConnectionTimeouts

__all__ = ["MAX_HEADER_BYTES", "NoDelayHttpToolsProtocol"]

#: The request line and headers of one request, at most (browsers send a few KiB).
MAX_HEADER_BYTES = 64 * 1024


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    _timeouts = ConnectionTimeouts()
    _timer: asyncio.TimerHandle | None = None
    _begun = False
    #: Bytes received while the request's headers are unfinished; None while they are done.
    _header_bytes: int | None = 0
    _last_body = 0.0
    _expects_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        timeouts = self.app_state.get(TIMEOUTS_STATE_KEY)
        if isinstance(timeouts, ConnectionTimeouts):
            self._timeouts = timeouts
        self.timeout_keep_alive = int(self._timeouts.keepalive)
        # A connection that sends nothing is a request whose headers are late.
        self._arm(self._timeouts.header, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_bytes is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._header_bytes is not None and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(
                431, "headers_too_large", f"the request headers exceed {MAX_HEADER_BYTES} bytes"
            )
        elif self._begun and self._timer is None and not self.transport.is_closing():
            # A request left unfinished by what arrived. Timers are set only then: a
            # request that arrives whole (nearly every one) sets none, and cancels none.
            if self._header_bytes is not None:
                self._arm(self._timeouts.header, self._headers_late)
            elif self._expects_body:
                self._last_body = self.loop.time()
                self._arm(self._timeouts.body, self._body_late)

    # -- the parser's callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True

    def on_headers_complete(self) -> None:
        self._disarm()
        self._header_bytes = None
        super().on_headers_complete()
        self._expects_body = _has_body(self.headers)  # a read has no body to wait for

    def on_body(self, body: bytes) -> None:
        self._last_body = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._begun = False
        self._header_bytes = 0
        super().on_message_complete()

    # -- timers ------------------------------------------------------------------------

    def _arm(self, delay: float, late: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        previous = self.cycle
        if self.flow.read_paused or (previous is not None and not previous.response_complete):
            # Pipelined behind a request still being answered: not the client's delay.
            self._arm(self._timeouts.header, self._headers_late)
            return
        detail = f"the request headers did not arrive within {self._timeouts.header:g} s"
        self._time_out(detail if self._begun else None)

    def _body_late(self) -> None:
        self._timer = None
        quiet = self.loop.time() - self._last_body
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # The app has not taken what came, or has not asked for the body that the
            # client holds back until "100 Continue": the server's delay, not the client's.
            self._last_body = self.loop.time()
            self._arm(self._timeouts.body, self._body_late)
            return
        if quiet < self._timeouts.body:
            self._arm(self._timeouts.body - quiet, self._body_late)
            return
        answered = cycle is not None and cycle.response_started
        detail = f"the request body paused for more than {self._timeouts.body:g} s"
        self._time_out(None if answered else detail)

    def _time_out(self, detail: str | None) -> None:
        """Answer 408 with ``detail`` (None: answer nothing) and close the connection."""
        if self.transport.is_closing():
            return
        if detail is None:
            self._close()
        else:
            self._refuse(408, "request_timeout", detail)

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer ``status`` with servinfo's error object, and close the connection."""
        if self.transport.is_closing():
            return
        self._disarm()
        self.transport.write(
            _error_response(self.server_state.default_headers, status, code, detail)
        )
        self._close()

    def _close(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app stops reading (it gets http.disconnect) and its answer is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def _error_response(
    default_headers: list[tuple[bytes, bytes]], status: int, code: str, detail: str
) -> bytes:
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head += [name, b": ", value, b"\r\n"]
    head += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(head)
