"""The routes that need no token are rate-limited per address, and per request or agent named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.api.world import World

from servinfo.api import dependencies
from servinfo.api.ratelimit import OPEN_ROUTES, RateLimiter, client_key
from servinfo.rights.drp import routes as drp_routes

#: ``rate_limits.per_address_per_minute`` and ``per_target_per_minute`` by default.
PER_ADDRESS = 120
PER_TARGET = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    """Clients of the same app from two addresses."""
    made = {
        name: TestClient(world.client.app, client=(address, 40000))
        for name, address in (("a", "192.0.2.1"), ("b", "192.0.2.2"))
    }
    yield made
    for client in made.values():
        client.close()


def _verify(client: TestClient, request_id: str) -> int:
    return client.post(f"/v1/requests/{request_id}/verify", json={"code": "ABCDEF"}).status_code


def test_guessing_one_requests_code_is_limited_whatever_the_address(
    clients: dict[str, TestClient],
) -> None:
    statuses = [_verify(clients["a"], "req-1") for _ in range(PER_TARGET)]
    assert 429 not in statuses
    refused = clients["a"].post("/v1/requests/req-1/verify", json={"code": "ABCDEF"})
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "rate_limited",
        "detail": "too many requests for this target; retry later",
    }
    assert 1 <= int(refused.headers["retry-after"]) <= 60 / PER_TARGET + 1
    assert _verify(clients["b"], "req-1") == 429  # the same request from elsewhere
    assert _verify(clients["a"], "req-2") != 429  # another request from the same address


def test_one_address_is_limited_and_another_is_not(clients: dict[str, TestClient]) -> None:
    served = 0
    refused = clients["a"].get("/healthz")
    while refused.status_code == 200 and served < 2 * PER_ADDRESS:
        served += 1
        refused = clients["a"].get("/healthz")
    # A bucket holds a minute's requests and refills meanwhile (2 a second by default).
    assert PER_ADDRESS <= served < 2 * PER_ADDRESS
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert "retry-after" in refused.headers
    assert clients["b"].get("/healthz").status_code == 200
    # Each group of routes has its own bucket: verification is still open to "a".
    assert _verify(clients["a"], "req-3") != 429


def test_pairwise_setup_is_limited_per_agent(clients: dict[str, TestClient]) -> None:
    def setup(client: TestClient, agent: str) -> int:
        return client.post(f"/v1/agent/{agent}", content=b"not signed").status_code

    statuses = [setup(clients["a"], "AGENT_ONE") for _ in range(PER_TARGET)]
    assert statuses == [403] * PER_TARGET
    assert setup(clients["b"], "AGENT_ONE") == 429
    assert setup(clients["a"], "AGENT_TWO") == 403


def test_a_refusal_on_an_agents_endpoint_is_the_protocol_s_error_object(
    clients: dict[str, TestClient],
) -> None:
    for _ in range(PER_TARGET):
        clients["a"].post("/v1/agent/AGENT_ONE", content=b"not signed")
    refused = clients["a"].post("/v1/agent/AGENT_ONE", content=b"not signed")
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "429",
        "message": "too many requests for this target; retry later",
    }
    assert "retry-after" in refused.headers


def test_an_agent_id_holding_a_line_break_is_still_an_agents_endpoint(
    clients: dict[str, TestClient],
) -> None:
    """A percent-encoded line break in the path must not drop the answer out of DRP's shape."""
    path = "/v1/agent/A%0AB"
    for _ in range(PER_TARGET):
        clients["a"].post(path, content=b"not signed")
    refused = clients["a"].post(path, content=b"not signed")
    assert refused.status_code == 429
    assert set(refused.json()) == {"code", "message"}


def test_guessing_the_code_of_an_agent_s_request_is_limited(
    clients: dict[str, TestClient],
) -> None:
    def confirm(client: TestClient) -> int:
        return client.post("/v1/drp/verify/req-9", data={"code": "ABCDEFGHIJ"}).status_code

    statuses = [confirm(clients["a"]) for _ in range(PER_TARGET)]
    assert 429 not in statuses
    assert confirm(clients["b"]) == 429
    assert clients["a"].get("/v1/drp/verify/req-9").status_code == 429


def test_routes_with_a_token_are_not_rate_limited(world: World) -> None:
    statuses = {
        world.client.get("/v1/principals", headers=world.headers("admin")).status_code
        for _ in range(PER_ADDRESS + 5)
    }
    assert statuses == {200}


# -- the buckets ------------------------------------------------------------------------


def test_a_bucket_refills_with_time() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 0, clock=clock)
    (route,) = [r for r in OPEN_ROUTES if r.group == "operations"]
    assert limiter.check(route, None, "a") is None
    assert limiter.check(route, None, "a") is None
    refused = limiter.check(route, None, "a")
    assert refused is not None
    assert refused.retry_after == 30
    clock.now += 29
    assert limiter.check(route, None, "a") is not None
    clock.now += 31  # the refused take above cost nothing
    assert limiter.check(route, None, "a") is None


def test_a_rate_of_zero_is_no_limit() -> None:
    limiter = RateLimiter(0, 0, clock=Clock())
    (route,) = [r for r in OPEN_ROUTES if r.group == "verify"]
    assert all(limiter.check(route, "req", "a") is None for _ in range(1000))


def test_an_ipv6_client_counts_by_its_network() -> None:
    assert client_key(("2001:db8:1:2::5", 1)) == client_key(("2001:db8:1:2:ffff::9", 2))
    assert client_key(("2001:db8:1:3::5", 1)) != client_key(("2001:db8:1:2::5", 1))
    assert client_key(("192.0.2.1", 1)) == "192.0.2.1"
    assert client_key(None) == "unknown"


# -- the routes that need no token are the open ones ---------------------------------

_TOKEN_DEPENDENCIES = {dependencies.principal, dependencies.token, drp_routes._agent}


def _calls(route: APIRoute) -> set[object]:
    found: set[object] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        found.add(dependant.call)
        pending.extend(dependant.dependencies)
    return found


def test_every_route_that_needs_no_token_is_an_open_route(world: World) -> None:
    """An open route is rate-limited, and takes a body without ``Authorization``."""
    limiter = RateLimiter(1, 1)
    missing = []
    for route in world.client.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "include_in_schema", False) is False and not isinstance(route, APIRoute):
            continue
        if isinstance(route, APIRoute) and _calls(route) & _TOKEN_DEPENDENCIES:
            continue
        path = getattr(route, "path", "").replace("{", "").replace("}", "")
        for method in getattr(route, "methods", None) or {"GET"}:
            if limiter.open_route(method, path) is None:
                missing.append(f"{method} {path}")
    assert missing == []
