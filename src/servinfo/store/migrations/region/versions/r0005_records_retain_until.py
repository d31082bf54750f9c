"""An index on ``records.retain_until``: the retention sweep finds what expired without a scan.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0005"
down_revision: str | None = "r0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_records_retain_until", "records", ["retain_until"])


def downgrade() -> None:
    op.drop_index("ix_records_retain_until", table_name="records")
