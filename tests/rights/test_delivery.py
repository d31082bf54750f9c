"""The e-mail and SMS senders against their contracts, and the notify settings."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from servinfo.config import ConfigError, NotifySecret, load_settings, render_config_file
from servinfo.rights.delivery import (
    EmailSender,
    InsecureDevMailbox,
    InsecureDevSmsOutbox,
    NoEmailSender,
    NoSmsSender,
    SmsSender,
    SMTPEmailSender,
    email_message,
    email_sender_for,
    sms_sender_for,
)
from servinfo.rights.errors import DeliveryFailed, DeliveryUnavailable

_MESSAGE = {"sender": "privacy@ims-network.example", "subject": "Hello", "body": "Hi.\n"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Refusing:
    """A server that refuses one recipient and keeps what it accepts."""

    def __init__(self) -> None:
        self.accepted: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("refused@"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted.append(envelope.original_content or b"")
        return "250 OK"


@pytest.fixture
def server() -> Iterator[tuple[_Refusing, int]]:
    handler, port = _Refusing(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_every_sender_implements_its_protocol(tmp_path: Path) -> None:
    for sender in (
        SMTPEmailSender("127.0.0.1", 25),
        InsecureDevMailbox(tmp_path, warn=False),
        NoEmailSender(),
    ):
        assert isinstance(sender, EmailSender)
    for texter in (InsecureDevSmsOutbox(tmp_path, warn=False), NoSmsSender()):
        assert isinstance(texter, SmsSender)


def test_smtp_delivers_and_says_why_it_could_not(server: tuple[_Refusing, int]) -> None:
    handler, port = server
    sender = SMTPEmailSender("127.0.0.1", port, tls="none", timeout_seconds=5)
    sender.send(email_message(to="ada@example.test", **_MESSAGE))
    assert len(handler.accepted) == 1
    assert b"To: ada@example.test" in handler.accepted[0]
    with pytest.raises(DeliveryFailed) as refused:
        sender.send(email_message(to="refused@example.test", **_MESSAGE))
    assert "refused@" not in refused.value.message  # the reason, never the address
    closed = SMTPEmailSender("127.0.0.1", _free_port(), tls="none", timeout_seconds=2)
    with pytest.raises(DeliveryFailed, match=r"did not take the message \(ConnectionRefused"):
        closed.send(email_message(to="ada@example.test", **_MESSAGE))


def test_starttls_is_required_by_default(server: tuple[_Refusing, int]) -> None:
    """The default mode refuses a server that offers no STARTTLS: nothing in clear."""
    handler, port = server
    with pytest.raises(DeliveryFailed, match="SMTPNotSupportedError"):
        SMTPEmailSender("127.0.0.1", port, timeout_seconds=5).send(
            email_message(to="ada@example.test", **_MESSAGE)
        )
    assert handler.accepted == []


def test_the_dev_mailbox_keeps_private_files(tmp_path: Path) -> None:
    mailbox = InsecureDevMailbox(tmp_path / "mailbox", warn=False)
    mailbox.send(email_message(to="ada@example.test", **_MESSAGE))
    (path,) = (tmp_path / "mailbox").iterdir()
    assert path.suffix == ".eml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "mailbox").stat().st_mode) == 0o700
    (read,) = mailbox.messages()
    assert isinstance(read, EmailMessage)
    assert read["To"] == "ada@example.test"
    texts = InsecureDevSmsOutbox(tmp_path / "sms", warn=False)
    texts.send_text("+4930901820", "your code")
    (sms,) = (tmp_path / "sms").iterdir()
    assert sms.read_text() == "To: +4930901820\n\nyour code\n"


def test_no_sender_says_how_to_configure_one() -> None:
    with pytest.raises(DeliveryUnavailable, match=r'notify\.email to "smtp"'):
        NoEmailSender().send(email_message(to="ada@example.test", **_MESSAGE))
    with pytest.raises(DeliveryUnavailable, match=r"notify\.sms"):
        NoSmsSender().send_text("+4930901820", "code")


def _deployment_dir(tmp_path: Path, *, local_demo: bool) -> Path:
    tmp_path.mkdir()
    (tmp_path / "servinfo.toml").write_text(
        render_config_file({"eu": "sqlite:///eu.db"}, "sqlite:///control.db", local_demo=local_demo)
    )
    return tmp_path


def test_notify_settings_default_to_the_dev_mailbox_only_for_a_local_demo(tmp_path: Path) -> None:
    demo = load_settings(_deployment_dir(tmp_path / "demo", local_demo=True), {})
    assert (demo.notify_email, demo.notify_sms) == ("dev_mailbox", "dev")
    assert isinstance(email_sender_for(demo), InsecureDevMailbox)
    assert demo.notify_mailbox_dir == tmp_path / "demo" / "mailbox"
    plain = load_settings(_deployment_dir(tmp_path / "plain", local_demo=False), {})
    assert (plain.notify_email, plain.notify_sms) == ("none", "none")
    assert isinstance(email_sender_for(plain), NoEmailSender)
    assert isinstance(sms_sender_for(plain), NoSmsSender)
    smtp = load_settings(
        tmp_path / "plain",
        {
            "SERVINFO_NOTIFY_EMAIL": "smtp",
            "SERVINFO_NOTIFY_SMTP_PORT": "465",
            "SERVINFO_NOTIFY_SMTP_TLS": "implicit",
            "SERVINFO_NOTIFY_SMTP_PASSWORD": "s3cret-pass",
        },
    )
    sender = email_sender_for(smtp)
    assert isinstance(sender, SMTPEmailSender)
    assert (sender.port, sender.tls) == (465, "implicit")
    assert "s3cret-pass" not in repr(smtp)
    assert "s3cret-pass" not in repr(sender)
    assert repr(NotifySecret("x")) == "'<secret>'"
    with pytest.raises(
        ConfigError, match=r"notify\.email: expected one of smtp, dev_mailbox, none"
    ):
        load_settings(tmp_path / "plain", {"SERVINFO_NOTIFY_EMAIL": "carrier-pigeon"})
    with pytest.raises(ConfigError, match=r"notify\.smtp_tls"):
        load_settings(tmp_path / "plain", {"SERVINFO_NOTIFY_SMTP_TLS": "maybe"})
