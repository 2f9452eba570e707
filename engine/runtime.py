"""Running instances: start, claim, complete, cancel, retry — one caller-owned transaction each."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine import audit, messages
from engine.batch import Batch
from engine.committee import committee_allows
from engine.errors import (
    InvalidInput,
    InvalidState,
    NotAllowed,
    ProcessNotFound,
    StaleTask,
    TaskNotFound,
)
from engine.models import Instance, ProcessVersion, TaskModel, User, utcnow
from engine.sources import one_line
from engine.step import (
    ACTIVE_STATES,
    ADMIN_ROLE,
    CANCELLED,
    COMPLETED,
    ERROR,
    MAX_DATA_BYTES,
    RESERVED_DATA,
    RUNNING,
    SCRIPT_ENGINE,
    TIMER_EVENTS,
    WAITING,
    Outcome,
    Step,
    VersionRef,
    _due_at,
    get_instance,
    get_task,
)
from engine.users import supervisor_of, user_by_name

_TASK_COLUMNS = [c.label(f"t_{c.key}") for c in TaskModel.__table__.columns]
_INSTANCE_COLUMNS = [c.label(f"i_{c.key}") for c in Instance.__table__.columns]
_TASK_AND_INSTANCE = (
    select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS, ProcessVersion.dialect, ProcessVersion.sha256)
    .join(Instance, TaskModel.instance_id == Instance.id)
    .join(ProcessVersion, Instance.process_version_id == ProcessVersion.id)
    .where(TaskModel.id == bindparam("p_id"))
    # The instance is locked until commit: a concurrent step on it waits, then reads what
    # this one left, so neither can lose its write to the other (and this one's writes may go
    # with its COMMIT, in one round trip). Rows referring to it (task inserts) are not blocked.
    .with_for_update(of=Instance.__table__, key_share=True)
)
_FETCHED = list(_TASK_AND_INSTANCE.selected_columns.keys())


def latest_version(session: Session, key: str) -> ProcessVersion:
    """The newest deployed version of a process key."""
    pv = session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.key == key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if pv is None:
        raise ProcessNotFound(f"process '{key}' is not deployed")
    return pv


def _check_data(data: Any, what: str = "data") -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    try:
        size = len(json.dumps(data, default=str))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not JSON: {one_line(exc)}") from exc
    if size > MAX_DATA_BYTES:
        raise InvalidInput(f"{what} is larger than {MAX_DATA_BYTES} bytes")
    for key in data:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidInput(f"{what}: field name '{key}' is not allowed")
        if key in RESERVED_DATA:
            raise InvalidInput(f"{what}: field name '{key}' is set by the engine")
    return data


def may_start(session: Session, user: User, key: str) -> bool:
    """Whether the user takes part in a process (holds one of its lanes' roles) to start it."""
    if is_admin(user):
        return True
    version = latest_version(session, key)
    spec, _subs = VersionRef.of(version).specs(session)
    # Task metadata covers every process of the file: keep this process's own tasks.
    roles = {
        meta.get("role")
        for element, meta in version.task_meta.items()
        if element in spec.task_specs and isinstance(meta, dict)
    }
    return bool(roles & user.role_names)


def is_admin(user: User) -> bool:
    """Whether the user administers processes."""
    return ADMIN_ROLE in user.role_names


def may_act(session: Session, user: User, task: Any, starter_id: int | None) -> bool:
    """Whether the user may claim or complete the task (role and committee, assignee, starter)."""
    if is_admin(user):
        return True
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    if task.role:
        return task.role in user.role_names and committee_allows(session, user, task)
    return starter_id == user.id


def start_instance(
    session: Session,
    key: str,
    actor: User,
    data: dict[str, Any] | None = None,
    business_key: str | None = None,
) -> Instance:
    """Start the latest version of a process with initial data; runs until it waits."""
    data = _check_data(data)
    if business_key is not None and len(business_key) > 255:
        raise InvalidInput("business key is longer than 255 characters")
    version = latest_version(session, key)
    subject = _check_subject(session, version, actor, data)
    instance = Instance(
        process_version_id=version.id,
        process_key=key,
        business_key=business_key,
        state=RUNNING,
        started_by_id=actor.id,
        subject_id=subject.id if subject is not None and subject.id != actor.id else None,
        workflow_state=b"",
    )
    instance.process_version = version
    session.add(instance)
    session.flush()
    step = Step(session, instance)
    step.wf.task_tree.data.update(data)
    step.wf.task_tree.data["starter"] = actor.username
    step.record(
        actor,
        "started",
        detail={"version": version.version, "business_key": business_key, "data": data},
    )
    step.run(lambda: None)
    step.persist(actor)
    messages.after_step(session, step, actor)
    return instance


# startFor keywords: the subject themself, and anyone above them in the org chart.
SELF, CHAIN = "diri", "atasan_berjenjang"
MAX_CHAIN = 20  # levels of the org chart walked up for CHAIN


def _check_subject(
    session: Session, version: ProcessVersion, actor: User, data: dict[str, Any]
) -> User | None:
    """Whom the instance is about; starting for someone else needs the right to."""
    rule = version.start_rule  # the start event's subject and startFor (validation.metadata)
    if rule is None:
        return None
    field = rule["subject"]
    subject = data.get(field)
    if subject is None or subject == "":
        return None  # not named yet: the process asks for it (e.g. an admin picks the mentee)
    person = user_by_name(session, subject) if isinstance(subject, str) else None
    if person is None:
        raise InvalidInput(f"{field}: '{subject}' is not a known user")
    if is_admin(actor):
        return person
    allowed = set(rule["start_for"])
    if subject == actor.username and SELF in allowed:
        return person
    if (allowed - {SELF, CHAIN}) & actor.role_names:
        return person
    if CHAIN in allowed:
        above: str | None = subject
        for _level in range(MAX_CHAIN):
            above = supervisor_of(session, above) if above else None
            if above is None:
                break
            if above == actor.username:
                return person
    raise NotAllowed(f"{actor.username} may not start {version.key} for {field} '{subject}'")


def _check_open(
    session: Session, row: Any, task_id: int, actor: User, starter_id: int | None
) -> None:
    if row.completed_at is not None:
        raise StaleTask(f"task {task_id} is already {row.outcome or 'completed'}")
    if not may_act(session, actor, row, starter_id):
        raise NotAllowed(f"{actor.username} may not act on task {task_id}")


def _fetch_open_task(session: Session, task_id: int, actor: User) -> tuple[Any, Any, VersionRef]:
    """The task, its instance (locked) and version as plain rows, in one Core query (the hot
    path): on PostgreSQL the BEGIN goes in the same round trip."""
    batch = Batch.of(session.connection())
    fetched = batch.add(_TASK_AND_INSTANCE, {"p_id": task_id})
    batch.run()
    if not fetched.rows:
        raise TaskNotFound(f"task {task_id} does not exist")
    values = dict(zip(_FETCHED, fetched.rows[0], strict=True))
    row = SimpleNamespace(**{c.key: values[f"t_{c.key}"] for c in TaskModel.__table__.columns})
    instance = SimpleNamespace(**{c.key: values[f"i_{c.key}"] for c in Instance.__table__.columns})
    _check_open(session, row, task_id, actor, instance.started_by_id)
    version = VersionRef(instance.process_version_id, values["dialect"], values["sha256"])
    return row, instance, version


def _open_task_for(session: Session, task_id: int, actor: User) -> tuple[TaskModel, Instance]:
    row = get_task(session, task_id)
    instance = get_instance(session, row.instance_id)
    _check_open(session, row, task_id, actor, instance.started_by_id)
    return row, instance


def update_open_task(
    session: Session, row: TaskModel, stale: str, *conditions: Any, **values: Any
) -> None:
    """Set values on a task row only while it is still open (and conditions hold), then
    reload it; StaleTask(stale) when someone else got there first."""
    done = session.execute(
        update(TaskModel)
        .where(TaskModel.id == row.id, TaskModel.completed_at.is_(None), *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleTask(stale)
    session.refresh(row)


def audit_task(session: Session, actor: User, action: str, row: TaskModel, **fields: Any) -> None:
    """Append an audit row about a task (its process, instance and element)."""
    audit.append(
        session,
        actor.username,
        action,
        process_key=row.process_key,
        instance_id=row.instance_id,
        task_id=row.id,
        element_id=row.element_id,
        **fields,
    )


def claim_task(session: Session, task_id: int, actor: User) -> TaskModel:
    """Claim an open task; it then belongs to the claimer until unclaimed."""
    row, _ = _open_task_for(session, task_id, actor)
    if row.claimed_by_id == actor.id:
        return row
    if row.claimed_by_id is not None:
        raise NotAllowed(f"task {task_id} is claimed by someone else")
    now = utcnow()
    update_open_task(
        session,
        row,
        f"task {task_id} was claimed or completed meanwhile",
        TaskModel.claimed_by_id.is_(None),
        claimed_by_id=actor.id,
        claimed_at=now,
    )
    audit_task(session, actor, "claimed", row, at=now)
    return row


def unclaim_task(session: Session, task_id: int, actor: User) -> TaskModel:
    """Give a claimed task back to its role (the claimer or an admin)."""
    row, _ = _open_task_for(session, task_id, actor)
    if row.claimed_by_id is None:
        return row
    if row.claimed_by_id != actor.id and not is_admin(actor):
        raise NotAllowed(f"task {task_id} is claimed by someone else")
    row.claimed_by_id = None
    row.claimed_at = None
    audit_task(session, actor, "unclaimed", row)
    return row


def complete_task(
    session: Session, task_id: int, actor: User, data: dict[str, Any] | None = None
) -> Outcome:
    """Complete a user task with the submitted data and run the instance on."""
    data = _check_data(data)
    row, instance, version = _fetch_open_task(session, task_id, actor)
    if row.claimed_by_id not in (None, actor.id):
        raise NotAllowed(f"task {task_id} is claimed by someone else")
    if instance.state not in ACTIVE_STATES:
        raise InvalidState(f"instance {instance.id} is {instance.state}")
    step = Step(session, instance, version, locked=True)
    task = step.wf.get_task_from_id(UUID(row.spiff_task_id))
    if task is None or task.state != TaskState.READY:
        raise StaleTask(f"task {task_id} is no longer ready")

    def finish() -> None:
        task.data.update(data)
        task.run()

    step.run(finish)
    row.completed_at = step.now
    row.completed_by_id = actor.id
    row.outcome = "completed"
    if row.claimed_by_id is None:
        row.claimed_by_id, row.claimed_at = actor.id, step.now
    step.completed_rows.append(row)
    step.record(
        actor, "completed", task_id=row.id, element_id=row.element_id, detail={"data": data}
    )
    step.persist(actor)
    messages.after_step(session, step, actor)
    return Outcome(instance.id, instance.state, instance.error_element, instance.error_message)


def cancel_instance(session: Session, instance_id: int, actor: User, reason: str) -> Instance:
    """Cancel an instance (admins only), with a reason."""
    if not is_admin(actor):
        raise NotAllowed(f"{actor.username} may not cancel instances")
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required to cancel an instance")
    instance = get_instance(session, instance_id)
    if instance.state in (COMPLETED, CANCELLED):
        raise InvalidState(f"instance {instance_id} is already {instance.state}")
    step = Step(session, instance)
    step.wf.cancel()
    instance.state = CANCELLED
    step.record(actor, "cancelled", detail={"reason": reason.strip()})
    step.persist(actor)
    return instance


def retry_instance(
    session: Session,
    instance_id: int,
    actor: User,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> Instance:
    """Run the failed elements of an instance in error again, after correcting its data."""
    data = _check_data(data)
    if not is_admin(actor):
        raise NotAllowed(f"{actor.username} may not retry instances")
    instance = get_instance(session, instance_id)
    if instance.state != ERROR:
        raise InvalidState(f"instance {instance_id} is {instance.state}, not in error")
    step = Step(session, instance)
    failed = step.wf.get_tasks(state=TaskState.ERROR)

    def again() -> None:
        for task in failed:
            task.data.update(data)
            task._set_state(TaskState.READY)

    step.record(
        actor,
        "retried",
        element_id=instance.error_element,
        detail={
            "data": data,
            "previous_error": instance.error_message,
            **({"reason": reason} if reason else {}),
        },
    )
    instance.state = RUNNING
    instance.timer_attempts = 0  # a timer job that had given up gets its attempts back
    step.run(again)
    step.persist(actor)
    messages.after_step(session, step, actor)
    return instance


__all__ = [
    "ACTIVE_STATES",
    "ADMIN_ROLE",
    "CANCELLED",
    "COMPLETED",
    "ERROR",
    "MAX_DATA_BYTES",
    "RESERVED_DATA",
    "RUNNING",
    "SCRIPT_ENGINE",
    "TIMER_EVENTS",
    "WAITING",
    "Outcome",
    "Step",
    "VersionRef",
    "_due_at",
    "cancel_instance",
    "claim_task",
    "complete_task",
    "get_instance",
    "get_task",
    "is_admin",
    "latest_version",
    "may_act",
    "retry_instance",
    "start_instance",
    "unclaim_task",
]
