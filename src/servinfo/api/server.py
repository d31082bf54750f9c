"""Running the API under uvicorn: the address, the metrics folder, one worker or several.

``servinfo serve`` (``servinfo.api.cli``) calls these in order:

0. :func:`recover` takes over what the last stop left in flight, before any
   request is served.
1. :func:`check_address` binds the address once and lets it go, so that a port
   that is taken is reported as one line naming the option that changes it,
   before any worker starts (uvicorn would log ``[Errno 98]`` and exit 1).
2. :func:`keep_files_private` narrows the umask for every process that follows.
3. :func:`prepare_metrics` decides where ``/metrics`` reads from (see
   :mod:`servinfo.api.metrics`).
4. The job worker starts (:mod:`servinfo.jobs`), then :func:`run` hands over to
   uvicorn.

Worker health checks. With several workers, uvicorn's supervisor spawns each
worker and pings it every half second; a worker that does not answer within
``timeout_worker_healthcheck`` (5 s) is killed as hung and replaced ("Child
process [N] died"). A worker answers from a thread it starts only once it has
unpickled its configuration. That configuration used to carry the HTTP
protocol *class*, and unpickling it imported ``servinfo.api``, whose package
module imported the whole application (FastAPI, SQLAlchemy, every domain):
seconds of start-up in which the worker could not answer, and on a busy or
cold machine more than five. The configuration now names the protocol and the
application by strings, and ``servinfo.api`` imports nothing when imported:
a worker starts answering at once and builds the application afterwards, in
uvicorn's own start-up, while its health-check thread keeps answering.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servinfo.errors import ServinfoError

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = [
    "APP_FACTORY",
    "MULTIPROC_ENV",
    "PROTOCOL",
    "AddressUnavailable",
    "check_address",
    "keep_files_private",
    "prepare_metrics",
    "recover",
    "run",
    "uvicorn_options",
]

#: What each worker imports and calls, named rather than passed (see above).
APP_FACTORY = "servinfo.api.app:app_from_environment"
PROTOCOL = "servinfo.api._protocol:NoDelayHttpToolsProtocol"
#: The variable prometheus-client reads when it is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class AddressUnavailable(ServinfoError):
    """The server cannot listen on the address it was given."""

    code = "address_unavailable"


def recover(deployment: Deployment) -> list[str]:
    """Release what a stop (a crash, a kill) left in flight; a line for each thing released.

    Keyed ingest requests answered by no one keep their claims until the lease
    ends; released now, their retries resume at once (and store nothing twice:
    see :mod:`servinfo.collect.idempotency`). Reads leave nothing to recover: a
    read is answered only once its audit entries are committed
    (:mod:`servinfo.audit.buffer`), so a stop loses only the entries of reads
    nobody was answered. The audit log's unsigned tail is signed; a log the
    signer refuses raises (:class:`~servinfo.audit.signer.SignerRefused`).
    """
    lines = []
    store = deployment.collector.idempotency
    released = store.release_unanswered() if store is not None else 0
    if released:
        lines.append(
            f"recovered {released} keyed ingest request(s) left unanswered by the last stop: "
            "their retries resume now and store nothing twice"
        )
    # Entries a stop left without a checkpoint are signed before anything is served;
    # a log the signer refuses (it does not extend the last checkpoint) is not served.
    if not deployment.audit.signs:
        return lines
    signed = deployment.audit.signer_state()
    before = signed.size if signed is not None else 0
    deployment.audit.checkpoint()
    after = deployment.audit.signer_state()
    if after is not None and after.size > before:
        lines.append(
            f"signed an audit checkpoint of {after.size} entries: "
            f"{after.size - before} were left unsigned by the last stop"
        )
    return lines


def check_address(host: str, port: int, *, in_settings: bool = True) -> None:
    """Bind ``host:port`` as uvicorn will, then release it; raise :class:`AddressUnavailable`.

    ``in_settings``: the address also comes from ``servinfo.toml`` (``servinfo
    serve``), so the message names those settings too (not for ``witness serve``).
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    port_hint = " (or server.port in servinfo.toml)" if in_settings else ""
    both_hint = " (or server.host and server.port in servinfo.toml)" if in_settings else ""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family=family) as probe:
        # As uvicorn does: a port whose last connections are in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise AddressUnavailable(
                    f"{shown} is already in use; choose another with --port{port_hint}"
                ) from None
            reason = error.strerror or str(error)
            raise AddressUnavailable(
                f"cannot listen on {shown}: {reason.lower()}; choose another with --host and "
                f"--port{both_hint}"
            ) from None


def keep_files_private() -> None:
    """Narrow the umask: what the server creates is its user's alone.

    Called before any worker starts: the API workers and the job worker inherit
    it, and the metrics files they create are then 0600.
    """
    os.umask(os.umask(0o077) | 0o077)


def prepare_metrics(data_dir: Path, workers: int) -> None:
    """Point the workers at one empty metrics folder, or serve a single worker's own counts.

    prometheus-client chooses between counting in memory and counting in files
    of ``PROMETHEUS_MULTIPROC_DIR`` once, when it is first imported. With one
    worker, the server is this process, which may have imported it already
    (``serve`` used to import the metrics before it set the variable, and
    ``/metrics`` then read an empty folder): here nothing is set, and the
    process's own registry is the whole server. Several workers are fresh
    interpreters that inherit the variable set here, so they all count in
    files, whatever this process imported first.

    The folder is the server's user's alone (0700); the files prometheus-client
    creates in it take the umask :func:`keep_files_private` narrows.
    """
    if workers == 1:
        os.environ.pop(MULTIPROC_ENV, None)
        return
    run = data_dir / "run"
    folder = run / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    for private in (run, folder):  # run/ may come from a version that left it open
        private.chmod(0o700)
    os.environ[MULTIPROC_ENV] = str(folder)


def uvicorn_options(
    host: str,
    port: int,
    workers: int,
    tls: tuple[Path, Path] | None,
    trusted_proxies: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run``; ``tls`` is (certificate, key) or None.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, so
    any local process could choose the address the rate limits count it under.
    Forwarded headers are believed only from ``server.trusted_proxies``.
    """
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "info",
        # Raw paths carry subject ids; the app logs route templates instead.
        "access_log": False,
        "http": PROTOCOL,
        "loop": "uvloop",
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": list(trusted_proxies),
    }
    if tls is not None:
        options["ssl_certfile"], options["ssl_keyfile"] = str(tls[0]), str(tls[1])
    return options


def run(options: dict[str, Any]) -> None:
    """Serve until interrupted."""
    import uvicorn

    uvicorn.run(APP_FACTORY, **options)
