"""Selection committees: who sits on the committee (panitia) of which formasi.

The rule, applied in one place (`committee_condition`) by the inboxes, the API and `may_act`:
an open task of `seleksi_formasi` or `lamaran` routed to the role `panitia_seleksi` (no
assignee) is for the members of that task's formasi only. A formasi with no members assigned
stays open to every `panitia_seleksi` user, and a process admin sees and acts on everything.
A task's formasi is found through the instance: `Formasi.instance_id` (the selection) or
`Lamaran.instance_id` (an application to it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, UniqueConstraint, and_, exists, or_, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import audit
from engine.admin import require_admin
from engine.errors import InvalidInput
from engine.models import Base, TaskModel, User, utcnow
from engine.recruitment import Formasi, Lamaran, get_formasi
from engine.step import ADMIN_ROLE
from engine.users import get_user

COMMITTEE_ROLE = "panitia_seleksi"
COMMITTEE_PROCESSES = ("seleksi_formasi", "lamaran")


class FormasiPanitia(Base):
    """One committee member of one formasi."""

    __tablename__ = "formasi_panitia"
    __table_args__ = (UniqueConstraint("formasi_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    formasi_id: Mapped[int] = mapped_column(ForeignKey("formasi.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _members_of_task(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """SQL: the task's formasi (by selection or application instance) has such a member."""
    by_selection = exists().where(
        Formasi.instance_id == TaskModel.instance_id,
        FormasiPanitia.formasi_id == Formasi.id,
        *where,
    )
    by_application = exists().where(
        Lamaran.instance_id == TaskModel.instance_id,
        FormasiPanitia.formasi_id == Lamaran.formasi_id,
        *where,
    )
    return or_(by_selection, by_application)


def committee_condition(user: User) -> ColumnElement[bool]:
    """SQL condition on TaskModel: the committee rule lets this user see and act on the task."""
    if ADMIN_ROLE in user.role_names:
        return true()
    return or_(
        TaskModel.assignee_id.is_not(None),
        TaskModel.role.is_(None),
        TaskModel.role != COMMITTEE_ROLE,
        TaskModel.process_key.not_in(COMMITTEE_PROCESSES),
        ~_members_of_task(),
        _members_of_task(FormasiPanitia.user_id == user.id),
    )


def committee_allows(session: Session, user: User, task: Any) -> bool:
    """Whether the committee rule lets the user act on this stored task (same SQL as inboxes).

    `task` is a TaskModel or a plain row with its columns (the claim/complete hot path).
    """
    if ADMIN_ROLE in user.role_names or task.assignee_id is not None:
        return True
    if task.role != COMMITTEE_ROLE or task.process_key not in COMMITTEE_PROCESSES:
        return True
    found = session.scalar(
        select(TaskModel.id).where(TaskModel.id == task.id, committee_condition(user))
    )
    return found is not None


def committee_of(session: Session, kode: str) -> list[str]:
    """Usernames of the committee members of a formasi (empty: open to every panitia)."""
    formasi = get_formasi(session, kode)
    return list(
        session.scalars(
            select(User.username)
            .join(FormasiPanitia, FormasiPanitia.user_id == User.id)
            .where(FormasiPanitia.formasi_id == formasi.id)
            .order_by(User.username)
        )
    )


def _member_row(session: Session, formasi: Formasi, user: User) -> FormasiPanitia | None:
    return session.scalar(
        select(FormasiPanitia).where(
            and_(FormasiPanitia.formasi_id == formasi.id, FormasiPanitia.user_id == user.id)
        )
    )


def add_member(session: Session, actor: User, kode: str, username: str) -> bool:
    """Seat a panitia_seleksi user on a formasi's committee; False when already seated."""
    require_admin(actor)
    formasi = get_formasi(session, kode, lock=True)
    user = get_user(session, username)
    if COMMITTEE_ROLE not in user.role_names:
        raise InvalidInput(f"{user.username} tidak memegang peran {COMMITTEE_ROLE}")
    if _member_row(session, formasi, user) is not None:
        return False
    session.add(FormasiPanitia(formasi_id=formasi.id, user_id=user.id))
    detail = {"formasi": formasi.kode, "user": user.username}
    audit.append(session, actor.username, "panitia_ditambah", detail=detail)
    return True


def remove_member(session: Session, actor: User, kode: str, username: str) -> bool:
    """Take a user off a formasi's committee; False when they were not on it."""
    require_admin(actor)
    formasi = get_formasi(session, kode, lock=True)
    user = get_user(session, username)
    row = _member_row(session, formasi, user)
    if row is None:
        return False
    session.delete(row)
    detail = {"formasi": formasi.kode, "user": user.username}
    audit.append(session, actor.username, "panitia_dihapus", detail=detail)
    return True
