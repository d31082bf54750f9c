"""What happens around every request: rate limits, body limits, the request count, the access log.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
``BaseHTTPMiddleware`` runs the app in a task of its own and copies the body
through a memory stream, which cost more CPU than a small ingest request's
own work.

Before the app sees a request, in order:

1. a route that needs no token takes its turn from the rate limits
   (:mod:`servinfo.api.ratelimit`): 429 ``rate_limited``;
2. a declared ``Content-Length`` over the route's body limit: 413;
3. a body sent to a route that needs a token, without ``Authorization:
   Bearer``: 401 ``unauthenticated``, before a byte of it is read;
4. the app reads the body through :class:`~servinfo.api.limits.CountedBody`,
   which cuts it at the limit, chunked or not (413).

An answer given before the whole body was read closes the connection, so that
the server does not go on reading (and throwing away) the rest of it.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servinfo.access.errors import ASK_FOR_BEARER, Unauthenticated
from servinfo.api.errors import error_response
from servinfo.api.limits import (
    BodyLimits,
    BodyTooLarge,
    ConnectionTimeouts,
    CountedBody,
    route_path,
)
from servinfo.api.metrics import REQUESTS
from servinfo.api.ratelimit import RateLimiter, client_key
from servinfo.config import Settings

__all__ = ["GuardAndCount", "body_limits", "connection_timeouts", "rate_limiter"]

access_logger = logging.getLogger("servinfo.access_log")

_CLOSE = (b"connection", b"close")


def body_limits(settings: Settings) -> BodyLimits:
    """The deployment's body limits; the ingest routes (the collect router's) stream theirs."""
    from servinfo.collect.routes import router as ingest

    paths = frozenset(getattr(route, "path", "") for route in ingest.routes)
    return BodyLimits(settings.max_request_bytes, settings.max_body_bytes, paths)


def rate_limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(settings.rate_per_address_per_minute, settings.rate_per_target_per_minute)


def connection_timeouts(settings: Settings) -> ConnectionTimeouts:
    return ConnectionTimeouts(
        header=settings.header_timeout_seconds,
        body=settings.body_timeout_seconds,
        keepalive=settings.keepalive_timeout_seconds,
    )


class GuardAndCount:
    """Guard each request (above); count and log each answer by route."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, rates: RateLimiter) -> None:
        self.app = app
        self.limits = limits
        self.rates = rates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if the app fails before it answers, the server answers 500
        path = route_path(scope)
        limit, route_cuts = self.limits.of(path)
        body = CountedBody(receive, limit, route_cuts=route_cuts)
        declared, chunked, bearer = _read_headers(scope)
        has_body = chunked or bool(declared)
        started = False

        async def send_counted(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                if has_body and not body.complete:
                    message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        try:
            refusal = self._refusal(scope, path, limit, declared, has_body, bearer)
            if refusal is not None:
                await refusal(scope, receive, send_counted)
                return
            try:
                # A request without a body (a read) has nothing to count.
                await self.app(scope, body if has_body else receive, send_counted)
            except BodyTooLarge:
                # Answered by the app's own handler when the app lets it through; a
                # backstop for code that reads the body outside a route.
                if started:
                    raise
                await _too_large(limit, path)(scope, receive, send_counted)
        finally:
            # The route template (/v1/subjects/{subject_id}/records), never the raw
            # path: paths carry subject ids, which stay out of logs and metrics.
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(template, str(status)).inc()
            access_logger.info("%s %s %d", scope["method"], template, status)

    def _refusal(
        self,
        scope: Scope,
        path: str,
        limit: int,
        declared: int | None,
        has_body: bool,
        bearer: bool,
    ) -> ASGIApp | None:
        """The answer that refuses the request before the app sees it, if any."""
        opened = self.rates.open_route(scope["method"], path)
        if opened is not None:
            route, target = opened
            refused = self.rates.check(route, target, client_key(scope.get("client")))
            if refused is not None:
                from servinfo.rights.drp.routes import drp_error, is_drp_path

                answer = (
                    drp_error(429, refused.detail)
                    if is_drp_path(path)
                    else error_response(429, "rate_limited", refused.detail)
                )
                answer.headers["Retry-After"] = str(refused.retry_after)
                return answer
        if declared is not None and (declared < 0 or declared > limit):
            return _too_large(limit, path)
        if has_body and opened is None and not bearer:
            return error_response(Unauthenticated.http_status, Unauthenticated.code, ASK_FOR_BEARER)
        return None


def _too_large(limit: int, path: str) -> ASGIApp:
    from servinfo.rights.drp.routes import drp_error, is_drp_path

    detail = str(BodyTooLarge(limit).detail)
    if is_drp_path(path):  # the agents' endpoints answer the protocol's error object
        return drp_error(413, detail)
    return error_response(413, "payload_too_large", detail)


def _read_headers(scope: Scope) -> tuple[int | None, bool, bool]:
    """The declared length (-1 if unreadable), whether the body is chunked, whether a bearer
    token is sent."""
    declared: int | None = None
    chunked = bearer = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"authorization":
            bearer = value[:7].lower() == b"bearer " and bool(value[7:].strip())
    return declared, chunked, bearer
