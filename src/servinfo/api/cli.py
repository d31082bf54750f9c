"""``servinfo serve``: the HTTPS API under uvicorn, one or several workers."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer
import uvicorn

from servinfo.api._protocol import NoDelayHttpToolsProtocol
from servinfo.api.metrics import MULTIPROC_ENV
from servinfo.cli._options import DataDirOption
from servinfo.cli._output import err_console
from servinfo.config import DATA_DIR_ENV, load_settings, resolve_data_dir
from servinfo.deployment import open_deployment


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Default: server.host.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Default: server.port.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=64, help="Default: server.workers.")
    ] = None,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="Serve plain HTTP: only behind a proxy that terminates TLS.",
        ),
    ] = False,
) -> None:
    """Serve the API over HTTPS with the deployment's certificate."""
    env = dict(os.environ)
    directory = resolve_data_dir(data_dir, env).resolve()
    settings = load_settings(directory, env)
    # Open once here so that a wrong master key or a broken deployment stops
    # start-up with its one-line error, before any worker is forked.
    open_deployment(directory, env).close()

    os.environ[DATA_DIR_ENV] = str(directory)
    metrics_dir = directory / "run" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(metrics_dir)

    tls: dict[str, str] = {}
    if insecure_http:
        err_console.print(
            "warning: serving plain HTTP; Service Information crosses the network unencrypted "
            "unless a proxy in front terminates TLS",
            markup=False,
        )
    else:
        tls = {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
        }
    uvicorn.run(
        "servinfo.api.app:app_from_environment",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level="info",
        # Raw paths carry subject ids; the app logs route templates instead.
        access_log=False,
        http=NoDelayHttpToolsProtocol,
        loop="uvloop",
        **tls,  # type: ignore[arg-type]
    )
