"""Account closure in the subject directory: ``closed_at`` and ``closure_pending``.

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0004"
down_revision: str | None = "c0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("subjects", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "subjects",
        sa.Column("closure_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite drops a column in place since 3.35; batch mode would rebuild the table.
    op.drop_column("subjects", "closure_pending")
    op.drop_column("subjects", "closed_at")
