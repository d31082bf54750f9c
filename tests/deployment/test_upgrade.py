"""``upgrade_deployment`` stamps a deployment created before stamps, on both backends.

The deployment is made as before this version: created, then its databases
moved back to the revisions before the stamps (c0002 for the control tree,
r0003 for the regions), which drops the stamp tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from tests.support import PostgresDatabases

from servinfo.config import load_settings
from servinfo.deployment import create_deployment, open_deployment
from servinfo.deployment.create import control_migrations
from servinfo.deployment.upgrade import upgrade_deployment
from servinfo.errors import ServinfoError
from servinfo.store import create_engine_for
from servinfo.store.identity import read_stamp
from servinfo.store.migrations import alembic_config


def _before_stamps(data_dir: Path) -> None:
    settings = load_settings(data_dir, {})
    targets = [(settings.control_url, "control", "c0002")]
    targets += [(url, "region", "r0003") for url in settings.region_urls.values()]
    for url, tree, revision in targets:
        engine = create_engine_for(url)
        config = alembic_config(tree, control_migrations() if tree == "control" else ())  # type: ignore[arg-type]
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, revision)
            assert not inspect(engine).has_table("store_stamp")
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_existing_deployment_is_stamped_by_the_upgrade(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template = None
    if backend_name == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {}, database_url_template=template)
    with open_deployment(data_dir, {}) as deployment:
        deployment.directory.add_organization("org-eu", "Example Org", "eu")
    _before_stamps(data_dir)

    with pytest.raises(ServinfoError) as refused:
        open_deployment(data_dir, {})
    assert refused.value.code == "store_mismatch"
    assert "servinfo upgrade" in refused.value.message

    result = upgrade_deployment(data_dir, {})
    assert result.newly_stamped
    with open_deployment(data_dir, {}) as deployment:
        assert deployment.deployment_id == result.deployment_id
        stamps = {"control": read_stamp(deployment.control)}
        stamps |= {r: read_stamp(e) for r, e in deployment.regions.items()}
        for store, stamp in stamps.items():
            assert stamp is not None
            assert stamp.deployment_id == result.deployment_id
            assert (stamp.role, stamp.region, stamp.generation) == (
                ("control", "", 1) if store == "control" else ("region", store, 1)
            )
        # What the deployment held before is still there.
        assert deployment.directory.get_organization("org-eu").home_region == "eu"

    again = upgrade_deployment(data_dir, {})  # idempotent: the same stamps
    assert (again.deployment_id, again.newly_stamped) == (result.deployment_id, False)


def test_the_upgrade_never_restamps_another_deployments_database(tmp_path: Path) -> None:
    create_deployment(tmp_path / "ours", {})
    create_deployment(tmp_path / "theirs", {})
    (tmp_path / "ours" / "regions" / "eu.db").write_bytes(
        (tmp_path / "theirs" / "regions" / "eu.db").read_bytes()
    )
    with pytest.raises(ServinfoError) as refused:
        upgrade_deployment(tmp_path / "ours", {})
    assert refused.value.code == "store_mismatch"
    assert "region eu" in refused.value.message


def _servinfo(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")}
    return subprocess.run(
        [sys.executable, "-m", "servinfo", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_cli_upgrades_then_refuses_a_misplaced_database_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    init = _servinfo("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    _before_stamps(data_dir)
    upgraded = _servinfo("upgrade", "--json", data_dir=data_dir)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["newly_stamped"] is True

    (data_dir / "regions" / "eu.db").write_bytes((data_dir / "regions" / "us.db").read_bytes())
    for args in (("upgrade",), ("serve",), ("principals", "list", "--token", "any")):
        refused = _servinfo(*args, data_dir=data_dir)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines()[-1] == (
            "error: regions/eu.db holds region us, expected region eu"
        )
