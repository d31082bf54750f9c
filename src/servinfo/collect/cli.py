"""``servinfo ingest FILE.ndjson``: load a file of objects, through the API or directly.

With ``--url`` the lines go through :class:`servinfo.client.Client` (HTTPS,
batches, retries, idempotency keys); without it, straight into the deployment
in ``--data-dir`` through the same :class:`~servinfo.collect.service.Collector`
the API uses, authenticated with the same service token. A progress bar
follows the bytes read; the summary lists accepted and rejected lines and the
first rejection reasons with their line numbers.

Exit status: 0 when the file was read and at least one line accepted (or it
had no lines); 2 when the file cannot be read, the server refuses the
request, or every line was rejected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from servinfo.cli._options import DataDirOption, JsonOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.collect.errors import CollectError

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
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, max=100_000, help="Lines per batch.")
    ] = 1000,
    data_dir: DataDirOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load Service Information from an NDJSON file (as 'servinfo simulate' writes it)."""
    try:
        handle = file.open("rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise IngestFailed(f"cannot read {file}: {error.strerror}") from None
    with handle, _progress(as_json) as progress:
        task = progress.add_task("ingesting", total=size)
        lines = _lines(handle, lambda n: progress.advance(task, n))
        if url is not None:
            summary = _through_api(url, token, cacert, chunk, lines)
        else:
            summary = _directly(data_dir, token, chunk, lines)
    _report(file, summary, as_json)
    if summary["lines"] and not summary["accepted"]:
        raise typer.Exit(2)


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
    url: str, token: str | None, cacert: Path | None, chunk: int, lines: Iterator[bytes]
) -> dict[str, Any]:
    from servinfo.client import Client

    if not token:
        raise IngestFailed("no token: pass --token or set SERVINFO_TOKEN")
    verify: bool | str = str(cacert) if cacert is not None else True
    # Blank lines are not sent, so the file's line numbers are kept here.
    numbers: list[int] = []

    def sent_lines() -> Iterator[bytes]:
        for number, line in enumerate(lines, 1):
            if line.strip():
                numbers.append(number)
                yield line

    with Client(url, token, verify=verify, batch_size=chunk) as client:
        sent = client.send_many(sent_lines())
    return {
        "lines": sent.lines,
        "accepted": sent.accepted,
        "rejected": [
            {"line": numbers[r.line - 1], "error": r.error, "detail": r.detail}
            for r in sent.rejected
        ],
    }


def _directly(
    data_dir: Path | None, token: str | None, chunk: int, lines: Iterator[bytes]
) -> dict[str, Any]:
    from servinfo.deployment import open_deployment

    with open_deployment(data_dir, dict(os.environ)) as deployment:
        principal = deployment.principal_service.authenticate(token)
        result = deployment.collector.ingest_lines(principal, lines, chunk_size=chunk)
    return {
        "lines": result.lines,
        "accepted": len(result.accepted),
        "rejected": result.rejected,
    }


def _report(file: Path, summary: dict[str, Any], as_json: bool) -> None:
    rejected = summary["rejected"]
    if as_json:
        print_json({**summary, "rejected_count": len(rejected)})
        return
    table = Table(title=f"ingest {file.name}", show_header=True)
    table.add_column("lines", justify="right")
    table.add_column("accepted", justify="right")
    table.add_column("rejected", justify="right")
    table.add_row(str(summary["lines"]), str(summary["accepted"]), str(len(rejected)))
    console.print(table)
    for entry in rejected[:_SHOWN_REJECTIONS]:
        console.print(
            f"line {entry['line']}: {entry['error']}: {entry['detail']}",
            markup=False,
        )
    if len(rejected) > _SHOWN_REJECTIONS:
        console.print(f"… and {len(rejected) - _SHOWN_REJECTIONS} more rejected lines")
