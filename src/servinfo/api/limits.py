"""Request bodies are counted as they arrive and cut at a limit, before anything parses them.

FastAPI reads and parses a route's JSON body before it resolves the route's
dependencies, authentication among them: a body sent chunked (with no
Content-Length to refuse up front) used to be read to its end, hundreds of
megabytes into a worker's memory, whoever sent it. So the application's
middleware (:mod:`servinfo.api.middleware`) hands the app a ``receive`` that
counts the bytes of the body (:class:`CountedBody`) and raises
:class:`BodyTooLarge`, answered 413 ``payload_too_large``, the moment the
count passes the route's limit, whatever the transfer encoding.

Two limits (:class:`BodyLimits`): the ingest routes (``/v1/records``,
``/v1/records:batch``) take ``limits.max_body_bytes`` and cut their streams
themselves, so that a batch cut short still answers which of its lines were
processed (see :mod:`servinfo.collect.routes`); for them the count is a
backstop that refuses only a read past the limit. Every other route takes
``limits.max_request_bytes``: the largest of their legitimate bodies is a
rectification request's corrected fields: part of one record, itself at most
``limits.max_record_bytes`` (1 MiB by default, as this limit).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

__all__ = [
    "TIMEOUTS_STATE_KEY",
    "BodyLimits",
    "BodyTooLarge",
    "ConnectionTimeouts",
    "CountedBody",
    "route_path",
]


class BodyTooLarge(HTTPException):
    """A body passed its route's limit: answered 413 ``payload_too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body exceeds the limit of {limit} bytes")


def route_path(scope: Scope) -> str:
    """The path the router matches: without the prefix a proxy mounts the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


@dataclass(frozen=True)
class BodyLimits:
    """The body limit of each route, in bytes."""

    #: Every route but the streamed ones.
    default: int
    #: The ingest routes, which read their streams themselves.
    streamed: int
    streamed_paths: Collection[str]

    def of(self, path: str) -> tuple[int, bool]:
        """The limit of ``path``, and whether its route cuts the body itself."""
        if path in self.streamed_paths:
            return self.streamed, True
        return self.default, False


class CountedBody:
    """The app's ``receive``: the request's messages, counted and cut at ``limit``.

    ``route_cuts`` leaves the message that passes the limit to the route, which
    answers in its own way (a batch lists the lines it processed); asking for
    more after it is refused all the same.
    """

    __slots__ = ("_receive", "complete", "limit", "route_cuts", "size")

    def __init__(self, receive: Receive, limit: int, *, route_cuts: bool) -> None:
        self._receive = receive
        self.limit = limit
        self.route_cuts = route_cuts
        self.size = 0
        #: The last of the body has been read (or there was none to read).
        self.complete = False

    async def __call__(self) -> Message:
        if self.size > self.limit:
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.size > self.limit and not self.route_cuts:
                raise BodyTooLarge(self.limit)
        return message


#: The lifespan state key under which the application hands its connection timeouts to
#: the HTTP protocol (:mod:`servinfo.api._protocol`), in each worker.
TIMEOUTS_STATE_KEY = "servinfo.connection_timeouts"


@dataclass(frozen=True)
class ConnectionTimeouts:
    """How long a connection may take, in seconds (``server.*_timeout_seconds``)."""

    #: From a request's first byte (or the connection's opening) to its last header.
    header: float = 10
    #: Between two pieces of a body, while the server is ready to read.
    body: float = 30
    #: An idle connection kept alive between requests.
    keepalive: float = 5
