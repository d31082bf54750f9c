"""How the subject and processors are told: a pluggable :class:`Notifier`.

Notices (receipts, extensions, answers to processors …) go through an outbox:
the default :class:`OutboxNotifier` writes each message to the
``rights_outbox`` table, naming its recipient by subject or processor id;
the operator's mailer reads the outbox (``servinfo dsr outbox``), resolves
addresses from its own records, sends, and marks each message sent. Payloads
carry ids and policy text, never personal data, and never a verification
code: servinfo sends codes itself, at once, to the person's address
(:mod:`servinfo.rights.contact`), and the outbox keeps only that one was sent
(kind, request, channel, expiry), marked sent. Answers it e-mailed itself are
recorded the same way. A code found in a payload written before this (it was
kept until marked sent) is still blanked when the message is marked sent.

Backends are chosen by name (:data:`NOTIFIERS`, the warehouse pattern), so a
deployment can plug in a queue or a webhook without an ``if`` in the service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy import Engine, insert, select, update
from ulid import ULID

from servinfo.rights.errors import InvalidRequest, RequestNotFound
from servinfo.rights.models import OutboxRow
from servinfo.store.engines import write_transaction

__all__ = [
    "NOTICE_KINDS",
    "NOTIFIERS",
    "Notice",
    "NoticeKind",
    "Notifier",
    "OutboxNotifier",
    "notifier_named",
]

NoticeKind = Literal[
    "verification_code",
    "receipt_notice",
    "erasure_notice",
    "rectification_notice",
    "extension_notice",
    "restriction_lift_notice",
    "completion_notice",
    #: The subject's data went to an authority under a legal request (servinfo.sharing).
    "disclosure_notice",
    #: Art. 19: a recipient told that the subject restricted processing.
    "restriction_notice",
]
NOTICE_KINDS: frozenset[str] = frozenset(NoticeKind.__args__)  # type: ignore[attr-defined]
#: Payload keys blanked when a message is marked sent.
_SECRET_KEYS = ("code",)


@runtime_checkable
class Notifier(Protocol):
    def notify(
        self,
        kind: NoticeKind,
        recipient: str,
        payload: Mapping[str, Any],
        *,
        request_id: str | None = None,
        now: datetime,
    ) -> str:
        """Queue or send one message; its id."""
        ...

    def delivered(self, notice_id: str) -> bool:
        """Whether the message reached its recipient (Art. 18(3) asks before a lift)."""
        ...


@dataclass(frozen=True)
class Notice:
    notice_id: str
    kind: str
    recipient: str
    request_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.notice_id,
            "kind": self.kind,
            "recipient": self.recipient,
            "request_id": self.request_id,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


class OutboxNotifier:
    """Writes messages to ``rights_outbox`` in the control database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def notify(
        self,
        kind: NoticeKind,
        recipient: str,
        payload: Mapping[str, Any],
        *,
        request_id: str | None = None,
        now: datetime,
    ) -> str:
        if kind not in NOTICE_KINDS:
            raise InvalidRequest(f"notice kind {kind!r} is unknown; expected one of {NOTICE_KINDS}")
        notice_id = str(ULID())
        with write_transaction(self._engine) as connection:
            connection.execute(
                insert(OutboxRow).values(
                    id=notice_id,
                    kind=kind,
                    recipient=recipient,
                    request_id=request_id,
                    payload=json.dumps(dict(payload), sort_keys=True),
                    created_at=now,
                )
            )
        return notice_id

    def pending(self) -> list[Notice]:
        """Messages not yet marked sent, oldest first: what the mailer picks up."""
        return self.notices(pending_only=True)

    def notices(
        self,
        *,
        pending_only: bool = False,
        request_id: str | None = None,
        recipient: str | None = None,
        kind: str | None = None,
    ) -> list[Notice]:
        query = select(OutboxRow.__table__).order_by(OutboxRow.id)
        if pending_only:
            query = query.where(OutboxRow.sent_at.is_(None))
        if request_id is not None:
            query = query.where(OutboxRow.request_id == request_id)
        if recipient is not None:
            query = query.where(OutboxRow.recipient == recipient)
        if kind is not None:
            query = query.where(OutboxRow.kind == kind)
        with self._engine.connect() as connection:
            return [_notice(row) for row in connection.execute(query)]

    def mark_sent(self, notice_id: str, *, now: datetime) -> Notice:
        """Record delivery; a verification code leaves the database with it."""
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                select(OutboxRow.__table__).where(OutboxRow.id == notice_id)
            ).one_or_none()
            if row is None:
                raise RequestNotFound(notice_id, "outbox message")
            payload = {k: v for k, v in json.loads(row.payload).items() if k not in _SECRET_KEYS}
            connection.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notice_id, OutboxRow.sent_at.is_(None))
                .values(sent_at=now, payload=json.dumps(payload, sort_keys=True))
            )
        return self.notices_by_id(notice_id)

    def delivered(self, notice_id: str) -> bool:
        return self.notices_by_id(notice_id).sent_at is not None

    def notices_by_id(self, notice_id: str) -> Notice:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(OutboxRow.__table__).where(OutboxRow.id == notice_id)
            ).one_or_none()
        if row is None:
            raise RequestNotFound(notice_id, "outbox message")
        return _notice(row)


def _notice(row: Any) -> Notice:
    return Notice(
        row.id,
        row.kind,
        row.recipient,
        row.request_id,
        json.loads(row.payload),
        row.created_at,
        row.sent_at,
    )


#: Notifier backends by the name a deployment's settings give.
NOTIFIERS: dict[str, Callable[[Engine], Notifier]] = {"outbox": OutboxNotifier}


def notifier_named(name: str, engine: Engine) -> Notifier:
    """The notifier a setting names; fails naming the known ones."""
    try:
        factory = NOTIFIERS[name]
    except KeyError:
        raise InvalidRequest(
            f"notifier {name!r} is unknown; expected one of: {', '.join(sorted(NOTIFIERS))}"
        ) from None
    return factory(engine)
