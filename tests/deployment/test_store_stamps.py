"""Each database knows its deployment, its role and its generation; open_deployment checks.

A foreign copy (another deployment's), a misplaced one (us.db where eu.db belongs,
a control database where a region's belongs) and a stale one (an older generation
than the control database expects) make every opening refuse with one line that
names the store and the mismatch. SQLite swaps database files; PostgreSQL points
a region's URL at another database, as a restore to the wrong database would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.support import PostgresDatabases

from servinfo.deployment import create_deployment, open_deployment
from servinfo.errors import ServinfoError
from servinfo.store import create_engine_for
from servinfo.store.identity import bump_generation, read_stamp


def _replace(target: Path, source: Path) -> None:
    """Put ``source`` where ``target`` was, as an operator copying files would."""
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    create_deployment(tmp_path / "ours", {})
    return tmp_path / "ours"


def _refusal(data_dir: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ServinfoError) as refused:
        open_deployment(data_dir, env or {}).close()
    assert refused.value.code == "store_mismatch"
    message = refused.value.message
    assert "\n" not in message
    return message


def test_a_fresh_deployment_opens_and_each_store_carries_its_stamp(ours: Path) -> None:
    with open_deployment(ours, {}) as deployment:
        control = read_stamp(deployment.control)
        assert control is not None
        assert control.role == "control"
        assert control.generation == 1
        for region, engine in deployment.regions.items():
            stamp = read_stamp(engine)
            assert stamp is not None
            assert (stamp.deployment_id, stamp.role, stamp.region, stamp.generation) == (
                control.deployment_id,
                "region",
                region,
                1,
            )


def test_another_deployments_region_database_is_refused(ours: Path, tmp_path: Path) -> None:
    create_deployment(tmp_path / "theirs", {})
    _replace(ours / "regions" / "eu.db", tmp_path / "theirs" / "regions" / "eu.db")
    message = _refusal(ours)
    assert "regions/eu.db" in message
    assert "region eu" in message
    assert "another deployment" in message


def test_a_region_database_in_another_regions_place_is_refused(ours: Path) -> None:
    _replace(ours / "regions" / "eu.db", ours / "regions" / "us.db")
    message = _refusal(ours)
    assert "eu.db" in message
    assert "region us" in message
    assert "region eu" in message


def test_the_control_database_in_a_regions_place_is_refused(ours: Path) -> None:
    _replace(ours / "regions" / "eu.db", ours / "control.db")
    message = _refusal(ours)
    assert "eu.db" in message
    assert "control database" in message


def test_a_region_database_in_the_controls_place_is_refused(ours: Path) -> None:
    _replace(ours / "control.db", ours / "regions" / "eu.db")
    message = _refusal(ours)
    assert "control.db" in message
    assert "region eu" in message


def test_an_older_copy_of_a_restored_region_is_refused_as_stale(ours: Path, tmp_path: Path) -> None:
    old_copy = tmp_path / "eu-before-restore.db"
    shutil.copyfile(ours / "regions" / "eu.db", old_copy)
    with open_deployment(ours, {}) as deployment:
        # What a restore does once it has put a region's backup in place.
        assert bump_generation(deployment.control, deployment.regions["eu"]) == 2
    with open_deployment(ours, {}) as deployment:
        assert read_stamp(deployment.regions["eu"]).generation == 2  # type: ignore[union-attr]
    _replace(ours / "regions" / "eu.db", old_copy)
    message = _refusal(ours)
    assert "eu.db" in message
    assert "generation 1" in message
    assert "generation 2" in message


def test_an_older_copy_of_the_control_database_is_refused(ours: Path, tmp_path: Path) -> None:
    old_control = tmp_path / "control-before.db"
    shutil.copyfile(ours / "control.db", old_control)
    with open_deployment(ours, {}) as deployment:
        bump_generation(deployment.control, deployment.regions["us"])
    _replace(ours / "control.db", old_control)
    message = _refusal(ours)
    assert "us.db" in message
    assert "newer" in message


def test_bumping_the_control_database_itself(ours: Path) -> None:
    with open_deployment(ours, {}) as deployment:
        assert bump_generation(deployment.control) == 2
        assert read_stamp(deployment.control).generation == 2  # type: ignore[union-attr]
    open_deployment(ours, {}).close()


@pytest.mark.postgres
def test_postgresql_stores_are_stamped_and_a_foreign_one_refused(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    template = postgres_databases.url_template
    create_deployment(
        tmp_path / "ours", {}, database_url_template=template.replace("{name}", "a_{name}")
    )
    create_deployment(
        tmp_path / "theirs", {}, database_url_template=template.replace("{name}", "b_{name}")
    )
    ours = tmp_path / "ours"
    with open_deployment(ours, {}) as deployment:
        control = read_stamp(deployment.control)
        eu = read_stamp(deployment.regions["eu"])
        assert control is not None
        assert eu is not None
        assert (eu.deployment_id, eu.role, eu.region) == (control.deployment_id, "region", "eu")
    theirs_eu = template.format(name="b_eu")
    message = _refusal(ours, {"SERVINFO_DATABASE_REGION_EU": theirs_eu})
    assert "another deployment" in message
    assert f"{postgres_databases.prefix}_b_eu" in message
    ours_us = template.format(name="a_us")
    message = _refusal(ours, {"SERVINFO_DATABASE_REGION_EU": ours_us})
    assert "region us" in message
    with open_deployment(ours, {}) as deployment:
        assert bump_generation(deployment.control, deployment.regions["eu"]) == 2
        engine = create_engine_for(template.format(name="a_eu"))
        try:
            assert read_stamp(engine).generation == 2  # type: ignore[union-attr]
        finally:
            engine.dispose()
    open_deployment(ours, {}).close()
