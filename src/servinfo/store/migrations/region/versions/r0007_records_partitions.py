"""PostgreSQL: ``records`` partitioned, telemetry by month of collection.

``records`` becomes ``PARTITION BY LIST (category)``: ``records_telemetry``
(itself ``PARTITION BY RANGE (collected_at)``, one partition per month and a
``DEFAULT`` one) and ``records_other`` (``DEFAULT``: every other category).
The primary key becomes ``(collected_at, id, category)`` (a partitioned
table's unique keys hold every partition column); the indexes keep their
names and columns. Every existing row is copied: a partition is made for each
month of telemetry present, then the rows move in one statement. See
:mod:`servinfo.store.partitions`.

SQLite has no partitions: nothing changes there, and the code reads and
writes ``records`` the same way on both.

Revision ID: r0007
Revises: r0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "r0007"
down_revision: str | None = "r0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the store, like r0001's definition.
_PARTITIONED = ("telemetry",)
_TIME = sa.DateTime(timezone=True)
_COLUMNS = (
    "id, subject_id, org_id, category, kind, source, collected_at, retain_until, "
    "legal_hold, schema_version, key_id, ciphertext"
)
_INDEXES = {
    "ix_records_id": ["id"],
    "ix_records_subject_id_category_collected_at": ["subject_id", "category", "collected_at"],
    "ix_records_retain_until": ["retain_until"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    _set_aside("records_unpartitioned")
    _records(partitioned=True)
    op.execute("CREATE TABLE records_other PARTITION OF records DEFAULT")
    bind = op.get_bind()
    for category in _PARTITIONED:
        op.execute(
            f"CREATE TABLE records_{category} PARTITION OF records FOR VALUES IN ('{category}') "
            "PARTITION BY RANGE (collected_at)"
        )
        op.execute(
            f"CREATE TABLE records_{category}_default PARTITION OF records_{category} DEFAULT"
        )
        months = bind.exec_driver_sql(
            "SELECT DISTINCT date_trunc('month', collected_at AT TIME ZONE 'UTC')::date "
            "FROM records_unpartitioned WHERE category = %s",
            (category,),
        ).scalars()
        for month in sorted(months):
            following = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
            op.execute(
                f"CREATE TABLE records_{category}_{month.year:04d}_{month.month:02d} "
                f"PARTITION OF records_{category} "
                f"FOR VALUES FROM ('{month} 00:00:00+00') TO ('{following} 00:00:00+00')"
            )
    _move_rows("records_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    _set_aside("records_partitioned")
    _records(partitioned=False)
    _move_rows("records_partitioned")


def _set_aside(name: str) -> None:
    """Rename the current ``records`` out of the way, freeing its key's and indexes' names."""
    for index in _INDEXES:
        op.execute(f"DROP INDEX {index}")
    op.execute(f"ALTER TABLE records RENAME TO {name}")
    op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT pk_records TO pk_{name}")


def _records(*, partitioned: bool) -> None:
    key = ("collected_at", "id", "category") if partitioned else ("collected_at", "id")
    options: dict[str, Any] = {"postgresql_partition_by": "LIST (category)"} if partitioned else {}
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
        sa.PrimaryKeyConstraint(*key, name="pk_records"),
        **options,
    )
    for index, columns in _INDEXES.items():
        op.create_index(index, "records", columns)


def _move_rows(old: str) -> None:
    # Fixed table and column names, no input.
    op.execute(f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM {old}")  # noqa: S608
    op.execute(f"DROP TABLE {old}")
