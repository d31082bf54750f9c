"""What happens around every request: the body-size guard, the request count, the access log.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
``BaseHTTPMiddleware`` runs the app in a task of its own and copies the body
through a memory stream, which cost more CPU than a small ingest request's
own work.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servinfo.api.errors import error_response
from servinfo.api.metrics import REQUESTS

access_logger = logging.getLogger("servinfo.access_log")


class GuardAndCount:
    """Refuse a declared body over ``limit`` (413); count and log each answer by route."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if the app fails before it answers, the server answers 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self._declared_too_large(scope):
                response = error_response(
                    413, "payload_too_large", f"the body exceeds the limit of {self.limit} bytes"
                )
                await response(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            # The route template (/v1/subjects/{subject_id}/records), never the raw
            # path: paths carry subject ids, which stay out of logs and metrics.
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(template, str(status)).inc()
            access_logger.info("%s %s %d", scope["method"], template, status)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.limit
        return False
