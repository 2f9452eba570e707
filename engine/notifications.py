"""In-app notifications: derived from the audit trail, with a "seen up to" mark per user.

Nothing is written when something happens: the notifications of a person are the audit rows
of the instances they started that the web layer counts as outcomes (an announcement, an
answer to an objection, …). A person's mark says up to which audit id they have looked, so
the unread ones are the outcomes after it.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.models import AuditEntry, Base, Instance


class NotificationMark(Base):
    """Up to which audit id a user has read their notifications."""

    __tablename__ = "notification_mark"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    seen_up_to: Mapped[int] = mapped_column(default=0)


def seen_up_to(session: Session, user_id: int) -> int:
    """The last audit id the user has seen (0 when never)."""
    mark = session.get(NotificationMark, user_id)
    return mark.seen_up_to if mark is not None else 0


def mark_seen(session: Session, user_id: int, audit_id: int) -> None:
    """Move the user's mark forward to `audit_id` (never back)."""
    mark = session.get(NotificationMark, user_id)
    if mark is None:
        session.add(NotificationMark(user_id=user_id, seen_up_to=audit_id))
    elif audit_id > mark.seen_up_to:
        mark.seen_up_to = audit_id
    session.flush()


def started_instance_events(
    session: Session, user_id: int, process_key: str, after: int = 0
) -> list[tuple[AuditEntry, Instance]]:
    """Audit rows after `after` of the user's instances of a process, oldest first."""
    rows = session.execute(
        select(AuditEntry, Instance)
        .join(Instance, AuditEntry.instance_id == Instance.id)
        .where(
            Instance.started_by_id == user_id,
            Instance.process_key == process_key,
            AuditEntry.id > after,
        )
        .order_by(AuditEntry.id)
    ).all()
    return [(entry, instance) for entry, instance in rows]
