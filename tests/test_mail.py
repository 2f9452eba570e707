"""The email outbox against a real local SMTP server (aiosmtpd): sent, retried, given up."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.db import session_factory
from engine.errors import InvalidInput
from engine.mail import MailConfig, MailOutbox, deliver_due, outbox_counts, queue
from engine.notifications import notify
from tests.conftest import make_user
from tests.test_cli import Cli
from webui.mailconfig import mail_config_from_env

NOW = datetime(2026, 12, 1, 1, 0)
SENDER = "jenjang@bkpsdm.example.go.id"


class Inbox:
    """An aiosmtpd handler keeping every message it accepted; some recipients are refused."""

    def __init__(self, refuse: tuple[str, ...] = (), delay: float = 0.0) -> None:
        self.messages: list[EmailMessage] = []
        self.delay = delay  # a tiny pause per message, so two deliverers overlap
        self.recipients: list[list[str]] = []
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """A real SMTP server on a local port, started and stopped by the test."""

    def __init__(self, port: int, handler: Inbox) -> None:
        self.port, self.handler = port, handler
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), Inbox(refuse=("hilang@contoh.id",)))
    server.start()
    yield server
    server.stop()


def config(port: int, **kw: Any) -> MailConfig:
    return MailConfig(host="127.0.0.1", port=port, tls="none", sender=SENDER, timeout=5, **kw)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def outbox(db_engine: Engine) -> list[MailOutbox]:
    with session_factory(db_engine)() as s:
        rows = list(s.scalars(select(MailOutbox).order_by(MailOutbox.id)))
        s.expunge_all()
    return rows


def test_a_notification_reaches_the_smtp_server_once_in_indonesian(
    session: Session, db_engine: Engine, smtp: SmtpServer
) -> None:
    user = make_user(session, "atasan1", "atasan")
    user.email = "atasan1@contoh.id"
    notify(
        session,
        user_ids=[user.id],
        kind="escalation",
        title="Eskalasi: Persetujuan atasan melewati tenggat",
        body="Tugas Persetujuan atasan untuk pegawai1 belum dikerjakan sejak 3 hari.",
        instance_id=None,
        task_id=None,
    )
    session.commit()

    report = deliver_due(session_factory(db_engine), config(smtp.port), NOW)

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [message] = smtp.messages
    assert message["To"] == "atasan1@contoh.id" and message["From"] == SENDER
    assert message["Subject"] == "Eskalasi: Persetujuan atasan melewati tenggat"
    assert "belum dikerjakan sejak 3 hari" in body_of(message)
    assert "Email ini dikirim otomatis oleh Jenjang" in body_of(message)
    [row] = outbox(db_engine)
    assert row.status == "sent" and row.sent_at == NOW and row.attempts == 1
    again = deliver_due(session_factory(db_engine), config(smtp.port), NOW + timedelta(hours=1))
    assert again.sent == 0 and len(smtp.messages) == 1


def test_a_refused_connection_is_retried_with_backoff_and_sent_when_the_server_is_up(
    session: Session, db_engine: Engine
) -> None:
    queue(session, "pelamar@contoh.id", "Kabar baru tentang lamaran", "Isi", now=NOW)
    session.commit()
    port = free_port()  # nothing listens here yet: connection refused
    factory = session_factory(db_engine)

    first = deliver_due(factory, config(port), NOW)
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    [row] = outbox(db_engine)
    assert row.status == "pending" and row.attempts == 1
    assert "ConnectionRefusedError" in (row.last_error or "")
    assert row.next_attempt_at == NOW + timedelta(seconds=60)

    assert deliver_due(factory, config(port), NOW + timedelta(seconds=30)).retried == 0
    second = deliver_due(factory, config(port), NOW + timedelta(seconds=60))
    assert second.retried == 1
    [row] = outbox(db_engine)
    assert row.attempts == 2 and row.next_attempt_at == NOW + timedelta(seconds=180)

    server = SmtpServer(port, Inbox())
    server.start()
    try:
        third = deliver_due(factory, config(port), NOW + timedelta(seconds=180))
    finally:
        server.stop()
    assert third.sent == 1
    assert [m["Subject"] for m in server.messages] == ["Kabar baru tentang lamaran"]
    [row] = outbox(db_engine)
    assert row.status == "sent" and row.attempts == 3


def test_an_email_is_given_up_after_the_last_attempt_and_kept_as_failed(
    session: Session, db_url: str, db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    queue(session, "pegawai1@contoh.id", "Tugas baru: Ajukan pelatihan", "Isi", now=NOW)
    session.commit()
    port, factory = free_port(), session_factory(db_engine)
    moment = NOW
    for _attempt in range(3):
        report = deliver_due(factory, config(port, max_attempts=3), moment)
        moment += timedelta(days=1)
    assert (report.retried, report.failed) == (0, 1)
    [row] = outbox(db_engine)
    assert row.status == "failed" and row.attempts == 3 and row.last_error

    assert deliver_due(factory, config(port, max_attempts=3), moment + timedelta(days=9)) == (
        type(report)()
    )
    with session_factory(db_engine)() as s:
        assert outbox_counts(s) == {"pending": 0, "sent": 0, "failed": 1}
    shown = Cli(db_url, capsys)("mail", "status")
    assert "failed 1" in shown.stdout
    assert f"failed #{row.id} to pegawai1@contoh.id after 3 attempts" in shown.stdout


def test_a_recipient_the_server_refuses_for_good_fails_at_once(
    session: Session, db_engine: Engine, smtp: SmtpServer
) -> None:
    queue(session, "hilang@contoh.id", "Tugas baru", "Isi", now=NOW)
    queue(session, "ada@contoh.id", "Tugas baru", "Isi", now=NOW)
    session.commit()

    report = deliver_due(session_factory(db_engine), config(smtp.port), NOW)

    assert (report.sent, report.retried, report.failed) == (1, 0, 1)
    failed, sent = outbox(db_engine)
    assert failed.status == "failed" and "550" in (failed.last_error or "")
    assert sent.status == "sent"
    assert smtp.handler.recipients == [["ada@contoh.id"]]


def test_a_bad_address_is_refused_when_queued(session: Session) -> None:
    for bad in ("", "tanpa-at", "a@b.id, c@d.id", "x@y.id\nBcc: z@w.id"):
        with pytest.raises(InvalidInput, match="email address"):
            queue(session, bad, "Subjek", "Isi")


def test_two_deliverers_on_postgresql_never_send_the_same_email_twice(
    session: Session, db_engine: Engine, smtp: SmtpServer
) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL; with SQLite one deliverer is documented")
    smtp.handler.delay = 0.005
    for n in range(60):
        queue(session, f"orang{n}@contoh.id", f"Pesan {n}", "Isi", now=NOW)
    session.commit()
    factory = session_factory(db_engine)
    reports: list[Any] = []

    def deliver() -> None:
        reports.append(deliver_due(factory, config(smtp.port), NOW, limit=100))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    subjects = sorted(str(m["Subject"]) for m in smtp.messages)
    assert subjects == sorted(f"Pesan {n}" for n in range(60))
    assert sum(r.sent for r in reports) == 60
    assert all(r.sent > 0 for r in reports), [r.sent for r in reports]
    assert all(row.status == "sent" and row.attempts == 1 for row in outbox(db_engine))


def test_the_cli_sends_due_mail_through_the_configured_server(
    session: Session,
    db_url: str,
    smtp: SmtpServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue(session, "ppk1@contoh.id", "Tugas baru: Persetujuan PPK", "Isi", now=NOW)
    session.commit()
    cli = Cli(db_url, capsys)
    monkeypatch.delenv("JENJANG_SMTP_HOST", raising=False)
    missing = cli("mail", "send-due", ok=False)
    assert missing.returncode == 2 and "JENJANG_SMTP_HOST is not set" in missing.stderr

    monkeypatch.setenv("JENJANG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JENJANG_SMTP_PORT", "dua lima")
    monkeypatch.setenv("JENJANG_SMTP_TLS", "none")
    monkeypatch.setenv("JENJANG_MAIL_FROM", SENDER)
    bad = cli("mail", "send-due", ok=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "jenjang: JENJANG_SMTP_PORT must be a whole number from 1 to 65535, not 'dua lima'"
    )

    monkeypatch.setenv("JENJANG_SMTP_PORT", str(smtp.port))
    early = cli("mail", "send-due", "--now", "2026-11-30T08:00")
    assert early.stdout.strip() == "sent 0, to retry later 0, given up 0"
    sent = cli("mail", "send-due", "--now", "2026-12-01T08:00+07:00")
    assert sent.stdout.strip() == "sent 1, to retry later 0, given up 0"
    assert [m["To"] for m in smtp.messages] == ["ppk1@contoh.id"]
    assert cli("mail", "send-due", "--now", "kemarin", ok=False).returncode == 2


def test_smtp_settings_are_read_from_the_environment_with_clear_errors() -> None:
    assert mail_config_from_env({}) is None
    found = mail_config_from_env(
        {"JENJANG_SMTP_HOST": "smtp.contoh.id", "JENJANG_MAIL_FROM": SENDER}
    )
    assert found is not None
    assert (found.port, found.tls, found.user, found.max_attempts) == (587, "starttls", None, 8)
    ssl = mail_config_from_env(
        {
            "JENJANG_SMTP_HOST": "smtp.contoh.id",
            "JENJANG_SMTP_TLS": "SSL",
            "JENJANG_SMTP_USER": "jenjang",
            "JENJANG_SMTP_PASSWORD": "rahasia",
            "JENJANG_MAIL_FROM": SENDER,
        }
    )
    assert ssl is not None and (ssl.port, ssl.tls, ssl.user) == (465, "ssl", "jenjang")
    assert "rahasia" not in repr(ssl)
    for env, message in [
        ({"JENJANG_SMTP_TLS": "tls"}, "JENJANG_SMTP_TLS must be one of none, starttls, ssl"),
        ({"JENJANG_MAIL_FROM": ""}, "JENJANG_MAIL_FROM must be the sender's email address"),
        ({"JENJANG_SMTP_PORT": "70000"}, "JENJANG_SMTP_PORT must be a whole number"),
        ({"JENJANG_MAIL_MAX_ATTEMPTS": "0"}, "JENJANG_MAIL_MAX_ATTEMPTS must be a whole number"),
    ]:
        base = {"JENJANG_SMTP_HOST": "smtp.contoh.id", "JENJANG_MAIL_FROM": SENDER}
        with pytest.raises(InvalidInput, match=message):
            mail_config_from_env({**base, **env})
