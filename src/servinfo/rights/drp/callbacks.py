"""Status callbacks (DRP 1.0 section 2.03): the status object, posted to the agent.

:class:`CallbackSender` is the contract; :class:`HttpxCallbackSender` is the
default backend. A sender never raises: a callback is best effort, it must
not fail the request that caused it, so every failure comes back as an
undelivered :class:`CallbackResult` that the service records (and retries on
its next :meth:`~servinfo.rights.drp.service.DrpService.sync`). The body of
the agent's answer is discarded, as the spec says; only a 2xx counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

__all__ = ["CallbackResult", "CallbackSender", "HttpxCallbackSender"]

logger = logging.getLogger("servinfo.rights.drp")


@dataclass(frozen=True)
class CallbackResult:
    delivered: bool
    #: ``HTTP 200``, or what went wrong (never the body of the answer).
    detail: str


class CallbackSender(Protocol):
    def send(self, url: str, status: Mapping[str, Any]) -> CallbackResult:
        """POST ``status`` as JSON to ``url``; never raises."""
        ...


class HttpxCallbackSender:
    """Posts with httpx, a short timeout and no redirects (a redirect is not a 2xx)."""

    def __init__(self, *, timeout: float = 3.0, transport: httpx.BaseTransport | None = None):
        self._timeout = timeout
        self._transport = transport

    def send(self, url: str, status: Mapping[str, Any]) -> CallbackResult:
        try:
            with httpx.Client(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            ) as client:
                answer = client.post(url, json=dict(status))
        # Transport errors, timeouts, and also an unusable URL: never into the caller.
        except Exception as error:
            logger.warning("DRP status callback failed: %s", type(error).__name__)
            return CallbackResult(False, type(error).__name__)
        return CallbackResult(answer.is_success, f"HTTP {answer.status_code}")
