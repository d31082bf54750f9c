"""Status callbacks (DRP 1.0 section 2.03): the status object, posted to the agent.

:class:`CallbackSender` is the contract; :class:`HttpxCallbackSender` is the
default backend. A sender never raises: every failure comes back as an
undelivered :class:`CallbackResult`, ``final`` when trying again cannot help
(a destination servinfo refuses). Callbacks are sent by jobs
(``drp_callback``, :mod:`servinfo.jobs.kinds`), retried with the queue's
backoff — never while an agent or an operator waits.

The agent chose the URL, and the request leaves from the deployment's
network, so :class:`CallbackRules` decide where it may go
(:mod:`servinfo.outbound`): ``https`` only, unless plain ``http`` is allowed;
the host is resolved and *every* address it resolves to must be a public
unicast address — loopback, private, link-local (the metadata service),
carrier-grade NAT, unique-local, multicast, unspecified and the IPv4 inside
mapped IPv6 are refused unless the operator lists their network. The
connection goes to the address that was checked (no second resolution that
a rebinding DNS server could answer differently), with the name kept for the
``Host`` header and TLS. Redirects are not followed; a redirect is not a 2xx.
The body of the agent's answer is discarded, as the spec says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from servinfo.outbound import (
    IPNetwork,
    Pinned,
    Refused,
    Resolver,
    Unresolved,
    checked_addresses,
    parse_networks,
    pinned,
    system_resolver,
)

if TYPE_CHECKING:
    from servinfo.config import Settings

__all__ = [
    "CallbackResult",
    "CallbackRules",
    "CallbackSender",
    "DestinationRefused",
    "HttpxCallbackSender",
]

logger = logging.getLogger("servinfo.rights.drp")
_MAX_URL = 1000


@dataclass(frozen=True)
class CallbackResult:
    delivered: bool
    #: ``HTTP 200``, or what went wrong (never the body of the answer).
    detail: str
    #: Undelivered for good: trying again cannot help.
    final: bool = False


class CallbackSender(Protocol):
    def send(self, url: str, status: Mapping[str, Any]) -> CallbackResult:
        """POST ``status`` as JSON to ``url``; never raises."""
        ...


@dataclass(frozen=True)
class CallbackRules:
    """Where status callbacks may go (settings ``drp.callback_*``)."""

    allow_http: bool = False
    #: Networks reachable though not public (a receiver inside the operator's network).
    allowed: tuple[IPNetwork, ...] = field(default_factory=tuple)
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackRules:
        return cls(
            allow_http=settings.drp_callback_allow_http,
            allowed=parse_networks(settings.drp_callback_allow),
            timeout=float(settings.drp_callback_timeout_seconds),
        )


class DestinationRefused(Exception):
    """A callback URL servinfo does not post to; the message says why."""


class HttpxCallbackSender:
    """Posts with httpx to the checked address: a timeout, no redirects, no proxies."""

    def __init__(
        self,
        rules: CallbackRules | None = None,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.rules = rules or CallbackRules()
        self._resolver = resolver
        self._transport = transport

    def destination(self, url: str) -> Pinned:
        """The request to make for ``url``, or :class:`DestinationRefused` before any connection.

        (1) The URL is ``https`` (``http`` if allowed) with a host and no user name.
        (2) The host is resolved (an address in the URL is taken as it is).
        (3) Every address passes :func:`~servinfo.outbound.address_refusal`.
        (4) The request goes to the first, named as the URL.
        """
        parts = urlsplit(url)
        schemes = ("https", "http") if self.rules.allow_http else ("https",)
        if parts.scheme not in schemes:  # (1)
            raise DestinationRefused(
                f"scheme {parts.scheme!r}, expected {' or '.join(schemes)} "
                "(drp.callback_allow_http)"
            )
        if not parts.hostname or len(url) > _MAX_URL:
            raise DestinationRefused(
                f"expected a URL with a host, of at most {_MAX_URL} characters"
            )
        if parts.username is not None or parts.password is not None:
            raise DestinationRefused("a callback URL carries no user name or password")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise DestinationRefused("the URL's port is not valid") from None
        host = parts.hostname
        try:  # (2) and (3)
            addresses = checked_addresses(host, port, self._resolver, allowed=self.rules.allowed)
        except Refused as refused:
            raise DestinationRefused(f"{host!r} refused: {refused} (drp.callback_allow)") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return pinned(parts.scheme, host, port, parts.netloc, path, addresses[0])  # (4)

    def send(self, url: str, status: Mapping[str, Any]) -> CallbackResult:
        try:
            target = self.destination(url)
        except DestinationRefused as refused:
            logger.warning("DRP status callback refused: %s", refused)
            return CallbackResult(False, f"refused: {refused}", final=True)
        except Unresolved as unresolved:
            cause = unresolved.cause
            return CallbackResult(
                False,
                f"cannot resolve the host: {type(cause).__name__}"
                if cause
                else "the host resolves to no address",
            )
        try:
            with httpx.Client(
                timeout=self.rules.timeout,
                follow_redirects=False,
                transport=self._transport,
                trust_env=False,  # a proxy would connect to the name, not the checked address
            ) as client:
                answer = client.post(
                    target.url,
                    json=dict(status),
                    headers=target.headers,
                    extensions=target.extensions,
                )
        # Transport errors, timeouts: never into the caller.
        except Exception as error:
            logger.warning("DRP status callback failed: %s", type(error).__name__)
            return CallbackResult(False, type(error).__name__)
        return CallbackResult(answer.is_success, f"HTTP {answer.status_code}")
