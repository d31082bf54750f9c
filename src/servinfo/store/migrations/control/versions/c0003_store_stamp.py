"""The control database's stamp, and the generation it expects of each region database.

The stamp row itself is written by :func:`servinfo.store.migrations.migrate_control`
in the same transaction when it is given one (``servinfo init``, ``servinfo
upgrade``), so that no database reaches this revision unstamped through them.

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0003"
down_revision: str | None = "c0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Frozen here rather than taken from the models (the same in r0004).
    op.create_table(
        "store_stamp",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("singleton", name="pk_store_stamp"),
    )
    op.create_table(
        "region_generations",
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region", name="pk_region_generations"),
    )


def downgrade() -> None:
    op.drop_table("region_generations")
    op.drop_table("store_stamp")
