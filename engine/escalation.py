"""Escalation: a user task past its due date goes to, or is told to, the next supervisor up.

A diagram says so with a non-interrupting boundary timer on the task, due when the task is,
followed by the service task operator `eskalasi` with parameters `tugas` (the task's element
id) and `tindakan`: `alihkan` reassigns the open task to the supervisor of whoever holds it
now (released if it was claimed), `beritahu` only tells that supervisor. Both tell the
person who held it, write an audit row, and leave the task open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine import audit
from engine.errors import InvalidInput
from engine.models import Instance, TaskModel, User
from engine.notifications import notify
from engine.services import ServiceContext, service
from engine.users import supervisor_of

KIND_ESCALATION = "escalation"
ACTIONS = ("alihkan", "beritahu")
TEXTS = {
    "alihkan": (
        "Eskalasi: {task} dialihkan kepada Anda",
        "Tugas '{task}' ({case}) melewati batas waktunya di tangan {holder} dan kini dialihkan"
        " kepada Anda sebagai atasan berikutnya. Buka menu Tugas saya untuk mengerjakannya.",
    ),
    "beritahu": (
        "Eskalasi: {task} melewati batas waktu",
        "Tugas '{task}' ({case}) melewati batas waktunya dan masih di tangan {holder}. Anda"
        " diberi tahu sebagai atasan berikutnya.",
    ),
    "holder": (
        "Tugas {task} melewati batas waktu",
        "Tugas '{task}' ({case}) melewati batas waktunya dan telah dieskalasi kepada {next}.",
    ),
}


@service("eskalasi")
def eskalasi(ctx: ServiceContext, tugas: str, tindakan: str = "alihkan") -> dict[str, Any]:
    """Escalate the open task `tugas` of this instance one supervisor up; who it went to."""
    if tindakan not in ACTIONS:
        raise InvalidInput(f"eskalasi: tindakan must be one of {', '.join(ACTIONS)}")
    session = ctx.session
    rows = session.scalars(
        select(TaskModel).where(
            TaskModel.instance_id == ctx.instance_id,
            TaskModel.element_id == tugas,
            TaskModel.completed_at.is_(None),
        )
    ).all()
    instance = session.get(Instance, ctx.instance_id) if ctx.instance_id else None
    escalated: list[dict[str, Any]] = []
    for row in rows:
        holder_id = row.claimed_by_id or row.assignee_id
        holder = session.get(User, holder_id) if holder_id else None
        up_name = supervisor_of(session, holder.username) if holder else None
        up = session.scalar(select(User).where(User.username == up_name)) if up_name else None
        if holder is None or up is None:
            escalated.append({"task": row.id, "to": None, "reason": "no supervisor above"})
            _audit(ctx, instance, row, tindakan, holder, None)
            continue
        if tindakan == "alihkan":
            row.assignee_id = up.id
            row.claimed_by_id = None
            row.claimed_at = None
        values = {
            "task": row.name,
            "case": row.business_key or f"#{row.instance_id}",
            "holder": holder.full_name or holder.username,
            "next": up.full_name or up.username,
        }
        for person, text in ((up, TEXTS[tindakan]), (holder, TEXTS["holder"])):
            notify(
                session,
                user_ids=[person.id],
                kind=KIND_ESCALATION,
                title=text[0].format(**values),
                body=text[1].format(**values),
                instance_id=row.instance_id,
                task_id=row.id,
            )
        _audit(ctx, instance, row, tindakan, holder, up)
        escalated.append({"task": row.id, "to": up.username})
    session.flush()
    return {"tugas": tugas, "tindakan": tindakan, "hasil": escalated}


def _audit(
    ctx: ServiceContext,
    instance: Instance | None,
    row: TaskModel,
    action: str,
    holder: User | None,
    up: User | None,
) -> None:
    ctx.audits.append(
        audit.entry(
            "sistem",
            "escalated",
            process_key=instance.process_key if instance else None,
            instance_id=row.instance_id,
            task_id=row.id,
            element_id=row.element_id,
            detail={
                "tindakan": action,
                "from": holder.username if holder else None,
                "to": up.username if up else None,
            },
            at=ctx.now,
        )
    )
