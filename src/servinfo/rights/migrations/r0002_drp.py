"""Data Rights Protocol: the authorized-agent registry and DRP requests.

Revision ID: r0002
Revises: r0001
Create Date: 2026-05-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from models: a migration must not change
# when the models do.
_TIME = sa.DateTime(timezone=True)
_AGENT = sa.String(64)
_URL = sa.String(1000)
_HASH = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "drp_agents",
        sa.Column("agent_id", _AGENT, nullable=False),
        sa.Column("verify_key", sa.LargeBinary(), nullable=False),
        sa.Column("status_callback", _URL, nullable=True),
        sa.Column("registered_at", _TIME, nullable=False),
        sa.Column("registered_by", sa.String(128), nullable=False),
        sa.Column("principal", sa.String(128), nullable=True),
        sa.Column("token_hash", _HASH, nullable=True),
        sa.Column("paired_at", _TIME, nullable=True),
        sa.Column("setup_hash", _HASH, nullable=True),
        sa.PrimaryKeyConstraint("agent_id", name="pk_drp_agents"),
    )
    op.create_table(
        "drp_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("rights_request_id", sa.String(26), nullable=True),
        sa.Column("agent_id", _AGENT, nullable=False),
        sa.Column("agent_request_id", sa.String(255), nullable=True),
        sa.Column("exercise", sa.String(32), nullable=False),
        sa.Column("regime", sa.String(16), nullable=True),
        sa.Column("status_callback", _URL, nullable=True),
        sa.Column("issued_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("payload_hash", _HASH, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("processing_details", sa.Text(), nullable=True),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("callback_at", _TIME, nullable=True),
        sa.Column("callback_delivered", sa.String(64), nullable=True),
        sa.Column("callback_result", sa.String(255), nullable=True),
        sa.Column("callback_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_drp_requests"),
        sa.UniqueConstraint("payload_hash", name="uq_drp_requests_payload_hash"),
    )
    op.create_index("ix_drp_requests_rights_request_id", "drp_requests", ["rights_request_id"])
    op.create_index("ix_drp_requests_agent_id", "drp_requests", ["agent_id"])
    op.create_index("ix_drp_requests_status", "drp_requests", ["status"])


def downgrade() -> None:
    op.drop_table("drp_requests")
    op.drop_table("drp_agents")
