"""Data-subject requests, verification codes, the outbox, exports and opt-outs.

Revision ID: r0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("rights",)
depends_on: str | Sequence[str] | None = "c0001"

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)
_ID = sa.String(26)
_OPAQUE = sa.String(128)
_NAME = sa.String(64)
_TEXT = sa.String(1000)


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("type", _NAME, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("regime", _NAME, nullable=False),
        sa.Column("right", sa.String(128), nullable=False),
        sa.Column("voluntary", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("opened_by", _OPAQUE, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("verified_at", _TIME, nullable=True),
        sa.Column("verified_by", _OPAQUE, nullable=True),
        sa.Column("due_at", sa.Date(), nullable=False),
        sa.Column("extended_due_at", sa.Date(), nullable=True),
        sa.Column("extension_reason", _TEXT, nullable=True),
        sa.Column("extension_notified_at", _TIME, nullable=True),
        sa.Column("acknowledged_due_at", sa.Date(), nullable=True),
        sa.Column("acknowledged_at", _TIME, nullable=True),
        sa.Column("completed_at", _TIME, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", _TEXT, nullable=True),
        sa.Column("operator_decision", sa.String(16), nullable=True),
        sa.Column("decided_by", _OPAQUE, nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_requests"),
    )
    op.create_index(
        "ix_rights_requests_subject_id_type_received_at",
        "rights_requests",
        ["subject_id", "type", "received_at"],
    )
    op.create_index("ix_rights_requests_state", "rights_requests", ["state"])
    op.create_table(
        "rights_verification_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rights_verification_codes"),
    )
    op.create_index(
        "ix_rights_verification_codes_request_id", "rights_verification_codes", ["request_id"]
    )
    op.create_table(
        "rights_outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", _OPAQUE, nullable=False),
        sa.Column("request_id", _ID, nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rights_outbox"),
    )
    op.create_index("ix_rights_outbox_recipient", "rights_outbox", ["recipient"])
    op.create_index("ix_rights_outbox_request_id", "rights_outbox", ["request_id"])
    op.create_index("ix_rights_outbox_sent_at", "rights_outbox", ["sent_at"])
    op.create_table(
        "rights_exports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("key_id", _NAME, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_exports"),
    )
    op.create_index("ix_rights_exports_request_id", "rights_exports", ["request_id"])
    op.create_table(
        "rights_opt_outs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subject_id", _OPAQUE, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", _OPAQUE, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rights_opt_outs"),
    )
    op.create_index("ix_rights_opt_outs_subject_id", "rights_opt_outs", ["subject_id"])


def downgrade() -> None:
    for table in (
        "rights_opt_outs",
        "rights_exports",
        "rights_outbox",
        "rights_verification_codes",
        "rights_requests",
    ):
        op.drop_table(table)
