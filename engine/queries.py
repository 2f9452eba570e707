"""Read-side queries: processes, inboxes, instance summaries (plain dicts, no workflow loading)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine.committee import COMMITTEE_ROLE, committee_condition
from engine.db import flushed_connection
from engine.deploy import latest_decisions, latest_processes
from engine.errors import InstanceNotFound
from engine.models import AuditEntry, Instance, ProcessVersion, TaskModel, User


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


# The inbox conditions are pure SQL of a user's id and roles, and building them costs more
# than running the count they feed (every page's navigation counts both tabs): they are kept
# per (kind, user id, roles), so a changed role gives a new key at once.
_FILTERS: dict[tuple[str, int, tuple[str, ...]], ColumnElement[bool]] = {}
MAX_CACHED_FILTERS = 4096


def _cached(
    kind: str, user: User, build: Callable[[User], ColumnElement[bool]]
) -> ColumnElement[bool]:
    if user.id is None:  # not stored yet: nothing to key it by
        return build(user)
    key = (kind, user.id, tuple(sorted(user.role_names)))
    found = _FILTERS.get(key)
    if found is None:
        if len(_FILTERS) >= MAX_CACHED_FILTERS:
            _FILTERS.clear()
        _FILTERS[key] = found = build(user)
    return found


def mine_filter(user: User) -> ColumnElement[bool]:
    """Open tasks that are this user's: claimed by them, assigned to them, or theirs as starter."""
    return _cached("mine", user, _mine_filter)


def _mine_filter(user: User) -> ColumnElement[bool]:
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
    return _cached("team", user, _team_filter)


def _team_filter(user: User) -> ColumnElement[bool]:
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
    """A task row as plain data (usernames from `names` by user id)."""

    def name(user_id: int | None) -> str | None:
        return names.get(user_id) if user_id else None

    return _task_fields(
        row, name(row.assignee_id), name(row.claimed_by_id), name(row.completed_by_id)
    )


def _task_fields(
    row: Any, assignee: str | None, claimed_by: str | None, completed_by: str | None
) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "process": row.process_key,
        "business_key": row.business_key,
        "element_id": row.element_id,
        "name": row.name,
        "role": row.role,
        "assignee": assignee,
        "form_key": row.form_key,
        "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at),
        "claimed_by": claimed_by,
        "completed_by": completed_by,
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


# The instance summary reads with statements built once, names joined in: the instance with
# its version and starter in one, its tasks with their people's usernames in another.
_STARTER, _ASSIGNEE, _CLAIMER, _COMPLETER = (aliased(User) for _ in range(4))
_INSTANCE_STATE = (
    select(
        Instance.id,
        Instance.process_key,
        ProcessVersion.version,
        Instance.business_key,
        Instance.state,
        _STARTER.username.label("started_by"),
        Instance.started_at,
        Instance.updated_at,
        Instance.ended_at,
        Instance.error_element,
        Instance.error_message,
    )
    .join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
    .outerjoin(_STARTER, _STARTER.id == Instance.started_by_id)
    .where(Instance.id == bindparam("p_instance"))
)
_TASKS_NAMED = (
    select(
        *TaskModel.__table__.columns,
        _ASSIGNEE.username.label("assignee"),
        _CLAIMER.username.label("claimed_by"),
        _COMPLETER.username.label("completed_by"),
    )
    .outerjoin(_ASSIGNEE, _ASSIGNEE.id == TaskModel.assignee_id)
    .outerjoin(_CLAIMER, _CLAIMER.id == TaskModel.claimed_by_id)
    .outerjoin(_COMPLETER, _COMPLETER.id == TaskModel.completed_by_id)
    .order_by(TaskModel.created_at, TaskModel.id)
)
_OPEN_TASKS_OF = _TASKS_NAMED.where(
    TaskModel.instance_id == bindparam("p_instance"), TaskModel.completed_at.is_(None)
).limit(200)
# One task (just completed) and the open tasks of its instance, in one statement.
_TASK_AND_OPEN_TASKS = _TASKS_NAMED.where(
    or_(
        TaskModel.id == bindparam("p_task"),
        and_(TaskModel.instance_id == bindparam("p_instance"), TaskModel.completed_at.is_(None)),
    )
).limit(201)
_HISTORY = (
    select(
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.element_id,
        AuditEntry.task_id,
        AuditEntry.detail,
    )
    .where(AuditEntry.instance_id == bindparam("p_instance"))
    .order_by(AuditEntry.id)
)


def _named_task(row: Any) -> dict[str, Any]:
    """A row of _TASKS_NAMED as task_dict gives it."""
    return _task_fields(row, row.assignee, row.claimed_by, row.completed_by)


def _state(conn: Any, instance_id: int) -> dict[str, Any]:
    inst = conn.execute(_INSTANCE_STATE, {"p_instance": instance_id}).first()
    if inst is None:
        raise InstanceNotFound(f"instance {instance_id} does not exist")
    return {
        "id": inst.id,
        "process": inst.process_key,
        "version": inst.version,
        "business_key": inst.business_key,
        "state": inst.state,
        "started_by": inst.started_by,
        "started_at": _iso(inst.started_at),
        "updated_at": _iso(inst.updated_at),
        "ended_at": _iso(inst.ended_at),
        "error": (
            {"element": inst.error_element, "message": inst.error_message}
            if inst.state == "error"
            else None
        ),
    }


def instance_state(session: Session, instance_id: int) -> dict[str, Any]:
    """State, version and open tasks of one instance (its summary without the history)."""
    conn = flushed_connection(session)
    state = _state(conn, instance_id)
    rows = conn.execute(_OPEN_TASKS_OF, {"p_instance": instance_id})
    return {**state, "open_tasks": [_named_task(r) for r in rows]}


def completion(session: Session, task_id: int, instance_id: int) -> dict[str, Any]:
    """A task just completed and where its instance stands now: {"task", "instance"}, the
    instance without its history (two statements, whatever the instance's length)."""
    conn = flushed_connection(session)
    state = _state(conn, instance_id)
    task: dict[str, Any] | None = None
    open_tasks: list[dict[str, Any]] = []
    for row in conn.execute(_TASK_AND_OPEN_TASKS, {"p_task": task_id, "p_instance": instance_id}):
        if row.id == task_id:
            task = _named_task(row)
        elif row.completed_at is None and row.instance_id == instance_id:
            open_tasks.append(_named_task(row))
    if task is None:
        raise InstanceNotFound(f"task {task_id} does not exist")
    return {"task": task, "instance": {**state, "open_tasks": open_tasks[:200]}}


def instance_summary(session: Session, instance_id: int) -> dict[str, Any]:
    """State, version, open tasks and history of one instance."""
    summary = instance_state(session, instance_id)
    history = session.connection().execute(_HISTORY, {"p_instance": instance_id})
    summary["history"] = [
        {
            "at": _iso(h.at),
            "actor": h.actor,
            "action": h.action,
            "element": h.element_id,
            "task_id": h.task_id,
            "detail": h.detail,
        }
        for h in history
    ]
    return summary


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
