"""The background checks of a store: stamp, then SQLite quick_check or PostgreSQL amcheck."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, make_url
from tests.store.conftest import Backend
from tests.support import POSTGRES_SERVER, PostgresDatabases

from servinfo.store import create_engine_for, migrate_region
from servinfo.store.health import StoreHealth, check_store
from servinfo.store.identity import REGION, stamp_in, verify_store

WHEN = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def _stamped(engine: Engine, region: str = "eu") -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM store_stamp")
        stamp_in(connection, "d-1", REGION, region)


def _verify_eu(engine: Engine) -> None:
    verify_store(engine, deployment_id="d-1", role=REGION, region="eu")


def test_a_sound_stamped_store_is_ok(backend: Backend) -> None:
    _stamped(backend.regions["eu"])
    result = check_store("eu", backend.regions["eu"], _verify_eu, now=lambda: WHEN)
    assert (result.status, result.reason, result.checked_at) == ("ok", None, WHEN)
    # amcheck is installed on the test server: PostgreSQL's indexes were checked too.
    assert result.notes == ()


def test_a_store_holding_another_region_fails_its_check(backend: Backend) -> None:
    _stamped(backend.regions["us"], "us")
    result = check_store("eu", backend.regions["us"], _verify_eu, now=lambda: WHEN)
    assert result.status == "failed"
    assert result.reason is not None
    assert "holds region us, expected region eu" in result.reason


def test_corrupt_pages_fail_quick_check(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'eu.db'}")
    migrate_region(engine, deployment_id="d-1", region="eu")
    engine.dispose()
    with (tmp_path / "eu.db").open("r+b") as handle:
        handle.seek(8192)
        handle.write(secrets.token_bytes(12 * 1024))
    engine = create_engine_for(f"sqlite:///{tmp_path / 'eu.db'}")
    try:
        result = check_store("eu", engine, now=lambda: WHEN)
    finally:
        engine.dispose()
    assert result.status == "failed"
    assert result.reason is not None
    assert "\n" not in result.reason
    assert result.reason.startswith(("quick_check: ", "is corrupt"))


def test_health_is_unchecked_then_the_last_result(backend: Backend) -> None:
    _stamped(backend.regions["eu"])
    _stamped(backend.regions["us"], "us")
    health = StoreHealth(
        {"eu": backend.regions["eu"], "us": backend.regions["us"]},
        {"eu": _verify_eu, "us": _verify_eu},  # us is checked as if it were eu: it fails
        now=lambda: WHEN,
    )
    assert [r.status for r in health.results()] == ["unchecked", "unchecked"]
    assert health.healthy
    health.require_healthy()

    health.start(0)  # at once in the background, then never again
    assert health.wait_checked(60)
    health.stop()
    assert [r.status for r in health.results()] == ["ok", "failed"]
    assert not health.healthy
    with pytest.raises(Exception, match="the us store is unhealthy: ") as refused:
        health.require_healthy()
    assert getattr(refused.value, "code", None) == "store_unavailable"


@pytest.mark.postgres
def test_amcheck_that_cannot_be_installed_is_noted_not_failed(
    postgres_databases: PostgresDatabases,
) -> None:
    url = postgres_databases.new("no_amcheck")
    owner = create_engine_for(url)
    migrate_region(owner, deployment_id="d-1", region="eu")
    owner.dispose()
    role = f"servinfo_test_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    database = make_url(url).database
    with psycopg.connect(f"{POSTGRES_SERVER}/{database}", autocommit=True) as admin:
        admin.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
    engine = create_engine_for(make_url(url).set(username=role))
    try:
        result = check_store("eu", engine, _verify_eu, now=lambda: WHEN)
    finally:
        engine.dispose()
        with psycopg.connect(f"{POSTGRES_SERVER}/{database}", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert result.status == "ok", result.reason
    assert len(result.notes) == 1
    assert result.notes[0].startswith("amcheck unavailable, indexes not checked: ")
