"""A deployment whose log was signed with tree heads, before checkpoints, upgraded.

Made as before this version: the audit branch moved back to a0001 (no
checkpoints, the ``at`` column, no MAC), the signer's state gone, and a tree
head signed over the log as the code of that time signed them. After
``servinfo upgrade`` the old head still verifies, the first checkpoint covers
the whole log, and the chain goes on from there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from tests.support import PostgresDatabases

from servinfo.audit import CompactRange, sign_tree_head
from servinfo.config import load_settings
from servinfo.crypto import AUDIT_SIGNING
from servinfo.deployment import create_deployment, open_deployment
from servinfo.deployment.create import control_migrations
from servinfo.deployment.upgrade import upgrade_deployment
from servinfo.store import create_engine_for
from servinfo.store.migrations import alembic_config


def _as_before_checkpoints(data_dir: Path) -> None:
    settings = load_settings(data_dir, {})
    with open_deployment(data_dir, {}) as deployment:
        keyring = deployment.keyring  # the audit key, as the code of that time held it
        for n in range(7):
            deployment.audit.record("policy_change", actor="admin", details={"n": n})
    engine = create_engine_for(settings.control_url)
    config = alembic_config("control", control_migrations())
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "a0002-1")
        assert not inspect(engine).has_table("audit_checkpoints")
        with engine.begin() as connection:
            leaves = [
                bytes(row[0])
                for row in connection.execute(
                    text("SELECT leaf_hash FROM audit_entries ORDER BY seq")
                )
            ]
        frontier = CompactRange.from_leaf_hashes(leaves)
        head = sign_tree_head(
            keyring.signing_key(),
            keyring.current(AUDIT_SIGNING).key_id,
            frontier.size,
            frontier.root(),
            1_700_000_000_000,
        )
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_heads (tree_size, root_hash, timestamp, key_id, signature,"
                    " frontier) VALUES (:size, :root, :at, :key, :signature, :frontier)"
                ),
                {
                    "size": head.tree_size,
                    "root": head.root_hash,
                    "at": head.timestamp,
                    "key": head.key_id,
                    "signature": head.signature,
                    "frontier": frontier.to_bytes(),
                },
            )
    finally:
        engine.dispose()
    settings.audit_signer_state_file.unlink()


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_log_of_tree_heads_upgrades_to_checkpoints(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template = None
    if backend_name == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        template = databases.url_template
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {}, database_url_template=template, local_demo=True)
    _as_before_checkpoints(data_dir)

    upgrade_deployment(data_dir, {})
    with open_deployment(data_dir, {}) as deployment:
        log = deployment.audit
        before = log.verify()
        assert (before.heads, before.checkpoints, before.signed_entries) == (1, 0, 7)
        log.record("policy_change", actor="admin", details={"after": "upgrade"})
        log.checkpoint()
        after = log.verify()
        assert (after.heads, after.checkpoints) == (1, 1)
        assert after.signed_entries == after.entries == before.entries + 1
