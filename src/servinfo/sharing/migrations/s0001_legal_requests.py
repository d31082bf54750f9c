"""Legal requests: intake, review, disclosure and gag orders.

Revision ID: s0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("sharing",)
depends_on: str | Sequence[str] | None = "c0001"

# Frozen here rather than imported from models: a migration must not change when they do.
_TIME = sa.DateTime(timezone=True)
_OPAQUE = sa.String(128)
_TEXT = sa.String(500)


def upgrade() -> None:
    op.create_table(
        "legal_requests",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("authority", _OPAQUE, nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("instrument", _TEXT, nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("gag", sa.Boolean(), nullable=False),
        sa.Column("gag_until", _TIME, nullable=True),
        sa.Column("agreement", _TEXT, nullable=True),
        sa.Column("derogation", _TEXT, nullable=True),
        sa.Column("recipient_key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("intake_by", _OPAQUE, nullable=False),
        sa.Column("intake_at", _TIME, nullable=False),
        sa.Column("reviewed_by", _OPAQUE, nullable=True),
        sa.Column("reviewed_at", _TIME, nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("approved_scope", sa.Text(), nullable=True),
        sa.Column("disclosed_by", _OPAQUE, nullable=True),
        sa.Column("disclosed_at", _TIME, nullable=True),
        sa.Column("gag_lifted_at", _TIME, nullable=True),
        sa.CheckConstraint(
            "state IN ('received', 'approved', 'narrowed', 'rejected', 'disclosed')",
            name="ck_legal_requests_state",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_legal_requests"),
    )


def downgrade() -> None:
    op.drop_table("legal_requests")
