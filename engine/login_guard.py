"""Failed logins per username, in the database so every web process counts the same.

A fixed window: failures within `window` of the first are counted; the one that reaches
`max_failures` locks the name for `lockout`. Each call is its own short transaction (the
caller passes a session factory): a refused login's answer rolls the request's work back,
but its failure must still count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.models import Base


class LoginFailure(Base):
    """The failed logins of one (lower-cased) username in its current window."""

    __tablename__ = "login_failure"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


@dataclass(frozen=True)
class LoginGuard:
    """The throttle's rule and where it keeps its counts."""

    sessions: Callable[[], Session]
    max_failures: int
    window: timedelta
    lockout: timedelta

    def locked_until(self, username: str, now: datetime) -> datetime | None:
        """When a locked-out username may try again, or None."""
        with self.sessions() as session:
            until = session.scalar(
                select(LoginFailure.locked_until).where(LoginFailure.username == username)
            )
        return until if until is not None and until > now else None

    def failed(self, username: str, now: datetime) -> None:
        """Count a failed login; the failure that reaches the limit starts the lockout."""
        for _attempt in range(3):  # two first failures at once: one inserts, one updates
            try:
                with self.sessions() as session, session.begin():
                    self._count(session, username, now)
                return
            except IntegrityError:
                continue

    def _count(self, session: Session, username: str, now: datetime) -> None:
        row = session.scalar(
            select(LoginFailure).where(LoginFailure.username == username).with_for_update()
        )
        if row is None:
            row = LoginFailure(username=username, failures=0, window_start=now)
            session.add(row)
        if row.window_start <= now - self.window or (
            row.locked_until is not None and row.locked_until <= now
        ):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= self.max_failures:
            row.locked_until = now + self.lockout
            row.failures = 0

    def succeeded(self, username: str) -> None:
        """A successful login clears the name's failures."""
        with self.sessions() as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
