"""Tables of the Data Rights Protocol endpoints, in the control database.

``drp_agents`` is the registry of authorized agents: the raw 32-byte Ed25519
verify key an operator registered out of band (the root of trust, DRP 1.0
section 3.05.1), and the ``authorized_agent`` principal whose bearer token
the agent obtained at pairwise key setup (only the token's hash is kept, here
and in the principal store). ``drp_setups`` remembers each accepted setup
message until it could no longer validate, so that none is accepted twice.
``drp_requests`` maps each DRP ``request_id``
to the servinfo request that carries it through the ordinary workflow, with
the signed claims servinfo relies on (never the identity claims: those are
personal data, used once to find the subject), the SHA-256 of the signed
message (a message is accepted once), the status last derived and the last
status callback.

The tables share the rights branch of migrations but not ``rights_metadata``:
``drp_`` tables belong to this protocol, not to the request machinery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = [
    "DRP_TABLES",
    "DrpAgentRow",
    "DrpBase",
    "DrpRequestRow",
    "DrpSetupRow",
    "drp_metadata",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}
_AGENT = 64
_URL = 1000
_HASH = 64


class DrpBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class DrpAgentRow(DrpBase):
    """An authorized agent: its verify key and its current pairwise token."""

    __tablename__ = "drp_agents"

    agent_id: Mapped[str] = mapped_column(String(_AGENT), primary_key=True)
    #: Raw Ed25519 public key, 32 bytes.
    verify_key: Mapped[bytes] = mapped_column(LargeBinary())
    #: Used when a request names no ``status_callback`` of its own.
    status_callback: Mapped[str | None] = mapped_column(String(_URL))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[str] = mapped_column(String(128))
    #: The ``authorized_agent`` principal of the current pairing; earlier ones are revoked.
    principal: Mapped[str | None] = mapped_column(String(128))
    token_hash: Mapped[str | None] = mapped_column(String(_HASH))
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: SHA-256 of the last setup message accepted: the one whose token is current.
    setup_hash: Mapped[str | None] = mapped_column(String(_HASH))
    #: Its ``issued-at``: a setup message issued earlier is refused.
    setup_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DrpSetupRow(DrpBase):
    """A setup message accepted once, remembered until it could no longer validate."""

    __tablename__ = "drp_setups"

    #: SHA-256 of the signed setup message.
    digest: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(_AGENT))
    #: The earlier of its ``expires-at`` and the end of its accepted age.
    forget_after: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DrpRequestRow(DrpBase):
    """One DRP request and the servinfo request (if any) that carries it."""

    __tablename__ = "drp_requests"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: None when no servinfo request was opened (no subject matched, an opt-in).
    rights_request_id: Mapped[str | None] = mapped_column(String(26), index=True)
    agent_id: Mapped[str] = mapped_column(String(_AGENT), index=True)
    agent_request_id: Mapped[str | None] = mapped_column(String(255))
    exercise: Mapped[str] = mapped_column(String(32))
    regime: Mapped[str | None] = mapped_column(String(16))
    status_callback: Mapped[str | None] = mapped_column(String(_URL))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The message's ``expires-at``, as signed; the request itself lives by its deadline.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload_hash: Mapped[str] = mapped_column(String(_HASH), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    processing_details: Mapped[str | None] = mapped_column(Text())
    #: Final statuses servinfo decided itself (revoked, denied/no_match or
    #: insufficient_verification …).
    settled: Mapped[bool] = mapped_column(Boolean(), default=False)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The status and reason last delivered (``status/reason``); None until one is.
    callback_delivered: Mapped[str | None] = mapped_column(String(64))
    #: What the last attempt gave: ``HTTP 200``, or the failure.
    callback_result: Mapped[str | None] = mapped_column(String(255))
    callback_failures: Mapped[int] = mapped_column(Integer(), default=0)


drp_metadata = DrpBase.metadata
#: Every table of the DRP endpoints, by name.
DRP_TABLES: frozenset[str] = frozenset(drp_metadata.tables)
