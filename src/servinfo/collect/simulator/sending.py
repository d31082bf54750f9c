"""Sending the simulation to a running servinfo, each object as the service that reports it.

A service principal may write only its own service's kinds, so every service
gets a client with its own token. Organizations and subjects are registered by
the cloud identity service; a record goes to the service named by its
``source``. Objects are sent in chunks; within a chunk the identity service
goes first, so a subject that signs up is registered before any record of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from servinfo.collect.simulator.simulation import SimulationError

if TYPE_CHECKING:
    from servinfo.client import BatchSummary, Rejection

#: The service that registers organizations and subjects.
IDENTITY = "identity"
CHUNK = 2000


class IngestClient(Protocol):
    """What :class:`servinfo.client.Client` offers the simulator."""

    def __enter__(self) -> IngestClient: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def send_many(self, items: Iterable[object]) -> BatchSummary: ...


class ClientFactory(Protocol):
    def __call__(self, url: str, token: str, *, verify: bool | str = ...) -> IngestClient: ...


def default_client_factory() -> ClientFactory:
    """:class:`servinfo.client.Client`, imported when it is needed."""
    from servinfo.client import Client

    return Client


def service_of(obj: Mapping[str, Any]) -> str:
    """The service that sends ``obj``: identity for organizations and subjects, else its source."""
    if obj.get("type", "record") != "record":
        return IDENTITY
    return str(obj.get("source") or IDENTITY)


@dataclass
class Sent:
    """What was sent, accepted and rejected per service."""

    objects: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[str, Rejection]] = field(default_factory=list)

    def add(self, service: str, sent: int, summary: BatchSummary) -> None:
        self.objects[service] = self.objects.get(service, 0) + sent
        self.accepted[service] = self.accepted.get(service, 0) + summary.accepted
        self.rejected.extend((service, rejection) for rejection in summary.rejected)


def send(
    objects: Iterable[dict[str, Any]],
    url: str,
    tokens: Mapping[str, str | None],
    verify: bool | str = True,
    factory: ClientFactory | None = None,
    chunk: int = CHUNK,
) -> Sent:
    """Send every object through the client of its service.

    ``tokens`` names every service that may send; a missing token fails before
    anything is sent.
    """
    missing = [service for service, token in tokens.items() if not token]
    if missing:
        options = ", ".join(f"--token-{s} (or SERVINFO_TOKEN_{s.upper()})" for s in missing)
        raise SimulationError(f"--ingest needs a service principal's token per service: {options}")
    make = factory or default_client_factory()
    sent = Sent()
    with ExitStack() as stack:
        clients: dict[str, IngestClient] = {}

        def client(service: str) -> IngestClient:
            if service not in clients:
                token = tokens.get(service)
                if not token:
                    raise SimulationError(
                        f"no token for the {service} service, which sends {service} records"
                    )
                clients[service] = stack.enter_context(make(url, token, verify=verify))
            return clients[service]

        for batch in _chunks(objects, chunk):
            by_service: dict[str, list[dict[str, Any]]] = {IDENTITY: []}
            for obj in batch:
                by_service.setdefault(service_of(obj), []).append(obj)
            for service, group in by_service.items():
                if group:
                    sent.add(service, len(group), client(service).send_many(group))
    return sent


def _chunks(objects: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
