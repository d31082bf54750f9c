"""Tables of the data-subject request machinery, in the control database.

``rights_requests`` is the case file of each request: its state, the regime
and deadlines it runs under, and the outcome. ``rights_verification_codes``
holds one-time codes by hash only. ``rights_outbox`` is what the pluggable
notifier's default backend writes and an operator's mailer reads: it names
recipients by subject or processor id, never by address, and its payloads
carry ids, not personal data. ``rights_exports`` holds access and portability
exports until they expire, each sealed under a data key of its own that
``rights_export_keys`` keeps wrapped by the keyring's ``export`` key.
``rights_opt_outs`` records opt-outs of sale or sharing (CCPA s. 1798.120),
which the sharing package consults. ``rights_withholdings`` holds the grounds
on which parts of a subject's access history are withheld.

Tables carry a ``rights_`` prefix: the control database is shared by every
domain, and ``outbox`` or ``exports`` are names another domain could want.
Lists and mappings are JSON text, so the types behave alike on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = [
    "RIGHTS_TABLES",
    "ExportKeyRow",
    "ExportRow",
    "OptOutRow",
    "OutboxRow",
    "RequestRow",
    "RightsBase",
    "VerificationCodeRow",
    "WithholdingRow",
    "rights_metadata",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}
_ID = 26  # a ULID
_OPAQUE = 128  # subject, processor and principal ids
_NAME = 64  # type, state, regime, right …
_TEXT = 1000  # a reason


class RightsBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class RequestRow(RightsBase):
    """One data-subject request and everything that happened to it."""

    __tablename__ = "rights_requests"
    __table_args__ = (Index(None, "subject_id", "type", "received_at"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    type: Mapped[str] = mapped_column(String(_NAME))
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE))
    regime: Mapped[str] = mapped_column(String(_NAME))
    #: The regime and right whose deadline applies (``gdpr:erasure``); see deadlines.
    right: Mapped[str] = mapped_column(String(_NAME * 2))
    #: True when the subject's regime does not grant the right and servinfo honours it anyway.
    voluntary: Mapped[bool] = mapped_column(Boolean(), default=False)
    state: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(_OPAQUE))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by: Mapped[str | None] = mapped_column(String(_OPAQUE))
    due_at: Mapped[date] = mapped_column(Date())
    extended_due_at: Mapped[date | None] = mapped_column(Date())
    extension_reason: Mapped[str | None] = mapped_column(String(_TEXT))
    extension_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_due_at: Mapped[date | None] = mapped_column(Date())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: JSON: what was done, what was kept and why, or the refusal and the authority.
    outcome: Mapped[str | None] = mapped_column(Text())
    flagged: Mapped[bool] = mapped_column(Boolean(), default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(_TEXT))
    #: ``proceed`` or ``refuse``: the operator's case-by-case decision on a flagged request.
    operator_decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(_OPAQUE))
    #: JSON: the purpose objected to, the fields to rectify, the consent withdrawn …
    parameters: Mapped[str] = mapped_column(Text())


class VerificationCodeRow(RightsBase):
    """A one-time code sent to the subject; only its hash is kept."""

    __tablename__ = "rights_verification_codes"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(_ID), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxRow(RightsBase):
    """A message for the operator's mailer: to a subject or a processor, by id."""

    __tablename__ = "rights_outbox"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    request_id: Mapped[str | None] = mapped_column(String(_ID), index=True)
    payload: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class ExportRow(RightsBase):
    """An access or portability export, sealed under a data key of its own."""

    __tablename__ = "rights_exports"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(_ID), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The keyring key protecting it: the ``export`` key that wraps its own data key
    #: (``own_key``), or, for a row written before revision r0003, the key it was
    #: sealed under directly.
    key_id: Mapped[str] = mapped_column(String(_NAME))
    #: True when sealed under its own data key, kept wrapped in ``rights_export_keys``.
    own_key: Mapped[bool] = mapped_column(Boolean(), server_default=false())
    #: nonce || ciphertext || tag, as :class:`servinfo.crypto.Sealer` writes it.
    sealed: Mapped[bytes] = mapped_column(LargeBinary())
    size: Mapped[int] = mapped_column(Integer())


class ExportKeyRow(RightsBase):
    """An export's data key, wrapped by the keyring's ``export`` key.

    A table apart from the ciphertext: a copy of an export's row carries no
    key, and deleting this row (at expiry or erasure) shreds every copy of it.
    """

    __tablename__ = "rights_export_keys"

    export_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary())


class OptOutRow(RightsBase):
    """An opt-out of sale or sharing; in force until the subject opts back in."""

    __tablename__ = "rights_opt_outs"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    request_id: Mapped[str] = mapped_column(String(_ID))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(_OPAQUE))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WithholdingRow(RightsBase):
    """Part of a subject's access history withheld while a ground of law applies
    (:mod:`servinfo.rights.withholding`)."""

    __tablename__ = "rights_withholdings"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    #: ``security_investigation``, ``fraud_investigation`` or ``legal_gag``.
    ground: Mapped[str] = mapped_column(String(_NAME))
    #: A legal request's reference (``legal_gag``): the entries naming it are withheld.
    reference: Mapped[str | None] = mapped_column(String(_TEXT))
    #: The ground itself may not be told: the history does not name it.
    gagged: Mapped[bool] = mapped_column(Boolean())
    #: Entries from this time on (an investigation's); None: every entry the ground covers.
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the ground lapses by itself; None: until released.
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    placed_by: Mapped[str] = mapped_column(String(_OPAQUE))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(_OPAQUE))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


rights_metadata = RightsBase.metadata
#: Every table the rights package owns, by name.
RIGHTS_TABLES: frozenset[str] = frozenset(rights_metadata.tables)
