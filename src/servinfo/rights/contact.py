"""Reaching the person: their address, and the messages servinfo sends them itself.

An address is either the one the person typed — used only if it is one of
their subject's identifiers (its blind index matches) — or the one on their
account record, read through the access layer by the ``rights`` principal for
the purpose ``legal`` (decided and audited like any read). The rights role may
read a subject only while a verified request is open; :class:`ContactReads`
opens that door for the one read of the contact fields that sending a code to
a received request needs, and closes it again.

:class:`ContactMessages` composes and sends the two messages servinfo delivers
itself (:mod:`servinfo.rights.delivery`): the one-time code and the answer to
a request. Neither the code nor the address is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from servinfo.access.identifiers import identifier_fields
from servinfo.access.reads import ReadRecord
from servinfo.config import Settings
from servinfo.policy.model import Policy
from servinfo.rights.delivery import (
    EmailSender,
    NoEmailSender,
    SmsSender,
    email_message,
    email_sender_for,
    sms_sender_for,
)
from servinfo.rights.entries import Request

__all__ = ["Address", "AddressChannel", "ContactMessages", "ContactReads", "address_on_record"]

AddressChannel = Literal["email", "phone"]


@dataclass(frozen=True)
class Address:
    """Where a message goes: an e-mail address or an E.164 number, canonical."""

    channel: AddressChannel
    value: str

    def __repr__(self) -> str:  # never the address itself
        return f"Address(channel={self.channel!r})"


class ContactReads:
    """Subjects whose contact fields the rights machinery is reading right now.

    Wired into the rights role's access check beside "a verified request is
    open": while :meth:`opened` holds, the ``rights`` principal may read the
    subject (and only the request machinery acts as that principal).
    """

    def __init__(self, changed: Callable[[], None]) -> None:
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()
        #: Called when the door opens or closes: cached subject states are stale.
        self._changed = changed

    def __contains__(self, subject_id: object) -> bool:
        return subject_id in self._open

    @contextmanager
    def opened(self, subject_id: str) -> Iterator[None]:
        with self._lock:
            self._open[subject_id] += 1
        self._changed()
        try:
            yield
        finally:
            with self._lock:
                self._open[subject_id] -= 1
                if self._open[subject_id] <= 0:
                    del self._open[subject_id]
            self._changed()


def address_on_record(
    policy: Policy, records: list[ReadRecord], channel: AddressChannel | None = None
) -> Address | None:
    """The first e-mail address (else phone number) the policy's identifiers name on the
    subject's account records, newest record first; None if they hold none."""
    by_kind = identifier_fields(policy)
    newest_first = sorted(records, key=lambda r: (r.collected_at, r.record_id), reverse=True)
    for wanted in ("email", "phone"):
        if channel is not None and wanted != channel:
            continue
        for record in newest_first:
            for _, field, kind in by_kind.get(record.kind, ()):
                value = record.fields.get(field)
                if kind == wanted and isinstance(value, str) and value.strip():
                    return Address(wanted, value.strip())
    return None


class ContactMessages:
    """The code and the answer, composed and sent to an :class:`Address`."""

    def __init__(self, email: EmailSender, sms: SmsSender, *, sender: str, organization: str):
        self._email = email
        self._sms = sms
        self._sender = sender
        self._organization = organization

    @classmethod
    def from_settings(cls, settings: Settings, *, organization: str) -> ContactMessages:
        """The senders ``notify.email`` and ``notify.sms`` name, from ``notify.mail_from``."""
        return cls(
            email_sender_for(settings),
            sms_sender_for(settings),
            sender=settings.notify_mail_from,
            organization=organization,
        )

    @property
    def can_email(self) -> bool:
        """Whether e-mail is configured at all (``notify.email`` is not ``none``)."""
        return not isinstance(self._email, NoEmailSender)

    def send_code(
        self, to: Address, *, request: Request, code: str, expires_at: dt.datetime
    ) -> None:
        """The one-time code for ``request``; raises DeliveryFailed / DeliveryUnavailable."""
        minutes = max(1, round((expires_at - dt.datetime.now(dt.UTC)).total_seconds() / 60))
        self._deliver(
            to,
            subject=f"Your verification code for request {request.request_id}",
            body=(
                f"Someone, we hope you, asked {self._organization} to act on the personal data "
                f"we hold about you: a request of type '{request.type}' "
                f"({request.request_id}).\n\nTo confirm it is you, enter this code:\n\n"
                f"    {code}\n\nIt is valid until {expires_at.isoformat(timespec='minutes')} "
                f"(about {minutes} minutes) and can be tried a few times only. Nobody from "
                f"{self._organization} will ever ask you for it. If you did not ask, ignore "
                "this message: nothing happens without the code.\n"
            ),
            text=(
                f"{self._organization}: your code for request {request.request_id} is {code} "
                f"(valid {minutes} minutes). Nobody from us will ask you for it."
            ),
        )

    def send_choice(self, to: Address, *, request_type: str, organizations: list[str]) -> None:
        """Tell the address's owner that it belongs to several accounts: they name one."""
        listed = "\n".join(f"    {name}" for name in organizations)
        self._deliver(
            to,
            subject="Which account is your request for?",
            body=(
                f"Someone, we hope you, asked {self._organization} to open a request of type "
                f"'{request_type}' with this address. It belongs to accounts in several "
                f"organizations:\n\n{listed}\n\nAsk again and name the organization the "
                "request is for; we did not guess. If you did not ask, ignore this message.\n"
            ),
            text=(
                f"{self._organization}: this number belongs to accounts in several "
                f"organizations ({', '.join(organizations)}); ask again naming one."
            ),
        )

    def send_answer(self, to: Address, request: Request) -> None:
        """The answer to ``request``: its state and outcome (an erasure's receipt with it)."""
        outcome: Mapping[str, Any] = request.outcome or {}
        receipt = outcome.get("receipt")
        self._deliver(
            to,
            subject=f"The answer to your request {request.request_id}",
            body=(
                f"Your request {request.request_id} ({request.type}) is {request.state}.\n\n"
                "What we did, as recorded in the request's answer:\n\n"
                + json.dumps(outcome, indent=2, sort_keys=True, default=str)
                + "\n"
            ),
            text=(
                f"{self._organization}: your request {request.request_id} ({request.type}) "
                f"is {request.state}."
            ),
            attachment=(
                (f"erasure-receipt-{request.request_id}.json", receipt)
                if isinstance(receipt, Mapping)
                else None
            ),
        )

    def _deliver(
        self,
        to: Address,
        *,
        subject: str,
        body: str,
        text: str,
        attachment: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``body`` (and a JSON ``attachment``) by e-mail, or ``text`` by SMS to a phone."""
        if to.channel == "phone":
            self._sms.send_text(to.value, text)
            return
        message = email_message(sender=self._sender, to=to.value, subject=subject, body=body)
        if attachment is not None:
            name, content = attachment
            message.add_attachment(
                json.dumps(content, indent=2, sort_keys=True).encode(),
                maintype="application",
                subtype="json",
                filename=name,
            )
        self._email.send(message)
