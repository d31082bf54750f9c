"""The life of a request: opening, verifying identity, extending, refusing, listing.

(1) *Opening* selects the regime from the subject's jurisdiction and the
    right and deadlines from the policy (:mod:`servinfo.rights.deadlines`),
    confirms receipt to the subject, and flags a burst of repeats (three or
    more requests of one type within 30 days) as possibly manifestly
    unfounded or excessive (GDPR Art. 12(5)). A flagged request is still
    received: an operator decides case by case; nothing refuses it automatically.
(2) *Verification* is the subject's own ``subject`` principal, an operator
    who checked identity (``verified=True``), or a one-time code sent through
    the notifier: 10 characters of Crockford base32 (50 bits), valid one hour,
    five attempts, kept only as a hash bound to the request. It is sent at once
    to the address the person typed, if it is one of their identifiers, or to
    the one on their account record (:mod:`servinfo.rights.contact`), and never
    stored: the outbox records that it was sent, not the code.
(3) *Extension* is allowed once, where the right has one, and only while the
    subject can still be told within the regime's notice period (Art. 12(3):
    the first month); the notice gives the reason.
(4) *Refusal* records the reason and, where the regime requires it, the
    subject's right to complain to the supervisory authority (Art. 12(4)).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update
from ulid import ULID

from servinfo.crypto import hash_token, token_matches
from servinfo.ledgers import bump_version
from servinfo.rights import _store
from servinfo.rights._core import RightsCore
from servinfo.rights.contact import Address, AddressChannel, address_on_record
from servinfo.rights.deadlines import schedule, terms_for
from servinfo.rights.entries import OPEN_STATES, Channel, Request
from servinfo.rights.errors import (
    DeliveryUnavailable,
    ExtensionRefused,
    InvalidRequest,
    RequestNotFound,
    VerificationFailed,
)
from servinfo.rights.models import VerificationCodeRow
from servinfo.rights.notifier import NoticeKind, OutboxNotifier
from servinfo.rights.parameters import check_parameters
from servinfo.store import Principal
from servinfo.store.engines import write_transaction

__all__ = ["BURST_COUNT", "BURST_WINDOW", "CODE_ATTEMPTS", "CODE_TTL", "RequestLifecycle"]

BURST_COUNT = 3
BURST_WINDOW = dt.timedelta(days=30)
CODE_TTL = dt.timedelta(hours=1)
CODE_ATTEMPTS = 5
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LENGTH = 10
_CHANNELS = ("api", "cli", "drp")
#: The purpose under which the rights machinery reads the account record for an address.
_CONTACT_PURPOSE = "legal"
_WRONG_CODE = "the code for request {} is wrong, expired or used up; ask for a new one"


def _retire_codes(connection: Connection, request_id: str, at: dt.datetime) -> None:
    connection.execute(
        update(VerificationCodeRow)
        .where(VerificationCodeRow.request_id == request_id, VerificationCodeRow.used_at.is_(None))
        .values(used_at=at)
    )


def _code_hash(request_id: str, code: str) -> str:
    return hash_token(f"{request_id}:{code.strip().upper()}")


class RequestLifecycle(RightsCore):
    def open(
        self,
        request_type: str,
        subject_id: str,
        *,
        channel: Channel,
        actor: str,
        verified: bool = False,
        parameters: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> Request:
        """Receive a request; ``verified`` when the actor checked the subject's identity."""
        at = self._utc(now)
        if channel not in _CHANNELS:
            raise InvalidRequest(f"channel {channel!r} is unknown; expected one of {_CHANNELS}")
        policy = self._policy()
        subject = self._directory.get_subject(subject_id)  # UnknownSubject
        regime = policy.regime_for(subject.jurisdiction.upper())
        terms = terms_for(policy, regime, request_type)
        checked = check_parameters(policy, request_type, parameters)
        dates = schedule(terms.right, at.date())
        request_id = str(ULID())
        with write_transaction(self._engine) as connection:
            earlier = _store.count_since(connection, subject_id, request_type, at - BURST_WINDOW)
            flagged = earlier + 1 >= BURST_COUNT
            _store.insert_request(
                connection,
                {
                    "id": request_id,
                    "type": request_type,
                    "subject_id": subject_id,
                    "regime": regime,
                    "right": terms.label,
                    "voluntary": terms.voluntary,
                    "state": "verified" if verified else "received",
                    "channel": channel,
                    "opened_by": actor,
                    "received_at": at,
                    "verified_at": at if verified else None,
                    "verified_by": actor if verified else None,
                    "due_at": dates.due,
                    "acknowledged_due_at": dates.acknowledge_by,
                    "acknowledged_at": at,
                    "flagged": flagged,
                    "flag_reason": (
                        f"request {earlier + 1} of type {request_type} by this subject within "
                        f"{BURST_WINDOW.days} days: possibly manifestly unfounded or excessive "
                        "(Art. 12(5)); an operator decides, it is not refused automatically"
                    )
                    if flagged
                    else None,
                    "parameters": checked,
                },
            )
            bump_version(connection, subject_id)
        self._ledgers.local_changes += 1
        request = self.get(request_id)
        self._audited(request, "opened", actor)
        # Receipt is confirmed at once: within CCPA's 10 business days by construction.
        self._notify(
            "receipt_notice",
            subject_id,
            {"request_id": request_id, "type": request_type, "due": dates.due.isoformat()},
            request,
            at,
        )
        return request

    # -- verification -------------------------------------------------------------------

    def verify_with_principal(
        self, request_id: str, principal: Principal, *, now: dt.datetime | None = None
    ) -> Request:
        """Verify through the subject's own ``subject`` principal."""
        request = self.get(request_id)
        if not (
            principal.kind == "subject"
            and principal.active
            and principal.binding == request.subject_id
        ):
            raise VerificationFailed(
                f"principal {principal.name!r} is not the subject of request {request_id}"
            )
        return self._change(
            request,
            ("received",),
            "verify",
            actor=principal.name,
            verified_at=self._utc(now),
            verified_by=principal.name,
            state="verified",
        )

    def send_code(
        self, request_id: str, *, to: Address | None = None, now: dt.datetime | None = None
    ) -> str:
        """Send a fresh one-time code (earlier codes die); the outbox's record of it, or ""
        when ``to`` is not the subject's (nothing is sent, and the caller is told the same).

        ``to`` is the address the person typed (canonical): the code goes there only if
        it is one of the subject's identifiers. Without it, the address comes from the
        account record, read through the access layer (rights principal, purpose legal,
        audited). The code is never stored: the outbox keeps that a code was sent, when
        and by which channel.
        """
        at = self._utc(now)
        request = self.get(request_id)
        if request.state != "received":
            raise VerificationFailed(f"request {request_id} is {request.state!r}, not awaiting one")
        # (1) Where it goes: the address typed, if it is the subject's; else the record's.
        if to is not None:
            if not self._is_identifier_of(request.subject_id, to):
                return ""
            address = to
        else:
            address = self._address_on_record(request.subject_id)
        # (2) A fresh code, kept only as a hash bound to the request; earlier ones die.
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
        expires_at = at + CODE_TTL
        code_id = str(ULID())
        with write_transaction(self._engine) as connection:
            _retire_codes(connection, request_id, at)
            connection.execute(
                insert(VerificationCodeRow).values(
                    id=code_id,
                    request_id=request_id,
                    code_hash=_code_hash(request_id, code),
                    created_at=at,
                    expires_at=expires_at,
                    attempts=0,
                )
            )
        # (3) Sent now, or not at all: a code that did not leave is withdrawn.
        try:
            self._messages.send_code(address, request=request, code=code, expires_at=expires_at)
        except BaseException:
            with write_transaction(self._engine) as connection:
                _retire_codes(connection, request_id, at)
            raise
        payload = {
            "request_id": request_id,
            "channel": address.channel,
            "expires_at": expires_at.isoformat(),
        }
        return self._record_sent("verification_code", request, payload, at)

    def _record_sent(
        self, kind: NoticeKind, request: Request, payload: dict[str, Any], at: dt.datetime
    ) -> str:
        """The outbox's record of a message servinfo delivered itself (so the operator's
        mailer does not send it again)."""
        notice_id = self._notify(kind, request.subject_id, payload, request, at)
        if isinstance(self._notifier, OutboxNotifier):
            self._notifier.mark_sent(notice_id, now=at)
        return notice_id

    def _is_identifier_of(self, subject_id: str, address: Address) -> bool:
        if self._finder is None:
            return False
        return self._finder.matches(subject_id, address.channel, address.value)

    def _address_on_record(self, subject_id: str, channel: AddressChannel | None = None) -> Address:
        """The subject's e-mail address (else phone number) from their account record."""
        with self.contact_reads.opened(subject_id):
            records = self._reads.read_subject(
                self.rights_principal(), _CONTACT_PURPOSE, subject_id, categories=["account"]
            ).records
        found = address_on_record(self._policy(), records, channel)
        if found is None:
            raise DeliveryUnavailable(
                f"subject {subject_id} has no e-mail address or phone number on record; "
                "verify their identity another way (dsr open --verified)"
            )
        return found

    def verify_with_code(
        self, request_id: str, code: str, *, now: dt.datetime | None = None
    ) -> Request:
        """Verify with the code sent; wrong, expired, used or over-tried codes fail alike."""
        at = self._utc(now)
        try:
            request = self.get(request_id)
        except RequestNotFound:
            # An id that names no request fails like a wrong code: "send me a code" answers
            # an unknown address with an id of its own, which must not tell itself apart.
            raise VerificationFailed(_WRONG_CODE.format(request_id)) from None
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                select(VerificationCodeRow.__table__)
                .where(
                    VerificationCodeRow.request_id == request_id,
                    VerificationCodeRow.used_at.is_(None),
                )
                .order_by(VerificationCodeRow.id.desc())
                .limit(1)
            ).one_or_none()
            usable = row is not None and row.expires_at > at and row.attempts < CODE_ATTEMPTS
            matched = (
                usable
                and row is not None
                and token_matches(f"{request_id}:{code.strip().upper()}", row.code_hash)
            )
            if row is not None:
                connection.execute(
                    update(VerificationCodeRow)
                    .where(VerificationCodeRow.id == row.id)
                    .values(
                        attempts=row.attempts + 1,
                        used_at=at if matched or row.attempts + 1 >= CODE_ATTEMPTS else None,
                    )
                )
        if not matched:
            raise VerificationFailed(_WRONG_CODE.format(request_id))
        return self._change(
            request,
            ("received",),
            "verify",
            actor="verification-code",
            verified_at=at,
            verified_by="verification-code",
            state="verified",
        )

    # -- extension and refusal ------------------------------------------------------------

    def extend(
        self, request_id: str, reason: str, *, actor: str, now: dt.datetime | None = None
    ) -> Request:
        """Extend once, telling the subject why within the regime's notice period."""
        at = self._utc(now)
        request = self.get(request_id)
        if not reason or not reason.strip():
            raise InvalidRequest("an extension needs a reason: the subject is told why")
        terms = terms_for(self._policy(), request.regime, request.type)
        dates = schedule(terms.right, request.received_at.date())
        if dates.extended_due is None or dates.extension_notice_by is None:
            raise ExtensionRefused(
                f"the right {terms.label} allows no extension; answer by {request.due_at}"
            )
        if request.extended_due_at is not None:
            raise ExtensionRefused(f"request {request_id} was already extended once")
        if at.date() > dates.extension_notice_by:
            raise ExtensionRefused(
                f"an extension of {terms.label} must be notified by "
                f"{dates.extension_notice_by}, got {at.date()}"
            )
        extended = self._change(
            request,
            OPEN_STATES,
            "extend",
            actor=actor,
            extended_due_at=dates.extended_due,
            extension_reason=reason.strip(),
            extension_notified_at=at,
        )
        self._notify(
            "extension_notice",
            request.subject_id,
            {
                "request_id": request_id,
                "reason": reason.strip(),
                "due": dates.extended_due.isoformat(),
            },
            request,
            at,
        )
        return extended

    def refuse(
        self, request_id: str, reason: str, *, actor: str, now: dt.datetime | None = None
    ) -> Request:
        """Refuse with the reason; the authority too where the regime requires (Art. 12(4))."""
        at = self._utc(now)
        if not reason or not reason.strip():
            raise InvalidRequest("a refusal needs a reason: the subject is told why")
        request = self.get(request_id)
        outcome = {"refused": True, "reason": reason.strip(), **self._complaint(request.regime)}
        refused = self._change(
            request,
            OPEN_STATES,
            "refuse",
            actor=actor,
            state="refused",
            completed_at=at,
            outcome=outcome,
            operator_decision="refuse" if request.flagged else None,
            decided_by=actor if request.flagged else None,
        )
        self._notify(
            "completion_notice",
            request.subject_id,
            {"request_id": request_id, "state": "refused", **outcome},
            request,
            at,
        )
        return refused

    def _complaint(self, regime_id: str) -> dict[str, Any]:
        regime = self._policy().regimes[regime_id]
        if not regime.complaint_notice:
            return {}
        return {
            "complaint": {
                "authority": regime.authority.name,
                "url": regime.authority.url,
                "statement": (
                    "You may lodge a complaint with a supervisory authority and seek a "
                    f"judicial remedy ({regime.name}, Art. 12(4))."
                ),
            }
        }

    # -- reading the case files ---------------------------------------------------------

    def list_requests(
        self,
        *,
        overdue: bool = False,
        subject_id: str | None = None,
        open_only: bool = False,
        now: dt.datetime | None = None,
    ) -> list[Request]:
        """Requests, oldest first; ``overdue`` keeps open ones past their deadline."""
        today = self._utc(now).date()
        with self._engine.connect() as connection:
            found = _store.requests(
                connection, subject_id=subject_id, open_only=open_only or overdue
            )
        return [r for r in found if r.overdue(today)] if overdue else found
