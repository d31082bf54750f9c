"""C2SP checkpoints and their witness cosignatures; the state's MAC; no uncovered columns.

- ``audit_checkpoints``: each signed checkpoint as the signed note the log key
  signed, with the compact range of its tree (the start of consistency proofs);
- ``audit_cosignatures``: each witness cosignature of a checkpoint, as the
  note signature the witness returned (its timestamp is inside the signature);
- ``audit_state.mac``: a MAC over the sequencing state with a key from the
  keyring, so that whoever can only write the database cannot extend or
  rewrite the log's unsigned tail unnoticed (NULL until the first append
  after this migration);
- ``audit_entries.at`` is dropped: it repeated the time inside the hashed
  bytes, and a column no hash covers could be changed unnoticed.

Revision ID: a0002
Revises: a0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a0002"
down_revision: str | None = "a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", _COUNT, autoincrement=False, nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("key_id", sa.LargeBinary(4), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "name", "key_id", name="pk_audit_cosignatures"),
    )
    op.add_column("audit_state", sa.Column("mac", sa.LargeBinary(32), nullable=True))
    # SQLite has dropped columns in place since 3.35; a batch copy would rewrite the log.
    op.drop_column("audit_entries", "at")


def downgrade() -> None:
    op.add_column(
        "audit_entries",
        sa.Column("at", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.drop_column("audit_state", "mac")
    op.drop_table("audit_cosignatures")
    op.drop_table("audit_checkpoints")
