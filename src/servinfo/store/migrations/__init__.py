"""Schema migrations (Alembic) of the control database and of the region databases.

Two script trees, ``control/`` and ``region/``, because the two kinds of
database have different tables and evolve separately. Both run
programmatically — no ``alembic.ini`` at run time: :func:`migrate_control` and
:func:`migrate_region` build the Alembic ``Config`` in code and upgrade to head
inside one transaction.

Each tree keeps its own version table (``alembic_version_control`` /
``alembic_version_region``) so that even a single PostgreSQL database shared
by mistake would not confuse the two histories.

To add a migration: change :mod:`servinfo.store.models`, then generate the
script against a database at head, e.g.::

    python -c "from servinfo.store.migrations import revision; \
revision('region', 'sqlite:///at-head.db', 'add column x')"

and review it; ``tests/store/test_migrations.py`` fails while models and
migrations differ.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

# Alembic (with Mako and Pygments) is imported only when a migration runs: every
# command imports this module through :mod:`servinfo.store`, few of them migrate.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine, MetaData

__all__ = [
    "VERSION_TABLES",
    "Tree",
    "alembic_config",
    "applied_revisions",
    "heads",
    "migrate_control",
    "migrate_region",
    "revision",
    "run_migrations",
]

#: Which script tree: the control database's or a region database's.
Tree = Literal["control", "region"]
VERSION_TABLES: dict[Tree, str] = {
    "control": "alembic_version_control",
    "region": "alembic_version_region",
}
_HERE = Path(__file__).parent


def alembic_config(tree: Tree, extra_locations: Sequence[Path] = ()) -> Config:
    """An Alembic configuration for ``tree``, built in code.

    ``extra_locations`` are the migration folders of other domain packages that
    keep tables in the same database (the audit log, the ledgers …). Each is an
    Alembic branch of its own whose first revision ``depends_on`` this tree's
    initial one, so domains add tables without editing the store.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE / tree))
    config.set_main_option("version_table", VERSION_TABLES[tree])
    config.set_main_option("path_separator", "os")
    locations = [str(_HERE / tree / "versions"), *(str(p) for p in extra_locations)]
    config.set_main_option("version_locations", os.pathsep.join(locations))
    config.attributes["tree"] = tree
    return config


def migrate_control(
    engine: Engine, extra_locations: Sequence[Path] = (), *, deployment_id: str | None = None
) -> None:
    """Upgrade the control database, and the domain branches given, to their newest schema.

    With ``deployment_id``, the database is also stamped as that deployment's
    control database in the same transaction (:mod:`servinfo.store.identity`).
    """
    _upgrade(engine, "control", extra_locations, stamp=(deployment_id, ""))


def migrate_region(engine: Engine, *, deployment_id: str | None = None, region: str = "") -> None:
    """Upgrade a region database to the newest schema (idempotent); with ``deployment_id``,
    stamp it as that deployment's database of ``region`` in the same transaction."""
    if deployment_id is not None and not region:
        raise ValueError("a region database is stamped with its region")
    _upgrade(engine, "region", stamp=(deployment_id, region))


def applied_revisions(engine: Engine, tree: Tree) -> frozenset[str]:
    """The revisions ``engine``'s database is at (one per branch); empty if never migrated."""
    from sqlalchemy import inspect, text

    table = VERSION_TABLES[tree]
    with engine.connect() as connection:
        if not inspect(connection).has_table(table):
            return frozenset()
        rows = connection.execute(text(f"SELECT version_num FROM {table}"))  # noqa: S608
        return frozenset(row[0] for row in rows)


def heads(tree: Tree, extra_locations: Sequence[Path] = ()) -> frozenset[str]:
    """The newest revision of each branch of ``tree``, read from the scripts (slow: Alembic)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config(tree, extra_locations)).get_heads())


def revision(tree: Tree, url: str, message: str) -> None:  # pragma: no cover - developer tool
    """Autogenerate a new migration script of ``tree`` against the database at ``url``."""
    from alembic import command

    from servinfo.store.engines import create_engine_for

    engine = create_engine_for(url)
    config = alembic_config(tree)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
    engine.dispose()


def _upgrade(
    engine: Engine,
    tree: Tree,
    extra_locations: Sequence[Path] = (),
    *,
    stamp: tuple[str | None, str] = (None, ""),
) -> None:
    from alembic import command

    from servinfo.store.identity import stamp_in

    config = alembic_config(tree, extra_locations)
    deployment_id, region = stamp
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
        if deployment_id is not None:
            stamp_in(connection, deployment_id, tree, region)


def run_migrations(metadata: MetaData) -> None:
    """The body of each tree's ``env.py``: migrate the connection it was handed."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "servinfo migrations run through servinfo.store.migrations, not the alembic CLI"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=config.get_main_option("version_table"),
        # SQLite alters tables by copying them; later migrations need batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
