"""Messages that must reach the person: e-mail and SMS senders, chosen by settings.

servinfo keeps no address in clear, so most notices go to the outbox
(:mod:`servinfo.rights.notifier`) for the operator's mailer. A one-time
verification code is different: it must reach the person and nobody else — not
the operator who verifies it — so it is sent at once to an address the person
typed (and that matches their blind index) or that the rights machinery read
from their account record, and never stored: the outbox records that a code
was sent, when and how, without the code or the address.

Backends, by the name in ``notify.email`` / ``notify.sms`` (:data:`EMAIL_SENDERS`,
:data:`SMS_SENDERS`; the warehouse pattern):

* :class:`SMTPEmailSender` — ``smtplib``, STARTTLS (default), implicit TLS or,
  for a relay on the same host, none; optional login.
* :class:`InsecureDevMailbox` — writes each message as an ``.eml`` file into a
  folder of the data directory (``notify.mailbox_dir``, default ``mailbox/``), for
  ``make run``. Anyone who reads that folder reads the codes: for a local demo only.
* :class:`InsecureDevSmsOutbox` — the same for text messages (``sms/``).
* :class:`SmsSender` — the protocol an SMS provider implements.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol, cast, runtime_checkable

from ulid import ULID

from servinfo.config import Settings
from servinfo.rights.errors import DeliveryFailed, DeliveryUnavailable

__all__ = [
    "EMAIL_SENDERS",
    "SMS_SENDERS",
    "EmailSender",
    "InsecureDevMailbox",
    "InsecureDevSmsOutbox",
    "NoEmailSender",
    "NoSmsSender",
    "SMTPEmailSender",
    "SmsSender",
    "TlsMode",
    "email_message",
    "email_sender_for",
    "sms_sender_for",
]

TlsMode = Literal["starttls", "implicit", "none"]


_log = logging.getLogger(__name__)


@runtime_checkable
class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` (its ``To`` is set) or raise :class:`DeliveryFailed`."""
        ...


@runtime_checkable
class SmsSender(Protocol):
    def send_text(self, to: str, text: str) -> None:
        """Deliver ``text`` to the E.164 number ``to`` or raise :class:`DeliveryFailed`."""
        ...


def email_message(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message with the headers every sender needs."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


@dataclass(frozen=True)
class SMTPEmailSender:
    """Sends through an SMTP server with ``smtplib``; one connection per message."""

    host: str
    port: int
    tls: TlsMode = "starttls"
    username: str = ""
    password: str = ""
    timeout_seconds: float = 10.0
    #: The TLS context; the default verifies the server's certificate and name.
    context: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never the password
        return f"SMTPEmailSender(host={self.host!r}, port={self.port}, tls={self.tls!r})"

    def send(self, message: EmailMessage) -> None:
        context = self.context or ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if self.tls == "implicit":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self.password)
                refused = client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            # The reason, never the address (personal data) nor the credentials.
            raise DeliveryFailed(
                f"the SMTP server {self.host}:{self.port} did not take the message "
                f"({type(error).__name__})"
            ) from None
        if refused:
            raise DeliveryFailed(f"the SMTP server {self.host}:{self.port} refused the recipient")


class InsecureDevMailbox:
    """Writes each message to ``<folder>/<ULID>.eml`` (0600): a mailbox for a local demo."""

    def __init__(self, folder: Path, *, warn: bool = True) -> None:
        self.folder = folder
        if warn:
            _log.warning(
                "messages, verification codes included, are written to %s: for a local "
                'demo only (set notify.email = "smtp")',
                folder,
            )

    def __repr__(self) -> str:
        return f"InsecureDevMailbox({str(self.folder)!r})"

    def send(self, message: EmailMessage) -> None:
        _write_private(self.folder, f"{ULID()}.eml", message.as_bytes())

    def messages(self) -> list[EmailMessage]:
        """The messages written so far, oldest first."""
        from email import policy
        from email.parser import BytesParser

        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(self.folder.glob("*.eml"))]


class InsecureDevSmsOutbox:
    """Writes each text message to ``<folder>/<ULID>.txt`` (0600): SMS for a local demo."""

    def __init__(self, folder: Path, *, warn: bool = True) -> None:
        self.folder = folder
        if warn:
            _log.warning(
                "text messages, verification codes included, are written to %s: for a local "
                "demo only (notify.sms)",
                folder,
            )

    def __repr__(self) -> str:
        return f"InsecureDevSmsOutbox({str(self.folder)!r})"

    def send_text(self, to: str, text: str) -> None:
        _write_private(self.folder, f"{ULID()}.txt", f"To: {to}\n\n{text}\n".encode())


class NoEmailSender:
    """The setting ``notify.email = "none"``: nothing can be e-mailed; says how to fix it."""

    def send(self, message: EmailMessage) -> None:
        raise DeliveryUnavailable(
            'no e-mail sender is configured: set notify.email to "smtp" (with notify.smtp_*) '
            'or, for a local demo, "dev_mailbox"'
        )


class NoSmsSender:
    """The setting ``notify.sms = "none"``: no text messages."""

    def send_text(self, to: str, text: str) -> None:
        raise DeliveryUnavailable(
            "no SMS provider is configured (notify.sms); ask for the code by e-mail"
        )


def _write_private(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _smtp(settings: Settings) -> EmailSender:
    return SMTPEmailSender(
        host=settings.notify_smtp_host,
        port=settings.notify_smtp_port,
        tls=cast("TlsMode", settings.notify_smtp_tls),
        username=settings.notify_smtp_username,
        password=settings.notify_smtp_password,
        timeout_seconds=settings.notify_smtp_timeout_seconds,
    )


def _dev_mailbox(settings: Settings) -> EmailSender:
    return InsecureDevMailbox(settings.notify_mailbox_dir, warn=not settings.local_demo)


def _dev_sms(settings: Settings) -> SmsSender:
    return InsecureDevSmsOutbox(settings.notify_sms_dir, warn=not settings.local_demo)


#: E-mail backends by the name ``notify.email`` gives, each built from the settings.
EMAIL_SENDERS: dict[str, Callable[[Settings], EmailSender]] = {
    "smtp": _smtp,
    "dev_mailbox": _dev_mailbox,
    "none": lambda settings: NoEmailSender(),
}
#: SMS backends by the name ``notify.sms`` gives.
SMS_SENDERS: dict[str, Callable[[Settings], SmsSender]] = {
    "dev": _dev_sms,
    "none": lambda settings: NoSmsSender(),
}


def email_sender_for(settings: Settings) -> EmailSender:
    """The e-mail sender the settings name (``notify.email``)."""
    return EMAIL_SENDERS[settings.notify_email](settings)


def sms_sender_for(settings: Settings) -> SmsSender:
    """The SMS sender the settings name (``notify.sms``)."""
    return SMS_SENDERS[settings.notify_sms](settings)
