"""The lines of keyed ingest requests each region stored, for exactly-once replays.

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
    # Frozen here rather than taken from the models. On SQLite the table is its
    # primary-key B-tree (WITHOUT ROWID): one insert a line rather than two.
    op.create_table(
        "request_marks",
        sa.Column("request", sa.LargeBinary(16), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(26), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request", "line", name="pk_request_marks"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_request_marks_expires_at", "request_marks", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_request_marks_expires_at", "request_marks")
    op.drop_table("request_marks")
