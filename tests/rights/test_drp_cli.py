"""``servinfo drp …`` against a real data directory, and the DRP tables' migration."""

from __future__ import annotations

import base64
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from nacl.signing import SigningKey
from tests.rights.world import World, build_world
from tests.support import PostgresDatabases
from typer.testing import CliRunner, Result

import servinfo.rights.drp as drp_package
from servinfo.access.errors import Forbidden
from servinfo.rights.drp.cli import drp_app
from servinfo.rights.drp.models import DRP_TABLES, drp_metadata
from servinfo.rights.errors import InvalidRequest
from servinfo.store.migrations import VERSION_TABLES


def _drp(world: World, *args: str, who: str = "admin") -> Result:
    return CliRunner().invoke(
        drp_app, [*args, "--data-dir", str(world.data_dir), "--token", world.tokens[who]]
    )


def test_an_operator_registers_and_lists_agents(world: World) -> None:
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    added = _drp(world, "agent", "add", "CR_AA_DRP_ID_001", "--verify-key", key, "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["verify_key"] == key
    listed = _drp(world, "agent", "list")
    assert "CR_AA_DRP_ID_001  not paired" in listed.output
    again = _drp(world, "agent", "add", "CR_AA_DRP_ID_001", "--verify-key", key)
    assert isinstance(again.exception, InvalidRequest)
    synced = _drp(world, "sync")
    assert "0 status changes" in synced.output


def test_registration_needs_the_permission_and_a_real_key(world: World) -> None:
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    staff = _drp(world, "agent", "add", "AA", "--verify-key", key, who="support-eu")
    assert isinstance(staff.exception, Forbidden)
    short = _drp(world, "agent", "add", "AA", "--verify-key", base64.b64encode(b"k" * 16).decode())
    assert isinstance(short.exception, InvalidRequest)
    assert "32 bytes" in str(short.exception)


def _only_drp_tables(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or name in DRP_TABLES


def _assert_migrated_schema_matches_the_models(world: World) -> None:
    with world.deployment.control.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": _only_drp_tables,
            },
        )
        assert list(compare_metadata(context, drp_metadata)) == []
    assert {"drp_agents", "drp_requests", "drp_setups"} == DRP_TABLES


def test_migrated_schema_matches_the_models(world: World) -> None:
    _assert_migrated_schema_matches_the_models(world)


@pytest.mark.postgres
def test_migrated_schema_matches_the_models_on_postgresql(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        _assert_migrated_schema_matches_the_models(world)


def test_exported_members() -> None:
    public = {
        name
        for name, value in vars(drp_package).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(drp_package.__all__)
