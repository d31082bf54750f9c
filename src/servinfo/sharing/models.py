"""Tables of the sharing domain, in the control database: legal requests.

A legal request is kept as evidence of what an authority asked for, who took
it in, who reviewed it and what they decided, what was disclosed, and when a
gag order lifted; its row is updated only to move it along that path (each
step is also an audit entry). Scopes are JSON text: subjects, categories and a
period. Types behave alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = ["SHARING_TABLES", "LegalRequestRow", "SharingBase", "sharing_metadata"]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}
_ID = 26
_OPAQUE = 128
_TEXT = 500
#: received → approved | narrowed | rejected; approved | narrowed → disclosed.
STATES = ("received", "approved", "narrowed", "rejected", "disclosed")


class SharingBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class LegalRequestRow(SharingBase):
    __tablename__ = "legal_requests"
    __table_args__ = (
        CheckConstraint(
            "state IN ('received', 'approved', 'narrowed', 'rejected', 'disclosed')", name="state"
        ),
    )

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    authority: Mapped[str] = mapped_column(String(_OPAQUE))
    #: ISO 3166-1 alpha-2: where the authority sits.
    country: Mapped[str] = mapped_column(String(8))
    #: The legal instrument: statute, court order, warrant … and its reference.
    instrument: Mapped[str] = mapped_column(String(_TEXT))
    #: JSON: {"subjects": [...], "categories": [...], "since": iso|null, "until": iso|null}.
    scope: Mapped[str] = mapped_column(Text())
    deadline: Mapped[date] = mapped_column(Date())
    gag: Mapped[bool] = mapped_column(Boolean())
    #: When the gag order ends, if it says; None with ``gag``: until lifted.
    gag_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: GDPR/UK GDPR Art. 48: the international agreement a third-country request rests on.
    agreement: Mapped[str | None] = mapped_column(String(_TEXT))
    #: GDPR Art. 49: the derogation recorded for it instead.
    derogation: Mapped[str | None] = mapped_column(String(_TEXT))
    #: The authority's X25519 public key (base64) the package is sealed to.
    recipient_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    intake_by: Mapped[str] = mapped_column(String(_OPAQUE))
    intake_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(_OPAQUE))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reasons: Mapped[str | None] = mapped_column(Text())
    #: JSON, as ``scope``: what the review approved (equal to or narrower than asked).
    approved_scope: Mapped[str | None] = mapped_column(Text())
    disclosed_by: Mapped[str | None] = mapped_column(String(_OPAQUE))
    disclosed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gag_lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


sharing_metadata = SharingBase.metadata
SHARING_TABLES: frozenset[str] = frozenset(sharing_metadata.tables)
