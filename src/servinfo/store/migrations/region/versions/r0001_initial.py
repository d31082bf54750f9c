"""A region database: records, data keys, blind indexes, erased-record tombstones.

Revision ID: r0001
Revises:
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("collected_at", _TIME, nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(26), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        # (collected_at, id): PostgreSQL can partition by time later without a rewrite.
        sa.PrimaryKeyConstraint("collected_at", "id", name="pk_records"),
    )
    op.create_index("ix_records_id", "records", ["id"])
    op.create_index(
        "ix_records_subject_id_category_collected_at",
        "records",
        ["subject_id", "category", "collected_at"],
    )
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("retention_class", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(26), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("destroyed_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_data_keys"),
        sa.UniqueConstraint(
            "subject_id",
            "retention_class",
            "scope",
            name="uq_data_keys_subject_id_retention_class_scope",
        ),
    )
    op.create_table(
        "blind_index",
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("record_id", sa.String(26), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("index_key_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("field", "digest", "record_id", name="pk_blind_index"),
    )
    op.create_index("ix_blind_index_record_id", "blind_index", ["record_id"])
    op.create_table(
        "erased_records",
        sa.Column("record_id", sa.String(26), nullable=False),
        sa.Column("erased_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_erased_records"),
    )


def downgrade() -> None:
    op.drop_table("erased_records")
    op.drop_table("blind_index")
    op.drop_table("data_keys")
    op.drop_index("ix_records_subject_id_category_collected_at", "records")
    op.drop_index("ix_records_id", "records")
    op.drop_table("records")
