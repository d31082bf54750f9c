"""Withholdings: parts of a subject's access history left out while a ground of law applies.

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

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)
_ID = sa.String(26)
_OPAQUE = sa.String(128)
_NAME = sa.String(64)
_TEXT = sa.String(1000)


def upgrade() -> None:
    op.create_table(
        "rights_withholdings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("ground", _NAME, nullable=False),
        sa.Column("reference", _TEXT, nullable=True),
        sa.Column("gagged", sa.Boolean(), nullable=False),
        sa.Column("since", _TIME, nullable=True),
        sa.Column("until", _TIME, nullable=True),
        sa.Column("placed_by", _OPAQUE, nullable=False),
        sa.Column("placed_at", _TIME, nullable=False),
        sa.Column("released_by", _OPAQUE, nullable=True),
        sa.Column("released_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rights_withholdings"),
    )
    op.create_index("ix_rights_withholdings_subject_id", "rights_withholdings", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_rights_withholdings_subject_id", "rights_withholdings")
    op.drop_table("rights_withholdings")
