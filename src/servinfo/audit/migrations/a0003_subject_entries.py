"""Entries of format 2; an index of each subject's entries, filled for the entries already stored.

- ``audit_subject_entries (bucket, pseudonym, seq)``: one row per entry about a
  subject, keyed by its bucket (``seq >> 12``) and the 16 bytes of its
  pseudonym, written in the append's transaction from now on, so a subject's
  history is found without scanning the log (WITHOUT ROWID on SQLite: the key
  is the row). Erasure deletes a subject's rows with its salt.
- ``audit_state.erasures``: how many salts were ever destroyed; an erasure adds
  one in its transaction, so an appending process knows when the salts it has
  seen committed may no longer all exist.
- The entries already stored (format 1) are indexed here, read in chunks of
  seqs, each one's ``subject_pseudonym`` taken from its stored bytes. Entries
  are never rewritten.

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a0003"
down_revision: str | None = "a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Entries read, and index rows written, per round trip.
_CHUNK = 10_000
#: Frozen here: servinfo.audit.models.SUBJECT_BUCKET_BITS when this revision was written.
_BUCKET_BITS = 12


def upgrade() -> None:
    index = op.create_table(
        "audit_subject_entries",
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pseudonym", sa.LargeBinary(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("bucket", "pseudonym", "seq", name="pk_audit_subject_entries"),
        sqlite_with_rowid=False,
    )
    op.add_column(
        "audit_state",
        sa.Column("erasures", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    _index_stored_entries(op.get_bind(), index)


def _index_stored_entries(connection: sa.Connection, index: sa.Table) -> None:
    entries = sa.table("audit_entries", sa.column("seq", sa.BigInteger()), sa.column("entry"))
    start = 0
    while True:
        rows = connection.execute(
            sa.select(entries.c.seq, entries.c.entry)
            .where(entries.c.seq >= start)
            .order_by(entries.c.seq)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        found = []
        for seq, data in rows:
            pseudonym = _pseudonym(bytes(data))
            if pseudonym is not None:
                found.append(
                    {"bucket": int(seq) >> _BUCKET_BITS, "pseudonym": pseudonym, "seq": int(seq)}
                )
        if found:
            connection.execute(index.insert(), found)
        start = int(rows[-1][0]) + 1


def _pseudonym(data: bytes) -> bytes | None:
    """The 16 bytes of the pseudonym a stored entry names; None for none (or bytes that are
    not an entry: verification, not this migration, reports those)."""
    try:
        value = json.loads(data).get("subject_pseudonym")
        return bytes.fromhex(value) if isinstance(value, str) and len(value) == 32 else None
    except (ValueError, AttributeError):
        return None


def downgrade() -> None:
    op.drop_column("audit_state", "erasures")
    op.drop_table("audit_subject_entries")
