"""SQLite: the blind index as a WITHOUT ROWID table.

An ordinary SQLite table is a B-tree keyed by a hidden rowid, and its primary
key (field, digest, record_id) a second B-tree pointing into it: every blind
index written cost two B-tree inserts besides the record_id index. Stored
WITHOUT ROWID, the table *is* the primary-key B-tree: one insert fewer per
index row and fewer pages to commit, with the same columns, keys and index.
Lookups by (field, digest) read the row straight from the primary key.

PostgreSQL has no rowid; nothing changes there.

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "blind_index"
_INDEX = "ix_blind_index_record_id"
_COLUMNS = "field, digest, record_id, subject_id, index_key_id"


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)


def _rebuild(*, with_rowid: bool) -> None:
    """Copy the table into a new one of the other kind (SQLite cannot convert in place)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    new = f"{_TABLE}_rebuilt"
    # Frozen here rather than taken from the models, like r0001's definition.
    op.create_table(
        new,
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("record_id", sa.String(26), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("index_key_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("field", "digest", "record_id", name="pk_blind_index"),
        sqlite_with_rowid=with_rowid,
    )
    # Fixed table and column names, no input.
    op.execute(f"INSERT INTO {new} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_TABLE}")  # noqa: S608
    op.drop_index(_INDEX, _TABLE)
    op.drop_table(_TABLE)
    op.rename_table(new, _TABLE)
    op.create_index(_INDEX, _TABLE, ["record_id"])
