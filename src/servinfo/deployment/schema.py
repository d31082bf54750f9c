"""Opening refuses a database whose schema is not the one this version of servinfo writes.

A deployment created by an older servinfo lacks the tables and columns newer
code uses (the job queue, say): without this check its first use of them
fails, statement after statement, as a storage error. ``servinfo upgrade``
migrates it; opening says so, in one line, before anything runs.

The newest revision of each migration branch is listed here rather than read
from the scripts at every opening (Alembic imports and parses every script,
tens of milliseconds); ``tests/deployment/test_schema.py`` keeps the list equal
to the scripts'.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine

from servinfo.deployment.errors import DeploymentError
from servinfo.store.identity import describe_store
from servinfo.store.migrations import Tree, applied_revisions

__all__ = ["SCHEMA_HEADS", "SchemaMismatch", "verify_schemas"]

#: The newest revision of every branch of each tree (store and domain branches alike).
SCHEMA_HEADS: Mapping[Tree, frozenset[str]] = {
    "control": frozenset({"a0003", "c0004", "j0001", "k0001", "l0002", "r0005", "s0001"}),
    "region": frozenset({"r0007"}),
}


class SchemaMismatch(DeploymentError):
    """A database's schema is older or newer than this version's."""

    code = "schema_mismatch"
    http_status = 503


def verify_schemas(
    control: Engine, regions: Mapping[str, Engine], data_dir: Path | None = None
) -> None:
    """Raise :class:`SchemaMismatch` for the first database not at this version's schema."""
    stores: list[tuple[Engine, Tree]] = [(control, "control")]
    stores += [(engine, "region") for engine in regions.values()]
    for engine, tree in stores:
        found = applied_revisions(engine, tree)
        wanted = SCHEMA_HEADS[tree]
        if found == wanted:
            continue
        missing = ", ".join(sorted(wanted - found))
        raise SchemaMismatch(
            f"{describe_store(engine, data_dir)} is not at this servinfo's schema (missing "
            f"{missing or 'nothing'}; unknown {', '.join(sorted(found - wanted)) or 'nothing'}): "
            "run 'servinfo upgrade' after updating servinfo, or update servinfo if a newer "
            "one migrated this deployment"
        )
