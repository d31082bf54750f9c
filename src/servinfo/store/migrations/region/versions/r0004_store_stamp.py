"""A region database's stamp: its deployment, its region and its generation.

The row is written by :func:`servinfo.store.migrations.migrate_region` in the same
transaction when it is given one (see c0003).

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0004"
down_revision: str | None = "r0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table("store_stamp")
