"""The ledgers: objections, restrictions, consents, legal holds, disclosures, versions.

Revision ID: l0001
Revises:
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("ledgers",)
depends_on: str | Sequence[str] | None = "c0001"

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)
_ID = sa.String(26)
_OPAQUE = sa.String(128)
_NAME = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "objections",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("purpose", _NAME, nullable=False),
        sa.Column("objected_at", _TIME, nullable=False),
        sa.Column("actor", _OPAQUE, nullable=False),
        sa.Column("withdrawn_at", _TIME, nullable=True),
        sa.Column("withdrawn_by", _OPAQUE, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_objections"),
    )
    op.create_index("ix_objections_subject_id_purpose", "objections", ["subject_id", "purpose"])
    op.create_table(
        "restrictions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("allows", sa.Text(), nullable=False),
        sa.Column("restricted_at", _TIME, nullable=False),
        sa.Column("actor", _OPAQUE, nullable=False),
        sa.Column("lifted_at", _TIME, nullable=True),
        sa.Column("lifted_by", _OPAQUE, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_restrictions"),
    )
    op.create_index("ix_restrictions_subject_id", "restrictions", ["subject_id"])
    op.create_table(
        "consents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("purpose", _NAME, nullable=True),
        sa.Column("recipient", _OPAQUE, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("notice_version", _NAME, nullable=False),
        sa.Column("actor", _OPAQUE, nullable=False),
        sa.Column("ledger_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("state IN ('given', 'withdrawn')", name="ck_consents_state"),
        sa.CheckConstraint("(purpose IS NULL) <> (recipient IS NULL)", name="ck_consents_scope"),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_subject_id", "consents", ["subject_id"])
    op.create_table(
        "legal_holds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=True),
        sa.Column("org_id", _OPAQUE, nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("placed_by", _OPAQUE, nullable=False),
        sa.Column("placed_at", _TIME, nullable=False),
        sa.Column("released_at", _TIME, nullable=True),
        sa.Column("released_by", _OPAQUE, nullable=True),
        sa.CheckConstraint(
            "(subject_id IS NULL) <> (org_id IS NULL)", name="ck_legal_holds_one_target"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_subject_id", "legal_holds", ["subject_id"])
    op.create_index("ix_legal_holds_org_id", "legal_holds", ["org_id"])
    op.create_table(
        "disclosures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("recipient", _OPAQUE, nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("basis", _NAME, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("purpose", _NAME, nullable=False),
        sa.Column("reference", sa.String(256), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", _OPAQUE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disclosures"),
    )
    op.create_index("ix_disclosures_recipient", "disclosures", ["recipient"])
    op.create_index("ix_disclosures_subject_id", "disclosures", ["subject_id"])
    op.create_table(
        "ledger_versions",
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name="pk_ledger_versions"),
    )


def downgrade() -> None:
    for table in (
        "ledger_versions",
        "disclosures",
        "legal_holds",
        "consents",
        "restrictions",
        "objections",
    ):
        op.drop_table(table)
