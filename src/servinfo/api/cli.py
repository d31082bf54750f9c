"""``servinfo serve``: the HTTPS API under uvicorn, one or several workers.

This module imports only the standard library, Typer and the CLI's own helpers:
``servinfo --help`` loads it without uvicorn, FastAPI or the deployment, which
``serve`` imports when it runs (see :mod:`servinfo.api.server` for the steps).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption
from servinfo.cli._output import err_console


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
    from servinfo.api import server
    from servinfo.config import DATA_DIR_ENV, load_settings, resolve_data_dir
    from servinfo.deployment import open_deployment
    from servinfo.deployment.key_location import master_key_warning

    env = dict(os.environ)
    directory = resolve_data_dir(data_dir, env).resolve()
    settings = load_settings(directory, env)
    warning = master_key_warning(settings, env)
    if warning is not None:
        err_console.print(warning, markup=False, highlight=False, soft_wrap=True)
    # Open once here so that a wrong master key or a broken deployment stops
    # start-up with its one-line error, before any worker is started; and take
    # over what the last stop left in flight.
    with open_deployment(directory, env) as deployment:
        for line in server.recover(deployment):
            err_console.print(line, markup=False)
    host, port, workers = host or settings.host, port or settings.port, workers or settings.workers
    server.check_address(host, port)

    os.environ[DATA_DIR_ENV] = str(directory)
    server.prepare_metrics(directory, workers)
    if insecure_http:
        err_console.print(
            "warning: serving plain HTTP; Service Information crosses the network unencrypted "
            "unless a proxy in front terminates TLS",
            markup=False,
        )
    tls = None if insecure_http else (settings.tls_cert_file, settings.tls_key_file)
    server.run(server.uvicorn_options(host, port, workers, tls, settings.trusted_proxies))
