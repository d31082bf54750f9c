"""Rate limits on the routes that need no servinfo token: token buckets kept in each worker.

The routes (:data:`OPEN_ROUTES`) are those a request reaches without a
principal's token: verifying a data-subject request with its one-time code
(also where an authorized agent sends the consumer, ``/v1/drp/verify/…``),
a person's own request by their address (a code sent to it),
the Data Rights Protocol's routes (authorized agents sign their pairwise
setup and hold tokens of their own), the audit log's checkpoint and keys
(public, for witnesses, mirrors and auditors), and the operations routes (``/healthz``,
``/metrics``, the API documentation). Each request to one of them takes a
token from two buckets, refilled continuously:

- its client address's bucket for that group of routes (an IPv6 address
  counts by its /64 network, which one client usually holds whole):
  ``rate_limits.per_address_per_minute``;
- where the path names a data-subject request or an agent, that target's
  bucket: ``rate_limits.per_target_per_minute``, whatever the address, so that
  guessing one request's code from many addresses is as slow as from one.

An empty bucket answers 429 ``rate_limited`` with ``Retry-After``, before the
body is read. A rate of 0 turns that limit off.

The buckets live in the memory of each worker process: with ``server.workers``
= N, a client whose connections land on every worker gets up to N times each
rate, and a restart refills every bucket. The number of buckets kept is
bounded (:data:`MAX_BUCKETS`); the least recently used go first. The client
address is the connection's, or the one a trusted proxy names in
``X-Forwarded-For`` (uvicorn trusts the proxy at ``FORWARDED_ALLOW_IPS``,
loopback by default).
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_BUCKETS", "OPEN_ROUTES", "OpenRoute", "RateLimiter", "Refusal", "client_key"]

#: Buckets kept per worker; a full bucket is worth nothing, and the oldest go first.
MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class OpenRoute:
    """Routes a request reaches without a principal's token, and how they are limited."""

    group: str
    #: A path regular expression; a ``target`` group names a request or an agent.
    pattern: str
    #: The methods limited, or every method.
    methods: frozenset[str] | None = None


#: Every route that needs no servinfo principal token (a test checks the list against
#: the application's routes).
OPEN_ROUTES: tuple[OpenRoute, ...] = (
    OpenRoute("verify", r"/v1/requests/(?P<target>[^/]+)/verify", frozenset({"POST"})),
    OpenRoute("self_service", r"/v1/self-service/requests", frozenset({"POST"})),
    OpenRoute("drp", r"/v1/agent/(?P<target>[^/]+)"),
    OpenRoute("drp", r"/v1/data-rights-request/?"),
    OpenRoute("drp", r"/v1/data-rights-request/(?P<target>[^/]+)"),
    OpenRoute("drp_verify", r"/v1/drp/verify/(?P<target>[^/]+)", frozenset({"GET", "POST"})),
    OpenRoute("audit", r"/v1/audit/checkpoint|/v1/audit/keys|/v1/audit/consistency"),
    OpenRoute("operations", r"/healthz|/readyz|/metrics|/openapi\.json|/docs|/redoc|/static/.*"),
)


@dataclass(frozen=True)
class Refusal:
    """A request over a limit, and when a retry may be served."""

    retry_after: int
    detail: str


class _Bucket:
    __slots__ = ("level", "updated")

    def __init__(self, level: float, updated: float) -> None:
        self.level = level
        self.updated = updated


class _Buckets:
    """Token buckets of ``capacity`` each, refilled at ``capacity`` a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def take(self, key: tuple[str, str]) -> float:
        """Take one token from ``key``'s bucket: 0, or the seconds until one is there."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.level = min(self.capacity, bucket.level + elapsed * self.per_second)
            bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        if bucket.level >= 1:
            bucket.level -= 1
            return 0.0
        return (1 - bucket.level) / self.per_second


class RateLimiter:
    """The buckets of one worker, and the routes they guard."""

    def __init__(
        self,
        per_address_per_minute: int,
        per_target_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_address = (
            _Buckets(per_address_per_minute, clock) if per_address_per_minute else None
        )
        self._per_target = _Buckets(per_target_per_minute, clock) if per_target_per_minute else None
        self._routes = [(route, re.compile(route.pattern)) for route in OPEN_ROUTES]
        # One match for every other request (ingest's among them): a sixth of the loop's cost.
        self._any = re.compile(
            "|".join(f"(?:{route.pattern})" for route in OPEN_ROUTES).replace("?P<target>", "")
        )

    def open_route(self, method: str, path: str) -> tuple[OpenRoute, str | None] | None:
        """The open route ``path`` is, and the target it names; None for a route with a token."""
        if self._any.fullmatch(path) is None:
            return None
        for route, pattern in self._routes:
            matched = pattern.fullmatch(path)
            if matched and (route.methods is None or method in route.methods):
                return route, matched.groupdict().get("target")
        return None

    def check(self, route: OpenRoute, target: str | None, client: str) -> Refusal | None:
        """Count a request to ``route``: None if it may be served, else a :class:`Refusal`."""
        if self._per_address is not None:
            wait = self._per_address.take((route.group, client))
            if wait:
                return Refusal(math.ceil(wait), "too many requests from this address; retry later")
        if self._per_target is not None and target is not None:
            wait = self._per_target.take((route.group, target))
            if wait:
                return Refusal(math.ceil(wait), "too many requests for this target; retry later")
        return None


def client_key(client: tuple[str, int] | None) -> str:
    """The address a client is counted by: an IPv6 address by its /64 network."""
    if client is None:
        return "unknown"
    host = client[0]
    if ":" in host:
        try:
            return str(ipaddress.IPv6Network((host, 64), strict=False))
        except ValueError:
            return host
    return host
