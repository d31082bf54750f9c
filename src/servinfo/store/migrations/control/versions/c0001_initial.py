"""The control database: organizations, subjects, principals, policy versions, shred ledger.

Revision ID: c0001
Revises:
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("parent_id", sa.String(128), nullable=True),
        sa.Column("home_region", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organizations.id"], name="fk_organizations_parent_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )
    op.create_index("ix_organizations_parent_id", "organizations", ["parent_id"])
    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("home_region", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("erased_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_subjects_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("subject_id", name="pk_subjects"),
    )
    op.create_index("ix_subjects_org_id", "subjects", ["org_id"])
    op.create_table(
        "principals",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("entity", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("name", name="uq_principals_name"),
        sa.UniqueConstraint("token_hash", name="uq_principals_token_hash"),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("activated_at", _TIME, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_policy_versions"),
    )
    op.create_table(
        "shred_ledger",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("subject_pseudonym", sa.String(32), nullable=False),
        sa.Column("pseudonym_key_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("kept_classes", sa.Text(), nullable=False),
        sa.Column("destroyed_classes", sa.Text(), nullable=True),
        sa.Column("erased_at", _TIME, nullable=False),
        sa.Column("completed_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shred_ledger"),
    )
    op.create_index("ix_shred_ledger_subject_pseudonym", "shred_ledger", ["subject_pseudonym"])


def downgrade() -> None:
    op.drop_table("shred_ledger")
    op.drop_table("policy_versions")
    op.drop_table("principals")
    op.drop_table("subjects")
    op.drop_table("organizations")
