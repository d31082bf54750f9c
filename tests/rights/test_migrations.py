"""The rights branch creates exactly the tables the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from tests.rights.world import World

from servinfo.rights.models import RIGHTS_TABLES, rights_metadata
from servinfo.store.migrations import VERSION_TABLES


def _only_rights_tables(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or name in RIGHTS_TABLES


def test_migrated_schema_matches_the_models(world: World) -> None:
    with world.deployment.control.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": _only_rights_tables,
            },
        )
        assert list(compare_metadata(context, rights_metadata)) == []


def test_tables_carry_the_rights_prefix() -> None:
    assert {
        "rights_requests",
        "rights_verification_codes",
        "rights_outbox",
        "rights_exports",
        "rights_export_keys",
        "rights_opt_outs",
        "rights_withholdings",
    } == RIGHTS_TABLES
