"""Exports under keys of their own: ``rights_export_keys`` and ``rights_exports.own_key``.

Rows written before this revision keep ``own_key`` false: they stay sealed
directly under the keyring's ``export`` key and readable until they expire,
when the purge deletes them like any other (at most the export lifetime,
30 days by default). They are not re-sealed here: a migration has no keyring.

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0003"
down_revision: str | None = "r0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "rights_exports",
        sa.Column("own_key", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "rights_export_keys",
        sa.Column("export_id", sa.String(26), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("export_id", name="pk_rights_export_keys"),
    )


def downgrade() -> None:
    # An export sealed under its own key cannot be read without its table: drop them.
    op.execute("DELETE FROM rights_exports WHERE own_key")
    op.drop_table("rights_export_keys")
    with op.batch_alter_table("rights_exports") as batch:
        batch.drop_column("own_key")
