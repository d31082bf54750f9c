"""The audit log: entries, signed tree heads, the sequencing state, subject salts.

Revision ID: a0001
Revises:
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("audit",)
depends_on: str | Sequence[str] | None = "c0001"

# Frozen here rather than imported from the models: a migration must not
# change when the models do.
_COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: CompactRange().to_bytes(): format 1, size 0, no hashes.
_EMPTY_FRONTIER = b"\x01" + bytes(8)


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", _COUNT, autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    op.create_table(
        "audit_heads",
        sa.Column("tree_size", _COUNT, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_heads"),
    )
    state = op.create_table(
        "audit_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_state_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_state"),
    )
    op.bulk_insert(state, [{"id": 1, "next_seq": 0, "frontier": _EMPTY_FRONTIER}])
    op.create_table(
        "subject_salts",
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name="pk_subject_salts"),
    )


def downgrade() -> None:
    for table in ("subject_salts", "audit_state", "audit_heads", "audit_entries"):
        op.drop_table(table)
