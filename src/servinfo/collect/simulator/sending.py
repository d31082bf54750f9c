"""Sending the simulation to a running servinfo, each object as the service that reports it.

Every service gets a client with its own token; the routing (identity first,
each object as its service) is :func:`servinfo.collect.by_service.deliver`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from servinfo.collect.by_service import CHUNK, ClientSender, Delivery, deliver, numbered_lines
from servinfo.collect.simulator.simulation import SimulationError

if TYPE_CHECKING:
    from servinfo.client import BatchSummary


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


def send(
    objects: Iterable[dict[str, Any]],
    url: str,
    tokens: Mapping[str, str | None],
    verify: bool | str = True,
    factory: ClientFactory | None = None,
    chunk: int = CHUNK,
) -> Delivery:
    """Send every object through the client of its service.

    ``tokens`` names every service that may send; a missing token fails before
    anything is sent.
    """
    missing = [service for service, token in tokens.items() if not token]
    if missing:
        options = ", ".join(f"--token-{s} (or SERVINFO_TOKEN_{s.upper()})" for s in missing)
        raise SimulationError(f"--ingest needs a service principal's token per service: {options}")
    make = factory or default_client_factory()
    with ExitStack() as stack:

        def sender_for(service: str) -> ClientSender:
            token = tokens.get(service)
            if not token:
                raise SimulationError(
                    f"no token for the {service} service, which sends {service} records"
                )
            client = stack.enter_context(make(url, token, verify=verify))
            return ClientSender(client)

        return deliver(numbered_lines(objects), sender_for, chunk=chunk)
