"""``servinfo serve``: the HTTPS API under uvicorn, one or several workers.

This module imports only the standard library, Typer and the CLI's own helpers:
``servinfo --help`` loads it without uvicorn, FastAPI or the deployment, which
``serve`` imports when it runs (see :mod:`servinfo.api.server` for the steps).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption
from servinfo.cli._output import err_console


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def start_job_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    """``servinfo worker`` as a child process: jobs run apart from the requests' workers.

    A child rather than a thread of each uvicorn worker: one job worker however
    many API workers there are, its CPU out of the requests' processes, and the
    same process an operator runs elsewhere with ``servinfo worker``. It exits
    when this process does (``--exit-with-parent PID``), even after a ``kill -9``.
    """
    command = [sys.executable, "-m", "servinfo", "worker", "--data-dir", str(data_dir)]
    parent = ["--exit-with-parent", str(os.getpid())]
    return subprocess.Popen([*command, *parent])  # noqa: S603 - our own command


def stop_job_worker(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM: the running job finishes first; after ``timeout`` seconds it is killed
    (its lease then runs out and another worker takes the job over)."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Start no job worker: jobs run only where 'servinfo worker' runs.",
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
    server.keep_files_private()
    server.prepare_metrics(directory, workers)
    if insecure_http:
        err_console.print(
            "warning: serving plain HTTP; Service Information crosses the network unencrypted "
            "unless a proxy in front terminates TLS",
            markup=False,
        )
    tls = None if insecure_http else (settings.tls_cert_file, settings.tls_key_file)
    # One job worker beside the API, however many uvicorn workers serve it (docs/jobs.md).
    job_worker = None if no_worker else start_job_worker(directory)
    try:
        server.run(server.uvicorn_options(host, port, workers, tls, settings.trusted_proxies))
    finally:
        if job_worker is not None:
            stop_job_worker(job_worker)
