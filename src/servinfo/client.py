"""The Python client the cloud services use to report Service Information.

::

    with Client("https://servinfo.internal:8443", token, verify="/etc/servinfo/ca.crt") as c:
        c.send({"type": "subject", "id": "sub-1", "org": "org-1", "jurisdiction": "DE"})
        summary = c.send_many(records, key="usage-2026-11-20")   # NDJSON batches of 1,000

Nothing lost, nothing doubled: every request carries an ``Idempotency-Key``
(RFC draft ``ietf-httpapi-idempotency-key-header``), the same on each of its
retries and — when the caller sends the same thing again after
:class:`Unavailable` — the same on the resend, so the server answers a key it
has seen with its first answer and stores nothing twice.

Keys:

- ``send(obj, key=K)`` sends under ``K``; ``send_many(items, key=K)`` sends
  batch ``i`` under ``K:i``.
- ``send_many`` without a key derives batch ``i``'s key from ``i`` and the
  SHA-256 of the batch's bytes. Batching is deterministic (same items, same
  ``batch_size``, same batches), so resending a whole list gives every batch
  its first key again. Two calls sending the same lines within the server's
  key lifetime are therefore one: pass a ``key`` per call to keep them apart.
- ``send`` without a key makes a random one, reused only on that call's own
  retries: one object repeats legitimately (two identical events in the same
  second are two events), so a key from its content would drop real data. A
  caller that may resend a single object after :class:`Unavailable` passes
  ``key=``.

Retries happen on connection errors, timeouts, 5xx, 429 and 409
``in_progress`` — never on another 4xx, which is the server refusing the
request and raises :class:`Refused`. Between attempts the client waits as the
server's ``Retry-After`` says (seconds or an HTTP-date), otherwise with
exponential backoff and jitter, until ``retry_deadline`` seconds have passed
since the first attempt (default 120 s, longer than a server restart). Time
comes from the ``clock`` and ``sleep`` hooks, so tests pass time in. Nothing
here logs tokens or record contents.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import random
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from types import TracebackType
from typing import Any

import httpx

from servinfo.errors import ServinfoError

__all__ = ["BatchSummary", "Client", "ClientError", "Refused", "Rejection", "Unavailable"]

# The server's limit (servinfo.collect.models.KEY_LENGTH) and format: printable
# ASCII without spaces. Repeated here, not imported: the client must not pull
# in the server's models.
_KEY_LENGTH = 255
_KEY = re.compile(r"[\x21-\x7e]+")
# A caller's key for send_many leaves room for ":" and a batch index.
_BATCH_KEY_LENGTH = _KEY_LENGTH - 16


class ClientError(ServinfoError):
    code = "client_error"


class Refused(ClientError):
    """The server answered with a 4xx: the request itself is wrong; retrying will not help."""

    code = "refused"

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


class Unavailable(ClientError):
    """Every attempt until the retry deadline failed with a 5xx, 429, 409 or a connection error.

    Resending the same thing (same ``key``, or for ``send_many`` the same items)
    is safe: what the server already stored is not stored twice.
    """

    code = "unavailable"

    def __init__(self, message: str, *, attempts: int, elapsed: float) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.elapsed = elapsed


@dataclass(frozen=True)
class Rejection:
    line: int
    error: str
    detail: str


@dataclass
class BatchSummary:
    """What :meth:`Client.send_many` sent; ``line`` numbers count from 1 over all batches."""

    lines: int = 0
    accepted: int = 0
    ids: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    batches: int = 0


def _as_line(item: object) -> bytes:
    if isinstance(item, bytes):
        return item.rstrip(b"\r\n")
    if isinstance(item, str):
        return item.rstrip("\r\n").encode("utf-8")
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _checked_key(key: str, limit: int) -> str:
    if not 0 < len(key) <= limit or not _KEY.fullmatch(key):
        shown = f"{len(key)} characters" if len(key) > limit else repr(key)
        raise ValueError(
            f"key must be 1 to {limit} printable ASCII characters without spaces, got {shown}"
        )
    return key


def _batch_key(key: str | None, index: int, body: bytes) -> str:
    if key is not None:
        return f"{key}:{index}"
    return f"batch-{index}-{hashlib.sha256(body).hexdigest()}"


class Client:
    """A connection to one servinfo deployment as one principal (its token).

    ``retry_deadline`` bounds the retries of one request in seconds from its
    first attempt (an attempt under way is not cut short: ``timeout`` bounds
    each). ``retries``, when given, also caps the number of retries. The
    backoff starts at ``backoff`` seconds, doubles per attempt up to
    ``max_backoff`` and is jittered by ±50 %. ``clock`` (seconds, monotonic)
    and ``sleep`` are the time the client sees: replace both together.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        verify: bool | str = True,
        timeout: float = 60.0,
        retry_deadline: float = 120.0,
        retries: int | None = None,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        batch_size: int = 1000,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if retry_deadline < 0:
            raise ValueError(f"retry_deadline must be 0 or more seconds, got {retry_deadline}")
        if retries is not None and retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        # A path is the deployment's certificate (self-signed) or its CA.
        tls: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        )
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            verify=tls,
            timeout=timeout,
            transport=transport,
        )
        self._deadline = retry_deadline
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # never the token
        return f"Client(url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, obj: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """Send one object; the server's answer (``{"id": …, "type": "record", …}``).

        Sent again with the same ``key``, the object is stored once. Without a
        key, a random one protects this call's retries only.
        """
        chosen = str(uuid.uuid4()) if key is None else _checked_key(key, _KEY_LENGTH)
        return self._post("/v1/records", _as_line(obj), "application/json", chosen)

    def send_many(
        self,
        items: Iterable[object],
        *,
        key: str | None = None,
        on_batch: Callable[[BatchSummary, int], None] | None = None,
    ) -> BatchSummary:
        """Send objects (dicts) or NDJSON lines (str/bytes) in batches of ``batch_size``.

        Batch ``i`` goes under ``f"{key}:{i}"``, or without ``key`` under a key
        made of ``i`` and the hash of its bytes: resending the same items is
        safe either way. ``on_batch(summary, lines_in_batch)`` is called after
        each batch.
        """
        if key is not None:
            _checked_key(key, _BATCH_KEY_LENGTH)
        summary = BatchSummary()
        for index, lines in enumerate(self._batches(items)):
            body = b"\n".join(lines) + b"\n"
            answer = self._post(
                "/v1/records:batch", body, "application/x-ndjson", _batch_key(key, index, body)
            )
            offset = summary.lines
            summary.lines += len(lines)
            summary.batches += 1
            summary.accepted += len(answer["accepted"])
            summary.ids.extend(a["id"] for a in answer["accepted"] if a.get("type") == "record")
            summary.rejected.extend(
                Rejection(offset + r["line"], r["error"], r["detail"]) for r in answer["rejected"]
            )
            if on_batch is not None:
                on_batch(summary, len(lines))
        return summary

    def _batches(self, items: Iterable[object]) -> Iterator[list[bytes]]:
        iterator = iter(items)
        while batch := [_as_line(item) for item in islice(iterator, self._batch_size)]:
            yield batch

    def _post(self, path: str, body: bytes, content_type: str, key: str) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Idempotency-Key": key}
        started = self._clock()
        attempts = 0
        while True:
            attempts += 1
            asked: float | None = None  # the server's Retry-After, in seconds
            try:
                response = self._http.post(path, content=body, headers=headers)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__} talking to {self._http.base_url}"
            else:
                if not _retryable(response):
                    answer = _json(response)
                    if response.status_code >= 400:
                        raise Refused(
                            response.status_code,
                            str(answer.get("error", "http_error")),
                            str(answer.get("detail", "")),
                        )
                    return answer
                failure = f"HTTP {response.status_code} from {path}"
                asked = _retry_after(response)
            # (1) Out of retries or of time: say how long and how often we tried.
            elapsed = self._clock() - started
            left = self._deadline - elapsed
            if self._retries is not None and attempts > self._retries:
                stop = f"no retries left ({self._retries})"
            elif left <= 0:
                stop = f"retry deadline of {self._deadline:g} s reached"
            elif asked is not None and asked > left:
                stop = f"the server asked to wait {asked:g} s, past the retry deadline"
            else:
                # (2) The server's wait, never less than the first backoff step
                # (a Retry-After of 0 must not turn into a busy loop); else
                # backoff with jitter; both end by the deadline at the latest.
                wait = self._jitter(attempts) if asked is None else max(asked, self._backoff)
                self._sleep(min(left, wait))
                continue
            raise Unavailable(
                f"gave up after {attempts} attempt{'s' if attempts != 1 else ''} "
                f"in {elapsed:.1f} s, {stop}: {failure}",
                attempts=attempts,
                elapsed=elapsed,
            )

    def _jitter(self, attempts: int) -> float:
        delay = min(self._max_backoff, self._backoff * 2.0 ** min(attempts - 1, 32))
        return delay * (0.5 + random.random())  # noqa: S311 - jitter, not crypto


def _retryable(response: httpx.Response) -> bool:
    status = response.status_code
    if status >= 500 or status == 429:
        return True
    return status == 409 and _json(response).get("error") == "in_progress"


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 §10.2.3), or None when absent or unreadable.

    An HTTP-date is measured against the same response's ``Date``, both the
    server's clock, so a skew between client and server does not matter.
    """
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(response.headers.get("Date", "")) or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {"error": "http_error", "detail": f"HTTP {response.status_code}, not JSON"}
    return value if isinstance(value, dict) else {"error": "http_error", "detail": "not an object"}
