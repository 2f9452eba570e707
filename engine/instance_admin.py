"""Who may look at an instance, and the admin's reassignment of a task (with a reason)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.committee import committee_allows
from engine.documents import may_see_instance
from engine.errors import InvalidInput, NotAllowed, StaleTask
from engine.models import Instance, TaskModel, User, UserRole, utcnow
from engine.runtime import audit_task, get_instance, get_task, is_admin, update_open_task
from engine.step import ACTIVE_STATES, ADMIN_ROLE
from engine.users import user_by_name

OWNER_ROLE = "pemilik_proses"
MAX_REASON = 1000


def is_process_owner(user: User) -> bool:
    """Whether the user owns the diagrams (process owner) or administers processes."""
    return is_admin(user) or OWNER_ROLE in user.role_names


def may_view_instance(session: Session, user: User, instance: Instance) -> bool:
    """Admins and process owners; otherwise the starter and whoever has (had) one of its tasks."""
    return is_process_owner(user) or may_see_instance(session, user, instance.id)


def may_see_history_data(session: Session, user: User, instance: Instance) -> bool:
    """Submitted data in the history: admins and the instance's participants, not owners alone."""
    return may_see_instance(session, user, instance.id)


def check_reason(reason: str | None, what: str) -> str:
    """A non-empty reason of bounded length, stripped."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(f"reason: a reason is required to {what}")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters")
    return text


def may_do(session: Session, user: User, task: TaskModel, starter_id: int | None) -> bool:
    """Whether a user could do this task by its role (or as its starter), ignoring assignment."""
    if not user.active:
        return False
    if is_admin(user):
        return True
    if task.role:
        return task.role in user.role_names and committee_allows(session, user, task)
    return starter_id == user.id


def reassign_task(
    session: Session, task_id: int, actor: User, username: str, reason: str
) -> TaskModel:
    """Give an open task to another user who may do it (admins only); audited with the reason."""
    if not is_admin(actor):
        raise NotAllowed(f"{actor.username} may not reassign tasks")
    text = check_reason(reason, "reassign a task")
    row = get_task(session, task_id)
    if row.completed_at is not None:
        raise StaleTask(f"task {task_id} is already {row.outcome or 'completed'}")
    instance = get_instance(session, row.instance_id)
    if instance.state not in ACTIVE_STATES:
        raise StaleTask(f"instance {instance.id} is {instance.state}")
    name = (username or "").strip()
    target = user_by_name(session, name) if name else None
    if target is None:
        raise InvalidInput(f"user: no user named '{name}'")
    if not may_do(session, target, row, instance.started_by_id):
        role = row.role or "starter"
        raise InvalidInput(f"user: {target.username} may not do this task (needs role {role})")
    before = row.claimed_by_id or row.assignee_id
    holder = session.get(User, before) if before else None
    previous = holder.username if holder is not None else None
    if target.id == before:
        raise InvalidInput(f"user: the task is already {target.username}'s")
    now = utcnow()
    update_open_task(
        session,
        row,
        f"task {task_id} was completed meanwhile",
        assignee_id=target.id,
        claimed_by_id=target.id,
        claimed_at=now,
    )
    detail = {"from": previous, "to": target.username, "reason": text}
    audit_task(session, actor, "reassigned", row, detail=detail, at=now)
    return row


def eligible_users(session: Session, task_id: int, limit: int = 200) -> list[User]:
    """Active users who may do an open task (by role, committee or as starter), by name."""
    row = get_task(session, task_id)
    instance = get_instance(session, row.instance_id)
    query = select(User).where(User.active.is_(True))
    if row.role:
        holders = select(UserRole.user_id).where(UserRole.role.in_((row.role, ADMIN_ROLE)))
        query = query.where(User.id.in_(holders))
    else:
        admins = select(UserRole.user_id).where(UserRole.role == ADMIN_ROLE)
        query = query.where(or_(User.id == instance.started_by_id, User.id.in_(admins)))
    users = session.scalars(query.order_by(User.full_name, User.username).limit(limit)).all()
    return [u for u in users if may_do(session, u, row, instance.started_by_id)]
