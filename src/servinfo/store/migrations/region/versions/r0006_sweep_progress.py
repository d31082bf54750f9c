"""The retention sweep's progress: counts per batch that survive an attempt killed mid-sweep.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0006"
down_revision: str | None = "r0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_progress",
        sa.Column("sweep_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sweep_id", "outcome", "kind", name="pk_sweep_progress"),
    )
    op.create_table(
        "sweep_seals",
        sa.Column("sweep_id", sa.String(64), nullable=False),
        sa.Column("audit_from", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sweep_id", name="pk_sweep_seals"),
    )


def downgrade() -> None:
    op.drop_table("sweep_seals")
    op.drop_table("sweep_progress")
