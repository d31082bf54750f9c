"""The traffic of one crash round: keyed singles, keyed NDJSON batches and reads, then the resend.

Every request is remembered (:class:`Sent`) with its idempotency key, its body
and the markers of its records (a ``telemetry.usage`` record's ``resource_id``,
unique in the deployment), and the first answer when one came. The senders run
until the server is killed under them; then every request they attempted is
sent again with the same key and body (:func:`resend`), and the stored records
are counted by marker (:func:`stored_markers`).

Every request has a timeout; every thread is joined with one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

COLLECTED = "2026-11-20T08:15:02Z"
#: The subject the readers read (in the reader's region; a few records written at set-up).
READ_SUBJECT = "sub-read"
SINGLE_SENDERS = 4
#: The batch sizes each batch sender cycles through (lines per batch).
BATCH_SIZES = ((300, 50, 1000), (2500, 300))
READERS = 2
#: Pause of a batch sender between two batches: a service reports now and then, and the
#: deployment stays small enough to check every round quickly.
BATCH_PAUSE = 0.15

SINGLE = "/v1/records"
BATCH = "/v1/records:batch"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass(frozen=True)
class Answer:
    status: int
    ids: tuple[str, ...]
    rejected: int
    replayed: bool
    error: str | None

    @property
    def acknowledged(self) -> bool:
        """The server said it stored every record of the request."""
        return self.status in (200, 201) and self.rejected == 0 and bool(self.ids)

    def describe(self) -> str:
        return f"{self.status} {self.error or ''}".strip()


@dataclass
class Sent:
    """One keyed write: what went out, and the answers to its first send and to the resend."""

    key: str
    path: str
    body: bytes
    markers: tuple[str, ...]
    first: Answer | None = None
    replay: Answer | None = None


@dataclass
class RoundTraffic:
    """What the senders and readers of one round saw before the kill."""

    sent: list[Sent] = field(default_factory=list)
    reads_answered: int = 0
    #: Answers no sender expected before the kill (a 5xx, a refusal): named in the report.
    unexpected: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_read(self) -> None:
        with self._lock:
            self.reads_answered += 1

    def note(self, what: str) -> None:
        with self._lock:
            self.unexpected.append(what)


def usage(subject: str, marker: str) -> dict[str, Any]:
    """A ``telemetry.usage`` record from the platform service, marked by its ``resource_id``."""
    return {
        "type": "record",
        "subject": subject,
        "kind": "telemetry.usage",
        "collected_at": COLLECTED,
        "fields": {"resource_id": marker, "metric": "cpu_seconds", "quantity": 1.5},
    }


def parse_answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if "accepted" in body:
        ids = tuple(str(a["id"]) for a in body["accepted"])
        rejected = len(body.get("rejected", []))
    else:
        ids = (str(body["id"]),) if "id" in body else ()
        rejected = 0
    return Answer(
        status=response.status_code,
        ids=ids,
        rejected=rejected,
        replayed=response.headers.get("idempotent-replayed") == "true",
        error=body.get("error"),
    )


class Round:
    """The requests of round ``number``: its subjects, keys and markers."""

    def __init__(self, number: int, subjects: tuple[str, str], tokens: dict[str, str]) -> None:
        self.number = number
        self.subjects = subjects
        self.tokens = tokens
        self.traffic = RoundTraffic()

    def _single(self, sender: int, n: int) -> Sent:
        marker = f"vm-r{self.number}-s{sender}-{n}"
        body = json.dumps(usage(self.subjects[n % 2], marker)).encode()
        return Sent(f"r{self.number}-s{sender}-{n}", SINGLE, body, (marker,))

    def _batch(self, sender: int, n: int) -> Sent:
        size = BATCH_SIZES[sender][n % len(BATCH_SIZES[sender])]
        markers = tuple(f"vm-r{self.number}-b{sender}-{n}-{line}" for line in range(size))
        body = b"".join(
            json.dumps(usage(self.subjects[line % 2], marker)).encode() + b"\n"
            for line, marker in enumerate(markers)
        )
        return Sent(f"r{self.number}-b{sender}-{n}", BATCH, body, markers)

    def run(self, url: str, seconds: float, kill: Callable[[], None]) -> RoundTraffic:
        """Send and read until ``seconds`` have passed, then ``kill`` the server under them."""
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._send, args=(url, partial(self._single, s), stop, 0.0), daemon=True
            )
            for s in range(SINGLE_SENDERS)
        ]
        threads += [
            threading.Thread(
                target=self._send,
                args=(url, partial(self._batch, b), stop, BATCH_PAUSE),
                daemon=True,
            )
            for b in range(len(BATCH_SIZES))
        ]
        threads += [
            threading.Thread(target=self._read, args=(url, stop), daemon=True)
            for _ in range(READERS)
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(seconds)
        finally:
            kill()
            stop.set()
            for thread in threads:
                thread.join(60)
        alive = sum(thread.is_alive() for thread in threads)
        assert not alive, f"round {self.number}: {alive} traffic threads still running"
        return self.traffic

    def _send(
        self, url: str, make: Callable[[int], Sent], stop: threading.Event, pause: float
    ) -> None:
        headers = {"Authorization": f"Bearer {self.tokens['platform']}"}
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                sent = make(n)
                self.traffic.sent.append(sent)  # attempted: resent after the kill
                try:
                    response = _post(client, sent, headers)
                except httpx.TransportError:
                    return  # the kill
                except Exception as error:  # a thread's error must reach the report
                    self.traffic.note(f"{sent.key}: {type(error).__name__}: {error}")
                    return
                sent.first = parse_answer(response)
                if not sent.first.acknowledged:
                    self.traffic.note(f"{sent.key}: first answer {sent.first.describe()}")
                if pause and stop.wait(pause):
                    return

    def _read(self, url: str, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.tokens['reader']}"}
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            while not stop.is_set():
                try:
                    response = client.get(
                        f"/v1/subjects/{READ_SUBJECT}/records",
                        params={"purpose": "provide"},
                        headers=headers,
                    )
                except httpx.TransportError:
                    return
                except Exception as error:
                    self.traffic.note(f"read: {type(error).__name__}: {error}")
                    return
                if response.status_code == 200:
                    self.traffic.count_read()
                else:
                    self.traffic.note(f"read: {response.status_code} {response.text[:120]}")


def _post(client: httpx.Client, sent: Sent, headers: dict[str, str]) -> httpx.Response:
    content_type = "application/x-ndjson" if sent.path == BATCH else "application/json"
    return client.post(
        sent.path,
        content=sent.body,
        headers={**headers, "Idempotency-Key": sent.key, "Content-Type": content_type},
    )


def resend(url: str, token: str, sent: list[Sent], deadline: float) -> list[str]:
    """Send every request again (same key, same body) until answered; what stayed unanswered.

    Connection errors, 5xx and 409 ``in_progress`` are retried with a short backoff
    until ``deadline`` (``time.monotonic()``), as ``servinfo.client`` retries.
    """
    headers = {"Authorization": f"Bearer {token}"}

    def one(client: httpx.Client, request: Sent) -> str | None:
        last = "no attempt"
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                response = _post(client, request, headers)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}"
            else:
                answer = parse_answer(response)
                if answer.status < 500 and answer.status != 409:
                    request.replay = answer
                    return None
                last = answer.describe()
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        return f"{request.key}: no answer to the resend before the deadline (last: {last})"

    def worker(requests: list[Sent]) -> list[str]:
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            return [m for r in requests if (m := one(client, r)) is not None]

    lanes = 4
    with ThreadPoolExecutor(lanes) as pool:
        results = pool.map(worker, [sent[i::lanes] for i in range(lanes)])
        return [message for lane in results for message in lane]


def stored_markers(url: str, admin_token: str, subjects: tuple[str, ...]) -> dict[str, list[str]]:
    """Marker → ids of the stored records that carry it, read as the admin for ``legal``."""
    found: dict[str, list[str]] = {}
    with httpx.Client(base_url=url, timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        for subject in subjects:
            response = client.get(
                f"/v1/subjects/{subject}/records",
                params={"purpose": "legal", "category": "telemetry"},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
            assert response.status_code == 200, f"counting {subject}: {response.text[:300]}"
            for record in response.json()["records"]:
                marker = record["fields"].get("resource_id")
                if isinstance(marker, str):
                    found.setdefault(marker, []).append(str(record["id"]))
    return found
