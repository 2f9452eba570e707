"""Email through an outbox: rows written with the event, sent later by `deliver_due`.

`queue` adds a row in the caller's transaction, so an email exists exactly when the event that
caused it was committed. `deliver_due` (called by the worker loop and by `jenjang mail
send-due`) sends what is due, **one transaction per message**: it claims one row with
`SELECT ... FOR UPDATE SKIP LOCKED` (on PostgreSQL several deliverers share the outbox and
never send the same row at once; SQLite ignores the clause, so run one deliverer there), sends
it over SMTP, and commits the row as sent. A failed send records the error and waits
`retry_seconds * 2 ** (attempts - 1)` (capped at `max_retry_seconds`) before the next try; after
`max_attempts` tries, or at once when the server refuses the message for good (a 5xx answer),
the row is kept as failed, never deleted. A deliverer killed between the send and its commit
leaves the row due, so that one message may go out twice; none is ever lost.

The texts are rendered by whoever queues the mail (engine.notifications keeps its templates
as plain data in Bahasa Indonesia); this module only moves bytes. It reads no environment:
the web/CLI layer builds `MailConfig` (webui/mailconfig.py).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import Index, String, Text, case, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.errors import InvalidInput
from engine.models import Base, utcnow
from engine.sources import one_line

TLS_MODES = ("none", "starttls", "ssl")
# Defaults of MailConfig, documented in docs/notifications.md: 8 tries over about 4 hours
# (1, 2, 4, 8, 16, 32, 64 minutes between them), each SMTP conversation at most 30 s.
MAX_ATTEMPTS = 8
RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 6 * 3600
SMTP_TIMEOUT = 30.0
MAX_ADDRESS, MAX_SUBJECT = 254, 255
DUE = text("sent_at IS NULL AND failed_at IS NULL")


class MailOutbox(Base):
    """One email to send: pending, sent (sent_at) or given up (failed_at), never deleted."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_due", "next_attempt_at", postgresql_where=DUE, sqlite_where=DUE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(MAX_ADDRESS))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def status(self) -> str:
        """pending, sent or failed."""
        if self.sent_at is not None:
            return "sent"
        return "failed" if self.failed_at is not None else "pending"


@dataclass(frozen=True)
class MailConfig:
    """How to reach the SMTP server, and how patiently to retry (see the module docstring)."""

    host: str
    sender: str
    port: int = 587
    tls: str = "starttls"  # none | starttls | ssl
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    retry_seconds: int = RETRY_SECONDS
    max_retry_seconds: int = MAX_RETRY_SECONDS

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise InvalidInput(f"tls must be one of {', '.join(TLS_MODES)}, not '{self.tls}'")
        if not 0 < self.port < 65536:
            raise InvalidInput(f"port must be between 1 and 65535, not {self.port}")
        if self.max_attempts < 1 or self.retry_seconds < 1:
            raise InvalidInput("max_attempts and retry_seconds must be at least 1")

    def retry_delay(self, attempts: int) -> timedelta:
        """How long to wait after the given number of failed attempts."""
        seconds = self.retry_seconds * 2 ** min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(seconds, self.max_retry_seconds))


@dataclass
class DeliveryReport:
    """What one `deliver_due` pass did."""

    sent: int = 0
    retried: int = 0  # failed this time, will be tried again later
    failed: int = 0  # given up: kept as failed
    errors: list[str] = field(default_factory=list)


def queue(
    session: Session,
    to: str,
    subject: str,
    body: str,
    *,
    kind: str = "",
    now: datetime | None = None,
) -> MailOutbox:
    """Add an email to the outbox in the caller's transaction (sent later by deliver_due)."""
    to = to.strip()
    if not to or "@" not in to or len(to) > MAX_ADDRESS or any(c in to for c in "\r\n,;<>"):
        raise InvalidInput(f"email address '{one_line(to)[:80]}' is not valid")
    subject = one_line(subject)[:MAX_SUBJECT]
    if not subject:
        raise InvalidInput("email subject is empty")
    moment = now or utcnow()
    row = MailOutbox(
        to_address=to,
        subject=subject,
        body=body,
        kind=kind[:32],
        created_at=moment,
        attempts=0,
        next_attempt_at=moment,
    )
    session.add(row)
    return row


def build_message(row: MailOutbox, sender: str) -> EmailMessage:
    """The email for an outbox row (plain UTF-8 text)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at.replace(tzinfo=None), usegmt=False)
    message["Message-ID"] = make_msgid(idstring=f"outbox{row.id}", domain="jenjang")
    message.set_content(row.body)
    return message


class _Connection:
    """One SMTP connection opened on first use and reused for the pass; dropped on failure."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(message)
        except BaseException:
            self.close()
            raise

    def _open(self) -> smtplib.SMTP:
        c = self.config
        smtp: smtplib.SMTP
        if c.tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            if c.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if c.user:
                smtp.login(c.user, c.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def _permanent(exc: Exception) -> bool:
    """Whether the server refused the message for good (5xx): retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False  # a configuration error the operator can fix: keep retrying
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _claim(session: Session, now: datetime, skip: set[int]) -> MailOutbox | None:
    query = (
        select(MailOutbox)
        .where(
            MailOutbox.sent_at.is_(None),
            MailOutbox.failed_at.is_(None),
            MailOutbox.next_attempt_at <= now,
        )
        .order_by(MailOutbox.next_attempt_at, MailOutbox.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(MailOutbox.id.not_in(sorted(skip)))
    return session.scalar(query)


def deliver_due(
    session_factory: Callable[[], Session],
    config: MailConfig,
    now: datetime,
    limit: int = 100,
) -> DeliveryReport:
    """Send up to `limit` due emails, one transaction each; failures wait and retry."""
    report = DeliveryReport()
    connection = _Connection(config)
    tried: set[int] = set()  # rows of this pass (a failed one is not due again before `now`)
    try:
        for _ in range(limit):
            with session_factory() as session, session.begin():
                row = _claim(session, now, tried)
                if row is None:
                    break
                tried.add(row.id)
                _send_one(row, connection, config, now, report)
    finally:
        connection.close()
    return report


def _send_one(
    row: MailOutbox,
    connection: _Connection,
    config: MailConfig,
    now: datetime,
    report: DeliveryReport,
) -> None:
    row.attempts += 1
    try:
        connection.send(build_message(row, config.sender))
    except Exception as exc:  # any failure: recorded on the row, retried later, never lost
        error = one_line(f"{exc.__class__.__name__}: {exc}")[:2000]
        row.last_error = error
        if _permanent(exc) or row.attempts >= config.max_attempts:
            row.failed_at = now
            report.failed += 1
        else:
            row.next_attempt_at = now + config.retry_delay(row.attempts)
            report.retried += 1
        report.errors.append(f"email {row.id} to {row.to_address}: {error}")
        return
    row.sent_at = now
    row.last_error = None
    report.sent += 1


def outbox_counts(session: Session) -> dict[str, int]:
    """How many emails are pending, sent and failed."""
    status = case(
        (MailOutbox.sent_at.is_not(None), "sent"),
        (MailOutbox.failed_at.is_not(None), "failed"),
        else_="pending",
    )
    rows = session.execute(select(status, func.count()).group_by(status)).all()
    found = {str(key): int(count) for key, count in rows}
    return {key: found.get(key, 0) for key in ("pending", "sent", "failed")}


def failed_mail(session: Session, limit: int = 50) -> list[MailOutbox]:
    """The emails given up on, newest first."""
    return list(
        session.scalars(
            select(MailOutbox)
            .where(MailOutbox.failed_at.is_not(None))
            .order_by(MailOutbox.failed_at.desc(), MailOutbox.id.desc())
            .limit(limit)
        )
    )


def requeue(session: Session, mail_id: int, now: datetime) -> MailOutbox:
    """Give a failed email a fresh set of attempts (after fixing the address or the server)."""
    row = session.get(MailOutbox, mail_id)
    if row is None:
        raise InvalidInput(f"email {mail_id} does not exist")
    if row.failed_at is None:
        raise InvalidInput(f"email {mail_id} is {row.status}, not failed")
    row.failed_at = None
    row.attempts = 0
    row.next_attempt_at = now
    return row


def describe(row: MailOutbox) -> dict[str, Any]:
    """An outbox row as plain data."""
    return {
        "id": row.id,
        "to": row.to_address,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(timespec="seconds"),
        "next_attempt_at": row.next_attempt_at.isoformat(timespec="seconds"),
        "last_error": row.last_error,
    }
