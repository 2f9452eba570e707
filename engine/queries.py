"""Read-side queries: processes, inboxes, instance summaries (plain dicts, no workflow loading)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine.committee import COMMITTEE_ROLE, committee_condition
from engine.deploy import latest_decisions, latest_processes
from engine.models import AuditEntry, Instance, ProcessVersion, TaskModel, User
from engine.runtime import get_instance


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def list_processes(session: Session) -> list[dict[str, Any]]:
    """Every deployed process (latest version) and decision, with instance counts."""
    counts = dict(
        session.execute(
            select(Instance.process_key, func.count())
            .where(Instance.state.in_(("running", "waiting", "error")))
            .group_by(Instance.process_key)
        ).all()
    )
    out: list[dict[str, Any]] = [
        {
            "kind": "process",
            "key": pv.key,
            "name": pv.name,
            "version": pv.version,
            "dialect": pv.dialect,
            "deployed_by": pv.deployed_by,
            "deployed_at": _iso(pv.deployed_at),
            "active_instances": counts.get(pv.key, 0),
            "warnings": pv.warnings,
        }
        for pv in sorted(latest_processes(session).values(), key=lambda p: p.key)
    ]
    out += [
        {
            "kind": "decision",
            "key": dv.key,
            "name": dv.name,
            "version": dv.version,
            "deployed_by": dv.deployed_by,
            "deployed_at": _iso(dv.deployed_at),
        }
        for dv in sorted(latest_decisions(session).values(), key=lambda d: d.key)
    ]
    return out


def mine_filter(user: User) -> ColumnElement[bool]:
    """Open tasks that are this user's: claimed by them, assigned to them, or theirs as starter."""
    started = aliased(Instance)  # its own alias: never correlated away by a joined Instance
    started_by_user = (
        select(started.id)
        .where(started.id == TaskModel.instance_id, started.started_by_id == user.id)
        .exists()
    )
    starter_only = and_(TaskModel.role.is_(None), TaskModel.assignee_id.is_(None), started_by_user)
    return and_(
        TaskModel.completed_at.is_(None),
        or_(
            TaskModel.claimed_by_id == user.id,
            and_(
                TaskModel.claimed_by_id.is_(None),
                or_(TaskModel.assignee_id == user.id, starter_only),
            ),
        ),
        committee_condition(user),
    )


def team_filter(user: User) -> ColumnElement[bool]:
    """Open tasks of this user's roles that nobody has claimed and nobody is assigned to."""
    conditions: list[ColumnElement[bool]] = [
        TaskModel.completed_at.is_(None),
        TaskModel.claimed_by_id.is_(None),
        TaskModel.assignee_id.is_(None),
        TaskModel.role.in_(sorted(user.role_names) or [""]),
    ]
    # The committee rule only narrows tasks of the committee role: without that role among
    # the user's, it holds for every row here, and leaving it out keeps the query a plain
    # walk of ix_task_open_team (flat as the database grows).
    if COMMITTEE_ROLE in user.role_names:
        conditions.append(committee_condition(user))
    return and_(*conditions)


def actionable_filter(user: User) -> ColumnElement[bool]:
    """SQL condition: open tasks this user may claim or complete (both inbox tabs; admins: all)."""
    if "admin" in user.role_names:
        return TaskModel.completed_at.is_(None)
    return or_(mine_filter(user), team_filter(user))


def task_dict(row: TaskModel, names: dict[int, str]) -> dict[str, Any]:
    """A task row as plain data."""
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "process": row.process_key,
        "business_key": row.business_key,
        "element_id": row.element_id,
        "name": row.name,
        "role": row.role,
        "assignee": names.get(row.assignee_id) if row.assignee_id else None,
        "form_key": row.form_key,
        "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at),
        "claimed_by": names.get(row.claimed_by_id) if row.claimed_by_id else None,
        "completed_by": names.get(row.completed_by_id) if row.completed_by_id else None,
        "completed_at": _iso(row.completed_at),
        "outcome": row.outcome,
    }


def _names(session: Session, rows: list[TaskModel]) -> dict[int, str]:
    ids = {i for r in rows for i in (r.assignee_id, r.claimed_by_id, r.completed_by_id) if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def list_tasks(
    session: Session,
    *,
    role: str | None = None,
    user: User | None = None,
    instance_id: int | None = None,
    include_done: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Tasks filtered by role, by who may act, or by instance; open ones unless include_done."""
    query = select(TaskModel)
    if not include_done:
        query = query.where(TaskModel.completed_at.is_(None))
    if role:
        query = query.where(TaskModel.role == role)
    if user is not None:
        query = query.where(actionable_filter(user))
    if instance_id is not None:
        query = query.where(TaskModel.instance_id == instance_id)
    rows = list(session.scalars(query.order_by(TaskModel.created_at, TaskModel.id).limit(limit)))
    names = _names(session, rows)
    return [task_dict(r, names) for r in rows]


def instance_summary(session: Session, instance_id: int) -> dict[str, Any]:
    """State, version, open tasks and history of one instance."""
    inst = get_instance(session, instance_id)
    starter = aliased(User)
    started_by = session.scalar(select(starter.username).where(starter.id == inst.started_by_id))
    history = session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == inst.id).order_by(AuditEntry.id)
    ).all()
    return {
        "id": inst.id,
        "process": inst.process_key,
        "version": inst.process_version.version,
        "business_key": inst.business_key,
        "state": inst.state,
        "started_by": started_by,
        "started_at": _iso(inst.started_at),
        "updated_at": _iso(inst.updated_at),
        "ended_at": _iso(inst.ended_at),
        "error": (
            {"element": inst.error_element, "message": inst.error_message}
            if inst.state == "error"
            else None
        ),
        "open_tasks": list_tasks(session, instance_id=inst.id),
        "history": [
            {
                "at": _iso(h.at),
                "actor": h.actor,
                "action": h.action,
                "element": h.element_id,
                "task_id": h.task_id,
                "detail": h.detail,
            }
            for h in history
        ],
    }


def _workflow_of(session: Session, instance: Instance) -> Any:
    from engine.serialization import load_workflow
    from engine.step import VersionRef

    version = instance.process_version
    return load_workflow(
        version.dialect, instance.workflow_state, VersionRef.of(version).specs(session)
    )


def task_data(session: Session, instance: Instance, spiff_task_id: str) -> dict[str, Any]:
    """The data a task sees (the workflow's data if the task is gone): the case's context."""
    from uuid import UUID

    wf = _workflow_of(session, instance)
    task = wf.get_task_from_id(UUID(spiff_task_id))
    return dict(task.data if task is not None else wf.data)


def end_reached(session: Session, instance: Instance) -> str | None:
    """The name of the end event a completed instance reached (how it ended), if any."""
    from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
    from SpiffWorkflow.util.task import TaskState

    if instance.state != "completed":
        return None
    wf = _workflow_of(session, instance)
    ends = [
        t.task_spec.bpmn_name or t.task_spec.bpmn_id
        for t in wf.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, EndEvent) and t.workflow is wf
    ]
    return ends[-1] if ends else None


def concerning(user_id: int) -> ColumnElement[bool]:
    """Instances a person started, or that someone else started about them (their subject)."""
    return or_(Instance.started_by_id == user_id, Instance.subject_id == user_id)


def count_up_to(session: Session, query: Any, cap: int) -> int:
    """How many rows a query gives, counting at most `cap` + 1: a queue of a million tasks
    reads as "more than cap" after cap + 1 index entries instead of a full scan."""
    inner = query.limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


Choices = tuple[list[tuple[str, str]], list[tuple[str, str]]]
_ROLE_CHOICES: dict[tuple[int, tuple[str, ...]], Choices] = {}


def role_task_choices(session: Session, roles: set[str]) -> Choices:
    """(process key, name) and (task element, name) of every deployed user task of these
    roles, by name: the team inbox's filter choices, without scanning its queue. Versions
    never change, so the answer is kept until a new version is deployed."""
    newest = session.scalar(select(func.max(ProcessVersion.id))) or 0
    key = (newest, tuple(sorted(roles)))
    found = _ROLE_CHOICES.get(key)
    if found is None:
        processes: dict[str, str] = {}
        tasks: dict[str, str] = {}
        rows = session.execute(
            select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.task_meta).order_by(
                ProcessVersion.version
            )
        )
        for process_key, name, meta in rows:
            for element, info in (meta or {}).items():
                if isinstance(info, dict) and info.get("role") in roles:
                    processes[process_key] = name or process_key
                    tasks[element] = info.get("name") or element
        found = (
            sorted(processes.items(), key=lambda p: p[1]),
            sorted(tasks.items(), key=lambda t: t[1]),
        )
        if len(_ROLE_CHOICES) > 1000:
            _ROLE_CHOICES.clear()
        _ROLE_CHOICES[key] = found
    return found
