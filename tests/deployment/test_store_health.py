"""A corrupt, swapped, read-only or full store: 503 with its cause, /readyz fails, ingest waits.

How the failures are made, for real and without root:

* corruption: 12 KB of random bytes written over a region database's pages;
* a full disk: in the server, SQLite's ``PRAGMA max_page_count`` set to the
  database's current size on every connection of the region's engine (SQLite then
  answers ``database or disk is full``, as on a full file system); for the CLI, a
  real full file system: an 8 MiB tmpfs filled up, mounted in a private namespace;
* a read-only data directory: a read-only bind mount of the directory inside a
  private user and mount namespace (``unshare --map-root-user --mount``), which
  binds root too — ``chmod`` would not, and the tests may run as root. Skipped
  where the kernel allows no such namespace.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from tests.collect.world import IngestWorld, ingest_world, login, ndjson, populate

from servinfo.crypto import write_secret_file


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("template") / "deployment"
    return path, populate(path)


@pytest.fixture
def deployment_dir(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> Path:
    copy = tmp_path / "deployment"
    shutil.copytree(template[0], copy)
    return copy


@pytest.fixture
def tokens(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return dict(template[1])


def _stores_checked(world: IngestWorld, timeout: float = 30.0) -> dict[str, Any]:
    """The /healthz answer once every store has been checked at least once."""
    deadline = time.monotonic() + timeout
    while True:
        answer = world.client.get("/healthz")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        stores = body.get("stores", {})
        if stores and all(s["status"] != "unchecked" for s in stores.values()):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def _corrupt(database: Path, *, offset: int = 16_384, size: int = 12 * 1024) -> None:
    noise = random.Random(14).randbytes(size)
    with database.open("r+b") as handle:
        handle.seek(offset)
        handle.write(noise)


def test_a_healthy_deployment_is_ready(deployment_dir: Path, tokens: dict[str, str]) -> None:
    with ingest_world(deployment_dir, tokens) as world:
        body = _stores_checked(world)
        assert body["status"] == "ok"
        assert set(body["stores"]) == {"control", *world.deployment.regions}
        for store in body["stores"].values():
            assert store["status"] == "ok"
            assert store["checked_at"] is not None
        ready = world.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"


def test_a_corrupt_region_database_fails_its_check_and_ingest_is_refused(
    deployment_dir: Path, tokens: dict[str, str]
) -> None:
    _corrupt(deployment_dir / "regions" / "eu.db")
    with ingest_world(deployment_dir, tokens) as world:
        body = _stores_checked(world)
        assert body["status"] == "degraded"
        eu = body["stores"]["eu"]
        assert eu["status"] == "failed"
        assert "quick_check" in eu["reason"] or "corrupt" in eu["reason"]
        assert body["stores"]["us"]["status"] == "ok"

        ready = world.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"] == "store_unavailable"
        assert "eu store" in ready.json()["detail"]

        for answer in (
            world.post("identity", login()),
            world.batch("identity", ndjson([login(), login()])),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "store_unavailable"
            assert "eu store" in answer.json()["detail"]


def test_a_region_database_swapped_while_serving_fails_its_check(
    deployment_dir: Path, tokens: dict[str, str], tmp_path: Path
) -> None:
    from servinfo.deployment import create_deployment

    create_deployment(tmp_path / "other", {})
    with ingest_world(deployment_dir, tokens) as world:
        assert _stores_checked(world)["status"] == "ok"
        target = deployment_dir / "regions" / "us.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(tmp_path / "other" / "regions" / "us.db", target)
        world.deployment.health.check_now()
        us = world.client.get("/healthz").json()["stores"]["us"]
        assert us["status"] == "failed"
        assert "another deployment" in us["reason"]
        assert world.client.get("/readyz").status_code == 503


def _fill_up(engine: Engine) -> None:
    """Make the database "full": no connection of ``engine`` may grow it past its size now."""

    @event.listens_for(engine, "connect")
    def _no_more_pages(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    engine.dispose()


def test_a_full_disk_answers_503_with_its_cause(
    deployment_dir: Path, tokens: dict[str, str]
) -> None:
    with ingest_world(deployment_dir, tokens) as world:
        _fill_up(world.deployment.regions["eu"])
        lines = [login(user_agent="x" * 900) for _ in range(600)]
        answer = world.batch("identity", ndjson(lines))
        assert answer.status_code == 503, answer.text[:300]
        assert answer.json() == {
            "error": "store_unavailable",
            "detail": "the eu store is out of space: disk full",
        }


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _can_unshare(), reason="no user and mount namespaces here (unshare -rm fails)"
)


def _read_only(command: str) -> list[str]:
    """``command`` (a shell line, with $DIR the data directory) run with $DIR read-only."""
    return [
        "unshare",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount --bind -o ro "$DIR" "$DIR" && ' + command,
    ]


@needs_namespaces
def test_the_cli_on_a_read_only_data_directory_prints_one_line(
    deployment_dir: Path, tokens: dict[str, str], tmp_path: Path
) -> None:
    token_file = tmp_path / "admin.token"
    write_secret_file(token_file, tokens["admin"].encode())
    env = {**os.environ, "DIR": str(deployment_dir), "TOKEN_FILE": str(token_file)}
    done = subprocess.run(
        _read_only(f'"{sys.executable}" -m servinfo principals list --token-file "$TOKEN_FILE"'),
        env={**env, "SERVINFO_DATA_DIR": str(deployment_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the control store is read-only"), lines[0]


@needs_namespaces
def test_the_cli_on_a_full_disk_prints_one_line(
    deployment_dir: Path, tokens: dict[str, str], tmp_path: Path
) -> None:
    token_file = tmp_path / "admin.token"
    write_secret_file(token_file, tokens["admin"].encode())
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    # A file system of its own (tmpfs, 8 MiB), filled up before the command runs.
    shell = (
        'mount -t tmpfs -o size=8m tmpfs "$MNT" && cp -a "$SRC" "$MNT/d" && '
        '{ dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true; } && '
        f'"{sys.executable}" -m servinfo principals add sre-2 --kind employee --role sre '
        '--region eu --data-dir "$MNT/d" --token-file "$TOKEN_FILE"'
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")},
        "MNT": str(mount_point),
        "SRC": str(deployment_dir),
        "TOKEN_FILE": str(token_file),
    }
    done = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", shell],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    assert lines == ["error: the control store is out of space: disk full"], done.stderr


_PROBE = """
import json, subprocess, sys
from pathlib import Path
from fastapi.testclient import TestClient
from servinfo.api import create_app
from servinfo.deployment import open_deployment

data_dir, token = Path(sys.argv[1]), sys.argv[2]
line = {"type": "record", "subject": "sub-ada", "kind": "telemetry.auth_event",
        "collected_at": "2026-11-20T08:15:02Z",
        "fields": {"event": "login_failure", "method": "password"}}
headers = {"Authorization": "Bearer " + token}
answers = []
deployment = open_deployment(data_dir, {})
with TestClient(create_app(deployment), raise_server_exceptions=False) as client:
    answers.append(client.post("/v1/records", json=line, headers=headers).status_code)
    subprocess.run(["mount", "--bind", "-o", "ro", str(data_dir), str(data_dir)], check=True)
    # A file already open stays writable; the connections opened from now on
    # (after a pool recycles them, as here) meet the read-only directory.
    for engine in (deployment.control, *deployment.regions.values()):
        engine.dispose()
    answer = client.post("/v1/records", json=line, headers=headers)
    answers.append(answer.status_code)
    print(json.dumps({"status": answers, "body": answer.json()}))
"""


@needs_namespaces
def test_the_api_on_a_read_only_data_directory_answers_503(
    deployment_dir: Path, tokens: dict[str, str]
) -> None:
    done = subprocess.run(
        [
            "unshare",
            "--map-root-user",
            "--mount",
            sys.executable,
            "-c",
            _PROBE,
            str(deployment_dir),
            tokens["identity"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == [201, 503], found
    assert found["body"]["error"] == "store_unavailable"
    assert "read-only" in found["body"]["detail"]


@pytest.mark.postgres
def test_postgresql_stores_pass_amcheck_and_the_stamp_check(
    tmp_path: Path, postgres_databases: Any
) -> None:
    from servinfo.deployment import create_deployment, open_deployment

    create_deployment(tmp_path / "pg", {}, database_url_template=postgres_databases.url_template)
    with open_deployment(tmp_path / "pg", {}) as deployment:
        results = deployment.health.check_now()
        assert {r.store for r in results} == {"control", *deployment.regions}
        assert [(r.status, r.notes) for r in results] == [("ok", ())] * len(results)
        deployment.health.require_healthy()
