"""Consents to a recipient name their terms; disclosures can be withheld under a gag order.

A consent to disclosure (the notice's "With Your Consent") names the recipient
*and* the purpose, the exact wording shown (its hash), the channel and proof,
an end, and for a recipient in a country without a transfer mechanism the
country and the risks the subject was told (GDPR Art. 49(1)(a)). A disclosure
to an authority under a gag order is withheld from the subject until it lifts.

Revision ID: l0002
Revises: l0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0002"
down_revision: str | None = "l0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # SQLite cannot alter a check constraint: batch mode copies the table.
    with op.batch_alter_table("consents", recreate="auto") as batch:
        batch.drop_constraint("ck_consents_scope", type_="check")
        batch.create_check_constraint(
            "ck_consents_scope", "purpose IS NOT NULL OR recipient IS NOT NULL"
        )
        batch.add_column(sa.Column("wording_hash", sa.String(80), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(64), nullable=True))
        batch.add_column(sa.Column("proof", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expires_at", _TIME, nullable=True))
        batch.add_column(sa.Column("country", sa.String(8), nullable=True))
        batch.add_column(sa.Column("risks", sa.Text(), nullable=True))
    with op.batch_alter_table("disclosures") as batch:
        batch.add_column(sa.Column("withheld_until", _TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disclosures") as batch:
        batch.drop_column("withheld_until")
    with op.batch_alter_table("consents", recreate="auto") as batch:
        for column in ("risks", "country", "expires_at", "proof", "channel", "wording_hash"):
            batch.drop_column(column)
        batch.drop_constraint("ck_consents_scope", type_="check")
        batch.create_check_constraint(
            "ck_consents_scope", "(purpose IS NULL) <> (recipient IS NULL)"
        )
