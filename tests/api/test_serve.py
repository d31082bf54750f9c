"""``servinfo serve`` as operators start it: the address, the workers, ``/metrics``."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
from tests.api.serving import STARTED, free_port, serve_command, serving

from servinfo.api.server import APP_FACTORY, uvicorn_options
from servinfo.collect.idempotency import Claim, StoredAnswer
from servinfo.deployment import create_deployment, open_deployment


@pytest.fixture(scope="module")
def deployment_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("serve") / "deployment"
    # A throwaway local deployment: its key beside the data is not warned about.
    create_deployment(data_dir, {}, local_demo=True)
    return data_dir


# -- a port that is taken ------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_is_one_line_naming_the_option(deployment_dir: Path, workers: int) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            serve_command(deployment_dir, port, workers),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: 127.0.0.1:{port} is already in use; choose another with --port "
        "(or server.port in servinfo.toml)"
    ]


def test_an_address_not_on_this_host_is_one_line(deployment_dir: Path) -> None:
    command = serve_command(deployment_dir, free_port(), 1)
    command[command.index("127.0.0.1")] = "192.0.2.1"  # TEST-NET-1, never a local address
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: cannot listen on 192.0.2.1:")
    assert "--host" in line


# -- workers start without being killed as hung ---------------------------------------

_UNPICKLE = """
import pickle, sys
pickle.loads(sys.stdin.buffer.read())
heavy = ("fastapi", "sqlalchemy", "prometheus_client", "servinfo.api.app", "servinfo.deployment")
print(" ".join(name for name in heavy if name in sys.modules))
"""


def test_a_worker_unpickles_its_configuration_without_the_application() -> None:
    """A worker answers uvicorn's health checks only once it has unpickled its configuration;
    importing the application then (seconds) got workers killed as hung at start-up."""
    config = uvicorn.Config(APP_FACTORY, **uvicorn_options("127.0.0.1", 8443, 2, None))
    loaded = subprocess.run(
        [sys.executable, "-c", _UNPICKLE],
        input=pickle.dumps(config),
        capture_output=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr.decode()[-2000:]
    assert loaded.stdout.decode().split() == []


@pytest.mark.slow
def test_two_workers_start_and_serve_with_none_killed(deployment_dir: Path, tmp_path: Path) -> None:
    with serving(deployment_dir, tmp_path / "serve.log", workers=2) as served:
        answers = [httpx.get(f"{served.url}/healthz", timeout=10) for _ in range(4)]
        log = served.log()
    assert {answer.status_code for answer in answers} == {200}
    assert log.count(STARTED) == 2
    assert "died" not in log
    assert "Traceback" not in log


# -- /metrics -------------------------------------------------------------------------

#: The families servinfo declares: each is in the exposition before any request.
DECLARED = (
    "# TYPE servinfo_http_requests_total counter",
    "# TYPE servinfo_decisions_total counter",
    "# TYPE servinfo_decision_seconds histogram",
)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_are_complete_from_start_up(
    deployment_dir: Path, tmp_path: Path, workers: int
) -> None:
    with serving(deployment_dir, tmp_path / "serve.log", workers=workers) as served:
        # No request before this one, which is counted only once it has been answered.
        first = httpx.get(f"{served.url}/metrics", timeout=10)
        for _ in range(3):
            httpx.get(f"{served.url}/healthz", timeout=10).raise_for_status()
        second = httpx.get(f"{served.url}/metrics", timeout=10)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    for line in DECLARED:
        assert line in first.text, first.text[:2000]
    assert "servinfo_http_requests_total{" not in first.text
    assert 'servinfo_http_requests_total{route="/healthz",status="200"}' in second.text
    requests = [
        line
        for line in second.text.splitlines()
        if line.startswith('servinfo_http_requests_total{route="/healthz"')
    ]
    # Every worker's count, not only the one that answered the scrape.
    assert requests == ['servinfo_http_requests_total{route="/healthz",status="200"} 3.0']


def test_serve_leaves_no_metrics_folder_to_a_single_worker(
    deployment_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker counts in its own registry, even if the variable was set before."""
    from servinfo.api.server import MULTIPROC_ENV, prepare_metrics

    monkeypatch.setenv(MULTIPROC_ENV, os.fspath(deployment_dir / "elsewhere"))
    prepare_metrics(deployment_dir, 1)
    assert MULTIPROC_ENV not in os.environ
    prepare_metrics(deployment_dir, 2)
    folder = Path(os.environ[MULTIPROC_ENV])
    assert folder == deployment_dir / "run" / "metrics"
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


# -- the command module stays light ---------------------------------------------------

_IMPORT_CLI = """
import sys
import servinfo.api.cli
heavy = ("uvicorn", "fastapi", "sqlalchemy", "prometheus_client", "servinfo.deployment",
         "servinfo.api.app", "servinfo.api.metrics")
print(" ".join(name for name in heavy if name in sys.modules))
"""


def test_the_serve_command_module_imports_nothing_heavy() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", _IMPORT_CLI], capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.split() == []


# -- recovery after a stop ------------------------------------------------------------


def test_serve_releases_the_claims_a_stopped_server_left_and_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {})
    with open_deployment(data_dir, {}) as deployment:
        store = deployment.collector.idempotency
        assert store is not None
        # Two requests in flight when the server was killed, one answered before.
        pending = store.claim_many([("p-1", "k-1", "h"), ("p-1", "k-2", "h")])
        answered = store.claim_many([("p-1", "k-3", "h")])[0]
        assert answered is not None
        assert all(pending)
        store.finish(answered, 201, {"id": "x"})
        assert store.existing("p-1", "k-1", "h") is None  # held: its lease runs
    with serving(data_dir, tmp_path / "serve.log", workers=1) as served:
        log = served.log()
    assert "recovered 2 keyed ingest request(s)" in log
    with open_deployment(data_dir, {}) as deployment:
        store = deployment.collector.idempotency
        assert store is not None
        assert isinstance(store.existing("p-1", "k-1", "h"), Claim)  # a retry takes over now
        assert isinstance(store.existing("p-1", "k-3", "h"), StoredAnswer)
