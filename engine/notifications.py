"""In-app notifications and who gets email: rows per person, role tasks derived, outcomes marked.

What a person sees, and how it is stored so every inbox stays one indexed query:

- **Tasks assigned to them and escalations**: a `Notification` row per person (written in the
  caller's transaction by `notify`; engine.notification_events calls it after each step for
  new assigned tasks, the worker's escalation calls it directly). A row is unread until the
  person opens it or marks everything read.
- **Tasks ready for one of their roles**: not copied per member (a role may have thousands):
  read from the task table at read time (`role_tasks`, the inbox's own `team_filter`, one
  query on the open-by-role index); a per-person mark (`tasks_seen_up_to`, a task id) says
  which of them are new.
- **Outcomes an applicant should know**: derived from the audit trail of their instances
  (`started_instance_events`) by the web layer, which knows how to word them; the mark
  `seen_up_to` (an audit id) says which are new.

Email follows each person's preference (`NotificationPreference`; no row means email on,
see docs/notifications.md) and goes through the outbox of engine.mail, in the same
transaction. The texts are plain data in Bahasa Indonesia (engine.notification_events): the
engine never imports flask-babel and users have no stored language, so email is written in
the agency's language; callers of `notify` pass text already rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import mail
from engine.errors import InvalidInput, NotFound
from engine.models import AuditEntry, Base, Instance, TaskModel, User, utcnow

KIND_TASK = "task"  # a task assigned to the person
KIND_ESCALATION = "escalation"  # written by the worker's escalation through notify()
MAX_KIND, MAX_TITLE, MAX_BODY = 32, 255, 4000
APPLICANT_ROLE = "pelamar"  # never a role-wide notice: applicants hear about their own cases
UNREAD = text("read_at IS NULL")
EMAIL_FOOTER = (
    "\n\n-- \nEmail ini dikirim otomatis oleh Jenjang; mohon tidak dibalas. Notifikasi lengkap"
    " ada di aplikasi (menu Notifikasi). Jika cukup menerima notifikasi di aplikasi saja,"
    " ubah pengaturannya lewat halaman Notifikasi (Pengaturan notifikasi).\n"
)


class NotificationMark(Base):
    """Up to which audit id (outcomes) and task id (role tasks) a user has looked."""

    __tablename__ = "notification_mark"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    seen_up_to: Mapped[int] = mapped_column(default=0)
    tasks_seen_up_to: Mapped[int] = mapped_column(default=0, server_default="0")


class Notification(Base):
    """One notice to one person: a task assigned to them, an escalation, …"""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user", "user_id", "id"),
        Index("ix_notification_unread", "user_id", postgresql_where=UNREAD, sqlite_where=UNREAD),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(MAX_KIND))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None]
    task_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """A person's choice: email as well as in-app (the default), or in-app only."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    email: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- preferences ------------------------------------------------------------------------------


def wants_email(session: Session, user_id: int) -> bool:
    """Whether the person gets email as well as in-app notifications (default: yes)."""
    pref = session.get(NotificationPreference, user_id)
    return True if pref is None else pref.email


def set_email_preference(session: Session, user_id: int, email: bool) -> None:
    """Choose email + in-app (True) or in-app only (False)."""
    if not isinstance(email, bool):
        raise InvalidInput("email preference must be true or false")
    pref = session.get(NotificationPreference, user_id)
    if pref is None:
        session.add(NotificationPreference(user_id=user_id, email=email, updated_at=utcnow()))
    else:
        pref.email, pref.updated_at = email, utcnow()
    session.flush()


def email_recipients(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """Of these people, the active ones with an address who want email: id → address."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.email)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(
            User.id.in_(ids),
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
            func.coalesce(NotificationPreference.email, True).is_(True),
        )
    ).all()
    return {user_id: str(address) for user_id, address in rows}


def queue_email(
    session: Session, user_ids: Iterable[int], subject: str, body: str, kind: str
) -> int:
    """Queue one email per person who wants it (preference, address); how many were queued."""
    recipients = email_recipients(session, user_ids)
    for _user_id, address in sorted(recipients.items()):
        try:
            mail.queue(session, address, subject, body + EMAIL_FOOTER, kind=kind)
        except InvalidInput:
            continue  # a stored address that cannot be mailed: the in-app notice remains
    return len(recipients)


# -- writing ----------------------------------------------------------------------------------


def notify(
    session: Session,
    *,
    user_ids: Iterable[int],
    kind: str,
    title: str,
    body: str,
    instance_id: int | None,
    task_id: int | None,
) -> None:
    """Write an in-app notification per person and queue email per preference; no commit."""
    kind, title = kind.strip(), " ".join(title.split())
    if not kind or len(kind) > MAX_KIND:
        raise InvalidInput(f"notification kind must be 1 to {MAX_KIND} characters")
    if not title:
        raise InvalidInput("notification title is empty")
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return
    now = utcnow()
    for user_id in ids:
        session.add(
            Notification(
                user_id=user_id,
                kind=kind,
                title=title[:MAX_TITLE],
                body=body[:MAX_BODY],
                instance_id=instance_id,
                task_id=task_id,
                created_at=now,
            )
        )
    queue_email(session, ids, title, body, kind)


# -- reading ----------------------------------------------------------------------------------


def notifications_of(
    session: Session, user_id: int, limit: int = 50
) -> list[tuple[Notification, str | None]]:
    """The person's notification rows, newest first, with the task's name when about a task."""
    rows = session.execute(
        select(Notification, TaskModel.name)
        .outerjoin(TaskModel, TaskModel.id == Notification.task_id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
    return [(row, name) for row, name in rows]


def _role_condition(user: User) -> Any:
    from engine.queries import team_filter  # engine.queries imports engine.step, which imports us

    return team_filter(user)


def has_role_tasks(user: User) -> bool:
    """Whether role-wide tasks can concern the person (not applicants, who have their own)."""
    return bool(user.role_names - {APPLICANT_ROLE})


def role_tasks(session: Session, user: User, limit: int = 50) -> list[TaskModel]:
    """Open tasks of the person's roles nobody has taken yet, newest first (one query)."""
    if not has_role_tasks(user):
        return []
    return list(
        session.scalars(
            select(TaskModel)
            .where(_role_condition(user))
            .order_by(TaskModel.id.desc())
            .limit(limit)
        )
    )


def tasks_seen_up_to(session: Session, user_id: int) -> int:
    """The last role task id the person has seen (0 when never)."""
    mark = session.get(NotificationMark, user_id)
    return mark.tasks_seen_up_to if mark is not None else 0


UNREAD_CAP = 99  # the badge reads "99+" beyond this: a busy role's queue is not counted out


def unread_count(session: Session, user: User, cap: int = UNREAD_CAP) -> int:
    """Unread notification rows plus role tasks newer than the person's mark, each counted up
    to `cap` + 1 (more than `cap` is shown as such)."""
    from engine.queries import count_up_to  # engine.queries imports engine.step: loaded late

    total = count_up_to(
        session,
        select(Notification.id).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        ),
        cap,
    )
    if has_role_tasks(user) and total <= cap:
        mark = tasks_seen_up_to(session, user.id)
        total += count_up_to(
            session, select(TaskModel.id).where(_role_condition(user), TaskModel.id > mark), cap
        )
    return min(total, cap + 1)


def get_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """One of the person's own notifications; anyone else's is NotFound, like a missing one."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"notification {notification_id} does not exist")
    return row


def mark_read(session: Session, user_id: int, notification_id: int) -> Notification:
    """Mark one of the person's notifications read (idempotent)."""
    row = get_notification(session, user_id, notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
        session.flush()
    return row


def _mark(session: Session, user_id: int) -> NotificationMark:
    mark = session.get(NotificationMark, user_id)
    if mark is None:
        mark = NotificationMark(user_id=user_id, seen_up_to=0, tasks_seen_up_to=0)
        session.add(mark)
    return mark


def mark_all_read(session: Session, user_id: int, tasks_up_to: int = 0) -> None:
    """Mark every row read and move the role-task mark forward to `tasks_up_to` (never back)."""
    session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    mark = _mark(session, user_id)
    if tasks_up_to > (mark.tasks_seen_up_to or 0):
        mark.tasks_seen_up_to = tasks_up_to
    session.flush()


def seen_up_to(session: Session, user_id: int) -> int:
    """The last audit id the user has seen (0 when never)."""
    mark = session.get(NotificationMark, user_id)
    return mark.seen_up_to if mark is not None else 0


def mark_seen(session: Session, user_id: int, audit_id: int) -> None:
    """Move the user's mark forward to `audit_id` (never back)."""
    mark = _mark(session, user_id)
    if audit_id > (mark.seen_up_to or 0):
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
