"""The collect package's table in the control database: idempotency keys.

One row per (principal, ``Idempotency-Key``): the hash of the request it
answered, and — once answered — the status code and JSON body to replay.
A row is *claimed* (``state='pending'``) before the request is processed, so
the primary key decides which of two racing workers processes it. While a
batch is processed, ``done_lines`` and ``partial`` record the lines already
committed, and ``updated_at`` is a heartbeat: a retry that finds a claim whose
heartbeat stopped resumes after ``done_lines`` instead of storing them again.
Rows are deleted once ``expires_at`` has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = ["COLLECT_TABLES", "CollectBase", "IdempotencyKeyRow", "collect_metadata"]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
#: Longest accepted ``Idempotency-Key`` (a UUID is 36; some senders use longer keys).
KEY_LENGTH = 255


class CollectBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class IdempotencyKeyRow(CollectBase):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "expires_at"),)

    principal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    done_lines: Mapped[int] = mapped_column(Integer)
    partial: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


collect_metadata = CollectBase.metadata
COLLECT_TABLES = frozenset(collect_metadata.tables)
