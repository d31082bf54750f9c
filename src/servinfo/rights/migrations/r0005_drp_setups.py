"""Data Rights Protocol: setup messages accepted once, never after a newer one.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0005"
down_revision: str | None = "r0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)
_HASH = sa.String(64)


def upgrade() -> None:
    with op.batch_alter_table("drp_agents") as batch:
        batch.add_column(sa.Column("setup_issued_at", _TIME, nullable=True))
    op.create_table(
        "drp_setups",
        sa.Column("digest", _HASH, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("forget_after", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_drp_setups"),
    )
    op.create_index("ix_drp_setups_forget_after", "drp_setups", ["forget_after"])


def downgrade() -> None:
    op.drop_table("drp_setups")
    with op.batch_alter_table("drp_agents") as batch:
        batch.drop_column("setup_issued_at")
