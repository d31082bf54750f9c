"""Body limits hold on every route and every transfer encoding, before authentication.

The app is driven through httpx's ASGI transport, which hands the body to the
app only as the app asks for it: what the generator yielded is what was read.
(The memory of a real server after an oversized body: test_limits_served.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.api.world import World

from servinfo.config import load_settings, render_config_file

#: ``limits.max_request_bytes`` by default.
REQUEST_LIMIT = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Sender:
    """A chunked body of ``total`` bytes, made as it is read; counts what was read."""

    total: int
    piece: bytes = b'{"a": "' + b"x" * (CHUNK - 7)
    read: int = field(default=0)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.read < self.total:
            self.read += len(self.piece)
            yield self.piece


def _post(world: World, path: str, sender: Sender, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=world.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://servinfo") as client:
            return await client.post(path, content=sender, headers=headers)

    return asyncio.run(go())


def test_the_default_request_limit_is_one_mebibyte(tmp_path: Path) -> None:
    (tmp_path / "servinfo.toml").write_text(render_config_file({"eu": "sqlite:///eu.db"}, ""))
    settings = load_settings(tmp_path, {})
    assert settings.max_request_bytes == REQUEST_LIMIT
    assert settings.max_body_bytes > REQUEST_LIMIT


def test_a_chunked_body_over_the_limit_is_cut_at_the_limit(world: World) -> None:
    """It was read to its end (32 MiB here, 200 MB in the report) and parsed: 422."""
    sender = Sender(32 * 1024 * 1024)
    answer = _post(world, "/v1/decisions", sender, world.headers("admin"))
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "payload_too_large"
    assert sender.read <= REQUEST_LIMIT + CHUNK
    assert answer.headers["connection"] == "close"


def test_a_body_with_a_bogus_token_is_read_no_further_than_the_limit(world: World) -> None:
    sender = Sender(32 * 1024 * 1024)
    answer = _post(world, "/v1/decisions", sender, {"Authorization": "Bearer bogus"})
    assert answer.status_code == 413, answer.text
    assert sender.read <= REQUEST_LIMIT + CHUNK


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/principals", "/v1/requests"])
def test_a_body_without_a_token_is_refused_before_it_is_read(world: World, path: str) -> None:
    sender = Sender(8 * 1024 * 1024)
    answer = _post(world, path, sender, {})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "unauthenticated"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert sender.read == 0


def test_a_declared_length_over_the_request_limit_is_refused_unread(world: World) -> None:
    answer = world.client.post(
        "/v1/decisions",
        content=b"{}",
        headers={**world.headers("admin"), "Content-Length": str(REQUEST_LIMIT + 1)},
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "payload_too_large",
        "detail": f"the body exceeds the limit of {REQUEST_LIMIT} bytes",
    }


def test_a_verification_code_body_is_cut_like_any_other(world: World) -> None:
    """The route needs no token: its body is read, and cut at the limit."""
    sender = Sender(8 * 1024 * 1024)
    answer = _post(world, "/v1/requests/req-unknown/verify", sender, {})
    assert answer.status_code == 413, answer.text
    assert sender.read <= REQUEST_LIMIT + CHUNK


def test_the_ingest_routes_keep_their_own_larger_limit(world: World) -> None:
    """Blank lines are skipped: 2 MiB of them is a legitimate batch of nothing."""
    issued = world.deployment.principal_service.add(
        "platform", kind="service", role="ingest", region=None, binding="platform", actor="admin"
    )
    sender = Sender(2 * 1024 * 1024, piece=b"\n" * CHUNK)
    headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/x-ndjson"}
    answer = _post(world, "/v1/records:batch", sender, headers)
    assert answer.status_code != 413, answer.text
    assert sender.read == 2 * 1024 * 1024


# -- small HTTP items ------------------------------------------------------------------


def test_an_unsupported_method_names_the_allowed_ones(world: World) -> None:
    answer = world.client.request("TRACE", "/healthz")
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert answer.headers["allow"] == "GET"


def test_the_host_header_never_reaches_a_redirect(world: World) -> None:
    answer = world.client.get(
        "/v1/principals/",
        headers={**world.headers("admin"), "Host": "evil.example"},
        follow_redirects=False,
    )
    assert "evil.example" not in answer.headers.get("location", "")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
