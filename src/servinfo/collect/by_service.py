"""Objects that several services report, each sent as the service that reports it.

A service principal may write only its own service's kinds, but a file (what
``servinfo simulate`` writes, an export of several systems) mixes services. Each
object goes to the sender of its service: the cloud identity service for
organizations and subjects, else the service named by its ``source``. Objects
are taken in chunks; within a chunk each service's objects keep their order and
the identity service goes first, so a subject that signs up is registered
before any record of it. Every rejection keeps the object's own line number.

The senders are the HTTPS client (:class:`ClientSender`) or the collector of an
open deployment (:class:`CollectorSender`): the same routing serves
``servinfo ingest``, ``servinfo simulate --ingest`` and ``servinfo demo``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from servinfo.collect.errors import MalformedJSON, NoSender, SchemaViolation

if TYPE_CHECKING:
    from servinfo.client import BatchSummary
    from servinfo.collect.service import Collector
    from servinfo.store import Principal

__all__ = [
    "IDENTITY",
    "ClientSender",
    "CollectorSender",
    "Delivery",
    "NoSender",
    "Rejected",
    "Sender",
    "SendsMany",
    "deliver",
    "numbered_lines",
    "service_of",
]

#: The service that registers organizations and subjects.
IDENTITY = "identity"
CHUNK = 2000


def service_of(obj: Mapping[str, Any]) -> str:
    """The service that sends ``obj``: identity for organizations and subjects, else its source."""
    if obj.get("type", "record") != "record":
        return IDENTITY
    return str(obj.get("source") or IDENTITY)


@dataclass(frozen=True)
class Rejected:
    """A refused object: its line number, the service it was sent as, and why."""

    line: int
    service: str
    error: str
    detail: str


class Sender(Protocol):
    """Sends NDJSON lines as one service; answers the count accepted and each refusal
    as ``(position, error, detail)``, positions counting from 1 over ``lines``."""

    def send(self, lines: list[bytes]) -> tuple[int, list[tuple[int, str, str]]]: ...


class SendsMany(Protocol):
    """What :class:`servinfo.client.Client` offers a sender."""

    def send_many(self, items: Iterable[object]) -> BatchSummary: ...


class ClientSender:
    """Sends through the API with one service's :class:`~servinfo.client.Client`."""

    def __init__(self, client: SendsMany) -> None:
        self._client = client

    def send(self, lines: list[bytes]) -> tuple[int, list[tuple[int, str, str]]]:
        summary = self._client.send_many(lines)
        return summary.accepted, [(r.line, r.error, r.detail) for r in summary.rejected]


class CollectorSender:
    """Sends straight into an open deployment's collector, as one service principal."""

    def __init__(self, collector: Collector, principal: Principal, chunk_size: int = 1000) -> None:
        self._collector = collector
        self._principal = principal
        self._chunk_size = chunk_size

    def send(self, lines: list[bytes]) -> tuple[int, list[tuple[int, str, str]]]:
        result = self._collector.ingest_lines(self._principal, lines, chunk_size=self._chunk_size)
        return len(result.accepted), [(r["line"], r["error"], r["detail"]) for r in result.rejected]


@dataclass
class Delivery:
    """What was sent, accepted and refused, per service."""

    lines: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def accepted_total(self) -> int:
        return sum(self.accepted.values())


def numbered_lines(objects: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, bytes]]:
    """Objects as NDJSON lines numbered from 1, the form :func:`deliver` takes."""
    for number, obj in enumerate(objects, 1):
        yield number, json.dumps(obj, separators=(",", ":")).encode()


def deliver(
    lines: Iterable[tuple[int, bytes]],
    sender_for: Callable[[str], Sender],
    *,
    chunk: int = CHUNK,
    on_chunk: Callable[[int], None] | None = None,
) -> Delivery:
    """Send each non-blank numbered line through the sender of its service.

    ``sender_for(service)`` raises :class:`NoSender` when nothing may send as
    that service: its objects are refused, the others still sent. A line that
    is not a JSON object cannot name its service: it is refused here, as the
    collector would refuse it. ``on_chunk`` receives the number of lines of
    each chunk once it is sent.
    """
    delivery = Delivery()
    senders: dict[str, Sender] = {}
    for batch in _chunks(lines, chunk):
        groups: dict[str, list[tuple[int, bytes]]] = {IDENTITY: []}
        for number, line in batch:
            delivery.lines += 1
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                where = f"line {number}, column {error.colno}: {error.msg}"
                delivery.rejected.append(Rejected(number, "", MalformedJSON.code, where))
                continue
            except UnicodeDecodeError:
                where = f"line {number}: not UTF-8"
                delivery.rejected.append(Rejected(number, "", MalformedJSON.code, where))
                continue
            if not isinstance(obj, dict):
                refusal = "a line must hold a JSON object"
                delivery.rejected.append(Rejected(number, "", SchemaViolation.code, refusal))
                continue
            groups.setdefault(service_of(obj), []).append((number, line))
        for service, group in groups.items():
            if not group:
                continue
            delivery.sent[service] = delivery.sent.get(service, 0) + len(group)
            try:
                if service not in senders:
                    senders[service] = sender_for(service)
            except NoSender as error:
                delivery.rejected.extend(
                    Rejected(number, service, error.code, error.message) for number, _ in group
                )
                continue
            accepted, refusals = senders[service].send([line for _, line in group])
            delivery.accepted[service] = delivery.accepted.get(service, 0) + accepted
            delivery.rejected.extend(
                Rejected(group[position - 1][0], service, error, detail)
                for position, error, detail in refusals
            )
        if on_chunk is not None:
            on_chunk(len(batch))
    delivery.rejected.sort(key=lambda r: r.line)
    return delivery


def _chunks(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for number, line in lines:
        if not line.strip():
            continue
        batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
