"""``servinfo ingest FILE.ndjson``: load a file of objects, through the API or directly.

With ``--url`` the lines go through :class:`servinfo.client.Client` (HTTPS,
batches, retries, idempotency keys); without it, straight into the deployment
in ``--data-dir`` through the same :class:`~servinfo.collect.service.Collector`
the API uses. A service principal may write only its own service's kinds, so
a file that mixes services (as 'servinfo simulate' writes) is sent each object
as the service that reports it (:mod:`servinfo.collect.by_service`): with a
token file per service (``--service-token SERVICE=FILE``), or, straight into
the deployment, by an operator who may manage principals (``--as-services``),
as the active service principal bound to each service.

A progress bar follows the bytes read; the summary lists accepted and rejected
lines and the first rejection reasons with their line numbers.

Exit status: 0 when every line was accepted (or the file had none); 2 when the
file cannot be read, the server refuses the request, or any line was rejected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.cli._session import read_token_file, resolve_token
from servinfo.collect.errors import CollectError

if TYPE_CHECKING:
    from servinfo.collect.by_service import Delivery, Sender
    from servinfo.deployment import Deployment

_SHOWN_REJECTIONS = 10


class IngestFailed(CollectError):
    code = "ingest_failed"


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    file: Annotated[Path, typer.Argument(help="NDJSON: one object per line.")],
    url: Annotated[
        str | None, typer.Option("--url", help="Send through the API at this URL.")
    ] = None,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", help="The server's certificate or CA (with --url)."),
    ] = None,
    service_tokens: Annotated[
        list[str] | None,
        typer.Option(
            "--service-token",
            help="SERVICE=FILE: send that service's objects with the token in FILE "
            "(repeat for each service of a file that mixes services).",
            show_default=False,
        ),
    ] = None,
    as_services: Annotated[
        bool,
        typer.Option(
            "--as-services",
            help="Straight into the deployment, send each object as the service principal "
            "bound to its service; your token needs the manage_principals permission.",
        ),
    ] = False,
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, max=100_000, help="Lines per batch.")
    ] = 1000,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load Service Information from an NDJSON file (as 'servinfo simulate' writes it)."""
    token = resolve_token(token, token_file)
    if as_services and (url is not None or service_tokens):
        raise IngestFailed(
            "--as-services sends straight into the deployment: leave out --url and "
            "--service-token (with --url, give --service-token SERVICE=FILE per service)"
        )
    tokens = _service_tokens(service_tokens or [])
    try:
        handle = file.open("rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise IngestFailed(f"cannot read {file}: {error.strerror}") from None
    with handle, _progress(as_json) as progress:
        task = progress.add_task("ingesting", total=size)
        lines = enumerate(_lines(handle, lambda n: progress.advance(task, n)), 1)
        if url is not None:
            delivery = _through_api(url, token, tokens, cacert, chunk, lines)
        else:
            delivery = _directly(data_dir, token, tokens, as_services, chunk, lines)
    _report(file, delivery, as_json)
    if delivery.rejected:
        raise typer.Exit(2)


def _service_tokens(pairs: list[str]) -> dict[str, str]:
    """``SERVICE=FILE`` pairs as service → token (read from the file, never shown)."""
    tokens: dict[str, str] = {}
    for pair in pairs:
        service, sep, path = pair.partition("=")
        if not sep or not service or not path:
            raise IngestFailed(f"--service-token: got {pair!r}, expected SERVICE=FILE")
        tokens[service] = read_token_file(Path(path), f"--service-token {service}")
    return tokens


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def _lines(handle: BinaryIO, advance: Any) -> Iterator[bytes]:
    for line in handle:
        advance(len(line))
        yield line


def _through_api(
    url: str,
    token: str | None,
    tokens: dict[str, str],
    cacert: Path | None,
    chunk: int,
    lines: Iterator[tuple[int, bytes]],
) -> Delivery:
    from servinfo.client import Client
    from servinfo.collect.by_service import ClientSender, deliver
    from servinfo.collect.errors import NoSender

    if not token and not tokens:
        raise IngestFailed("no token: pass --token-file, set SERVINFO_TOKEN, or --service-token")
    verify: bool | str = str(cacert) if cacert is not None else True
    with ExitStack() as stack:
        senders: dict[str, ClientSender] = {}

        def sender_for(service: str) -> ClientSender:
            chosen = tokens.get(service, token)
            if not chosen:
                raise NoSender(f"no --service-token for service {service!r}")
            if chosen not in senders:
                client = Client(url, chosen, verify=verify, batch_size=chunk)
                senders[chosen] = ClientSender(stack.enter_context(client))
            return senders[chosen]

        return deliver(lines, sender_for, chunk=chunk)


def _directly(
    data_dir: Path | None,
    token: str | None,
    tokens: dict[str, str],
    as_services: bool,
    chunk: int,
    lines: Iterator[tuple[int, bytes]],
) -> Delivery:
    from servinfo.collect.by_service import deliver
    from servinfo.deployment import open_deployment

    with open_deployment(data_dir, dict(os.environ)) as deployment:
        if as_services:
            operator = deployment.principal_service.authorize(token, "manage_principals")
            delivery = deliver(lines, _bound_services(deployment, chunk), chunk=chunk)
            deployment.audit.record(
                "ingest_as_services",
                actor=operator.name,
                outcome="sent",
                details={
                    "lines": delivery.lines,
                    "accepted": delivery.accepted_total,
                    "rejected": len(delivery.rejected),
                },
            )
            return delivery
        return deliver(lines, _token_senders(deployment, token, tokens, chunk), chunk=chunk)


def _token_senders(
    deployment: Deployment, token: str | None, tokens: dict[str, str], chunk: int
) -> Callable[[str], Sender]:
    """Each service's objects sent as its --service-token's principal, else as --token's."""
    from servinfo.collect.by_service import CollectorSender
    from servinfo.collect.errors import NoSender

    authenticate = deployment.principal_service.authenticate
    if not tokens:
        everything = CollectorSender(deployment.collector, authenticate(token), chunk)
        return lambda service: everything
    by_service = {
        service: CollectorSender(deployment.collector, authenticate(t), chunk)
        for service, t in tokens.items()
    }
    default = CollectorSender(deployment.collector, authenticate(token), chunk) if token else None

    def sender_for(service: str) -> Sender:
        sender = by_service.get(service, default)
        if sender is None:
            raise NoSender(f"no --service-token for service {service!r}")
        return sender

    return sender_for


def _bound_services(deployment: Deployment, chunk: int) -> Callable[[str], Sender]:
    """Each service's objects sent as the active service principal bound to it."""
    from servinfo.collect.by_service import CollectorSender
    from servinfo.collect.errors import NoSender

    bound = {
        p.binding: p
        for p in deployment.principal_service.all(include_revoked=False)
        if p.kind == "service" and p.binding is not None and p.role == "ingest"
    }

    def sender_for(service: str) -> Sender:
        principal = bound.get(service)
        if principal is None:
            raise NoSender(
                f"no active service principal is bound to service {service!r}: add one with "
                f"'servinfo principals add NAME --kind service --role ingest --binding {service}'"
            )
        return CollectorSender(deployment.collector, principal, chunk)

    return sender_for


def _report(file: Path, delivery: Delivery, as_json: bool) -> None:
    rejected = delivery.rejected
    if as_json:
        print_json(
            {
                "lines": delivery.lines,
                "accepted": delivery.accepted_total,
                "accepted_by_service": delivery.accepted,
                "rejected_count": len(rejected),
                "rejected": [
                    {"line": r.line, "service": r.service, "error": r.error, "detail": r.detail}
                    for r in rejected
                ],
            }
        )
        return
    table = Table(title=f"ingest {file.name}", show_header=True)
    table.add_column("lines", justify="right")
    table.add_column("accepted", justify="right")
    table.add_column("rejected", justify="right")
    table.add_row(str(delivery.lines), str(delivery.accepted_total), str(len(rejected)))
    console.print(table)
    for entry in rejected[:_SHOWN_REJECTIONS]:
        console.print(f"line {entry.line}: {entry.error}: {entry.detail}", markup=False)
    if len(rejected) > _SHOWN_REJECTIONS:
        console.print(f"… and {len(rejected) - _SHOWN_REJECTIONS} more rejected lines")
