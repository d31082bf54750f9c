"""The Python client the cloud services use to report Service Information.

::

    with Client("https://servinfo.internal:8443", token, verify="/etc/servinfo/ca.crt") as c:
        c.send({"type": "subject", "id": "sub-1", "org": "org-1", "jurisdiction": "DE"})
        summary = c.send_many(records)           # NDJSON batches of 1,000

Every request carries an ``Idempotency-Key`` made once per request and reused
on its retries, so a retry after a lost answer stores nothing twice. Retries
(exponential backoff with jitter) happen on connection errors, timeouts, 5xx
and 409 ``in_progress`` only — never on another 4xx, which is the server
refusing the request and raises :class:`Refused`. Nothing here logs tokens or
record contents.
"""

from __future__ import annotations

import json
import random
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

_RETRY_STATUS = frozenset({409, 429})  # 409 only when the body says in_progress


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
    """Every attempt failed with a 5xx or a connection error."""

    code = "unavailable"


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


class Client:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        verify: bool | str = True,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.2,
        batch_size: int = 1000,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
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
        self._retries = retries
        self._backoff = backoff
        self._batch_size = batch_size
        self._sleep = sleep

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

    def send(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Send one object; the server's answer (``{"id": …, "type": "record", …}``)."""
        return self._post("/v1/records", _as_line(obj), "application/json")

    def send_many(
        self,
        items: Iterable[object],
        *,
        on_batch: Callable[[BatchSummary, int], None] | None = None,
    ) -> BatchSummary:
        """Send objects (dicts) or NDJSON lines (str/bytes) in batches of ``batch_size``.

        ``on_batch(summary, lines_in_batch)`` is called after each batch.
        """
        summary = BatchSummary()
        for lines in self._batches(items):
            answer = self._post(
                "/v1/records:batch", b"\n".join(lines) + b"\n", "application/x-ndjson"
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

    def _post(self, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
        failure = "no attempt made"
        for attempt in range(self._retries + 1):
            if attempt:
                delay = self._backoff * 2 ** (attempt - 1)
                self._sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            try:
                response = self._http.post(path, content=body, headers=headers)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__} talking to {self._http.base_url}"
                continue
            if response.status_code >= 500 or self._in_progress(response):
                failure = f"HTTP {response.status_code} from {path}"
                continue
            answer: dict[str, Any] = _json(response)
            if response.status_code >= 400:
                raise Refused(
                    response.status_code,
                    str(answer.get("error", "http_error")),
                    str(answer.get("detail", "")),
                )
            return answer
        raise Unavailable(f"gave up after {self._retries + 1} attempts: {failure}")

    @staticmethod
    def _in_progress(response: httpx.Response) -> bool:
        if response.status_code not in _RETRY_STATUS:
            return False
        return response.status_code == 429 or _json(response).get("error") == "in_progress"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {"error": "http_error", "detail": f"HTTP {response.status_code}, not JSON"}
    return value if isinstance(value, dict) else {"error": "http_error", "detail": "not an object"}
