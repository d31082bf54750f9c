"""servinfo.client against a fake server (an httpx transport) and a fake clock.

The fake server keeps what a real one keeps about idempotency: the first
answer per key, replayed for the key's later requests. It can fail a number
of times first, answer 503 or 429 with a ``Retry-After``, or 409
``in_progress``. Time only moves when the client sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from servinfo.client import Client, Refused, Unavailable
from servinfo.collect.models import KEY_LENGTH

KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_LENGTH}}}")  # what the server accepts


@dataclass
class FakeTime:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


Failure = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Stores each line once per key; ``failures`` answer the next requests first."""

    failures: list[Failure] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    stored: list[bytes] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        assert KEY.fullmatch(key), key
        self.keys.append(key)
        if self.failures:
            return self.failures.pop(0)(request)
        return self.answer(request)

    def answer(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        if key not in self.answers:
            lines = request.content.splitlines()
            self.stored.extend(lines)
            first = len(self.stored) - len(lines)
            accepted = [{"id": f"r{first + n}", "type": "record"} for n in range(len(lines))]
            self.answers[key] = (
                {"accepted": accepted, "rejected": []}
                if request.url.path.endswith(":batch")
                else accepted[0]
            )
        return httpx.Response(200, json=self.answers[key])

    def client(self, time: FakeTime, **options: Any) -> Client:
        return Client(
            "https://servinfo.test",
            "svi_test",
            transport=httpx.MockTransport(self.handle),
            sleep=time.sleep,
            clock=time.clock,
            **options,
        )


def failing(status: int, headers: dict[str, str] | None = None, **body: str) -> Failure:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


ITEMS = [{"subject": f"sub-{n}", "kind": "telemetry.usage", "n": n} for n in range(5)]


def test_resending_a_list_sends_each_batch_under_its_first_key() -> None:
    server, time = FakeServer(), FakeTime()
    with server.client(time, batch_size=2) as client:
        client.send_many(ITEMS)
        first = list(server.keys)
        client.send_many(list(ITEMS))
    assert len(first) == 3
    assert len(set(first)) == 3
    assert server.keys == first + first
    assert len(server.stored) == len(ITEMS)


def test_the_key_of_a_batch_follows_its_content_and_position() -> None:
    server, time = FakeServer(), FakeTime()
    same = {"subject": "sub-1", "kind": "telemetry.usage"}
    with server.client(time, batch_size=1) as client:
        client.send_many([same, same])  # the same line twice is two lines
        client.send_many([ITEMS[0]])
        client.send_many([json.dumps(ITEMS[0], separators=(",", ":"))])  # the same bytes
    assert len(server.stored) == 3
    assert len(set(server.keys)) == 3
    assert server.keys[2] == server.keys[3]


def test_a_caller_key_names_each_batch() -> None:
    server, time = FakeServer(), FakeTime()
    with server.client(time, batch_size=2) as client:
        summary = client.send_many(ITEMS, key="usage-2026-11-20")
        client.send({"type": "subject", "id": "sub-1"}, key="subject-sub-1")
        client.send({"type": "subject", "id": "sub-1"}, key="subject-sub-1")
    assert server.keys == [
        "usage-2026-11-20:0",
        "usage-2026-11-20:1",
        "usage-2026-11-20:2",
        "subject-sub-1",
        "subject-sub-1",
    ]
    assert summary.accepted == len(ITEMS)
    assert len(server.stored) == len(ITEMS) + 1


def test_send_without_a_key_keeps_its_key_on_retries_only() -> None:
    server, time = FakeServer(failures=[failing(503)]), FakeTime()
    with server.client(time) as client:
        client.send(ITEMS[0])
        client.send(ITEMS[0])
    assert server.keys[0] == server.keys[1] != server.keys[2]
    assert len(server.stored) == 2


@pytest.mark.parametrize(
    ("key", "found"),
    [("", "''"), ("has space", "'has space'"), ("é", "'é'"), ("k" * 250, "250 characters")],
)
def test_a_malformed_caller_key_is_refused_before_sending(key: str, found: str) -> None:
    server, time = FakeServer(), FakeTime()
    with server.client(time) as client, pytest.raises(ValueError, match=found):
        client.send_many(ITEMS, key=key)
    assert server.keys == []


def test_a_resend_after_unavailable_stores_nothing_twice() -> None:
    # Batch 1 is stored, then its answers are lost until the client gives up.
    server, time = FakeServer(), FakeTime()
    with server.client(time, batch_size=2, retry_deadline=30) as client:
        client.send_many(ITEMS[:2])
        server.failures = [failing(503)] * 100
        with pytest.raises(Unavailable):
            client.send_many(ITEMS)
        server.failures = []
        summary = client.send_many(ITEMS)
    assert summary.accepted == len(ITEMS)
    assert sorted(server.stored) == sorted(
        json.dumps(i, separators=(",", ":")).encode() for i in ITEMS
    )


@pytest.mark.parametrize(
    "failure",
    [
        failing(503, {"Retry-After": "7"}),
        failing(429, {"Retry-After": "7"}, error="rate_limited", detail="slow down"),
        failing(409, {"Retry-After": "7"}, error="in_progress", detail="being answered"),
        failing(
            503,
            {
                "Retry-After": "Fri, 20 Nov 2026 08:15:09 GMT",
                "Date": "Fri, 20 Nov 2026 08:15:02 GMT",
            },
        ),
    ],
    ids=["503-seconds", "429-seconds", "409-in-progress", "503-http-date"],
)
def test_retry_after_is_honoured(failure: Failure) -> None:
    server, time = FakeServer(failures=[failure]), FakeTime()
    with server.client(time) as client:
        client.send(ITEMS[0])
    assert time.slept == [7.0]
    assert len(server.keys) == 2


def test_an_http_date_without_a_date_header_is_measured_against_now() -> None:
    import datetime as dt
    import email.utils

    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    failure = failing(503, {"Retry-After": email.utils.format_datetime(later, usegmt=True)})
    server, time = FakeServer(failures=[failure]), FakeTime()
    with server.client(time) as client:
        client.send(ITEMS[0])
    assert len(time.slept) == 1
    assert 55 <= time.slept[0] <= 60


def test_a_retry_after_past_the_deadline_gives_up_at_once() -> None:
    server, time = FakeServer(failures=[failing(503, {"Retry-After": "300"})]), FakeTime()
    with server.client(time, retry_deadline=60) as client, pytest.raises(Unavailable) as gave_up:
        client.send(ITEMS[0])
    assert time.slept == []
    assert "asked to wait 300 s" in str(gave_up.value)


def test_the_deadline_stops_the_retries() -> None:
    server, time = FakeServer(failures=[unreachable] * 1000), FakeTime()
    with server.client(time, retry_deadline=30) as client, pytest.raises(Unavailable) as gave_up:
        client.send(ITEMS[0])
    attempts = len(server.keys)
    assert gave_up.value.attempts == attempts
    assert gave_up.value.elapsed == pytest.approx(30)
    assert sum(time.slept) == pytest.approx(30)
    assert f"gave up after {attempts} attempts in 30.0 s" in str(gave_up.value)
    assert "ConnectError" in str(gave_up.value)
    assert 6 <= attempts <= 15


def test_the_backoff_grows_with_jitter_up_to_its_cap() -> None:
    server, time = FakeServer(failures=[failing(502)] * 12), FakeTime()
    with server.client(time, backoff=1.0, max_backoff=8.0) as client:
        client.send(ITEMS[0])
    steps = [1.0, 2.0, 4.0] + [8.0] * 9
    assert all(0.5 * s <= slept <= 1.5 * s for slept, s in zip(time.slept, steps, strict=True))
    assert len(set(time.slept)) > 1


def test_the_default_deadline_outlasts_a_server_restart() -> None:
    # A restart measured at up to 14 s: unreachable until then, then answering.
    time = FakeTime()
    restart_ends = time.now + 14

    def restarting(request: httpx.Request) -> httpx.Response:
        if time.now < restart_ends:
            server.failures.insert(0, restarting)
            raise httpx.ConnectError("connection refused", request=request)
        return server.answer(request)

    server = FakeServer(failures=[restarting])
    with server.client(time, batch_size=2) as client:
        summary = client.send_many(ITEMS)
    assert summary.accepted == len(ITEMS)
    assert len(server.stored) == len(ITEMS)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_another_4xx_is_never_retried(status: int) -> None:
    refusal = failing(status, {"Retry-After": "1"}, error="nope", detail="the request is wrong")
    server, time = FakeServer(failures=[refusal]), FakeTime()
    with server.client(time) as client, pytest.raises(Refused) as refused:
        client.send(ITEMS[0])
    assert (refused.value.status, refused.value.error) == (status, "nope")
    assert len(server.keys) == 1
    assert time.slept == []


def test_retries_caps_the_attempts_too() -> None:
    server, time = FakeServer(failures=[failing(503)] * 10), FakeTime()
    with server.client(time, retries=2) as client, pytest.raises(Unavailable) as gave_up:
        client.send(ITEMS[0])
    assert gave_up.value.attempts == 3
    assert len(server.keys) == 3
