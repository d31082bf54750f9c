"""Opening refuses a database that is not at this version's schema, and says what to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from servinfo.deployment import create_deployment, open_deployment
from servinfo.deployment.create import control_migrations
from servinfo.deployment.schema import SCHEMA_HEADS, SchemaMismatch
from servinfo.deployment.upgrade import upgrade_deployment
from servinfo.store import create_engine_for
from servinfo.store.migrations import VERSION_TABLES, alembic_config, heads


def test_the_listed_heads_are_the_scripts_heads() -> None:
    """A new migration must be listed, or every opening would refuse its own schema."""
    assert SCHEMA_HEADS["control"] == heads("control", control_migrations())
    assert SCHEMA_HEADS["region"] == heads("region")


def _set_revision(database: Path, table: str, old: str, new: str) -> None:
    engine = create_engine_for(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET version_num = :new WHERE version_num = :old"),  # noqa: S608
            {"new": new, "old": old},
        )
    engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "deployment"
    create_deployment(directory, {})
    return directory


def _downgrade_one_step(database: Path) -> None:
    from alembic import command

    engine = create_engine_for(f"sqlite:///{database}")
    config = alembic_config("region")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    engine.dispose()


def test_a_database_behind_the_schema_is_refused_until_upgraded(data_dir: Path) -> None:
    """As a deployment made by the previous version: its newest migration not applied."""
    _downgrade_one_step(data_dir / "regions" / "eu.db")
    with pytest.raises(SchemaMismatch, match=r"regions/eu\.db .*run 'servinfo upgrade'"):
        open_deployment(data_dir, {})
    upgrade_deployment(data_dir, {})
    with open_deployment(data_dir, {}):
        pass


def test_a_database_migrated_by_a_newer_servinfo_is_refused(data_dir: Path) -> None:
    _set_revision(data_dir / "control.db", VERSION_TABLES["control"], "j0001", "j0099")
    with pytest.raises(SchemaMismatch, match=r"control\.db .*unknown j0099"):
        open_deployment(data_dir, {})
