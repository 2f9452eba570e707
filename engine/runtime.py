"""Running instances: start, claim, complete, cancel, retry — one caller-owned transaction each."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, clock, messages, services
from engine.errors import (
    InstanceNotFound,
    InvalidInput,
    InvalidState,
    NotAllowed,
    ProcessNotFound,
    StaleTask,
    TaskNotFound,
)
from engine.models import Instance, ProcessVersion, TaskModel, User, utcnow
from engine.sandbox import SandboxEnvironment, ScriptEngine
from engine.serialization import SpecCache, Specs, dump_workflow, load_workflow
from engine.sources import one_line
from engine.users import supervisor_of, user_by_name

RUNNING, WAITING, COMPLETED, ERROR, CANCELLED = (
    "running",
    "waiting",
    "completed",
    "error",
    "cancelled",
)
ACTIVE_STATES = (RUNNING, WAITING)
ADMIN_ROLE = "admin"
MAX_DATA_BYTES = 1_000_000
# Set by the engine in every instance's data, so scripts and services can trust it.
RESERVED_DATA = {"starter"}


class EngineScriptEngine(ScriptEngine):
    """The sandboxed script engine; service tasks call the engine's registered services."""

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Run the named service in the current step's transaction (inside a savepoint)."""
        name = kwargs.get("operation_name", "")
        try:
            return services.call(name, kwargs.get("operation_params") or {})
        except Exception as err:
            raise WorkflowTaskException(
                f"service '{name}' failed: {one_line(err)}", task=task, exception=err
            ) from err


SCRIPT_ENGINE = EngineScriptEngine(max_data_bytes=MAX_DATA_BYTES)
clock.install()
SPEC_CACHE = SpecCache()

# The hot path writes with statements built once (statement construction and the ORM unit of
# work cost more than the database itself); the ORM objects are then marked as committed.
INSTANCE_COLUMNS = (
    "state",
    "next_timer_at",
    "error_element",
    "error_message",
    "workflow_state",
    "updated_at",
    "ended_at",
)
_SAVE_INSTANCE = (
    update(Instance)
    .where(Instance.id == bindparam("p_id"), Instance.lock_version == bindparam("p_version"))
    .values(
        {c: bindparam(f"p_{c}") for c in INSTANCE_COLUMNS}
        | {"lock_version": bindparam("p_version") + 1}
    )
)
_COMPLETE_TASK = (
    update(TaskModel)
    .where(TaskModel.id == bindparam("p_id"), TaskModel.completed_at.is_(None))
    .values(
        completed_at=bindparam("p_at"),
        completed_by_id=bindparam("p_by"),
        claimed_by_id=bindparam("p_claimed_by"),
        claimed_at=bindparam("p_claimed_at"),
        outcome="completed",
    )
)
_INSERT_TASKS = insert(TaskModel)
_TASK_COLUMNS = [c.label(f"t_{c.key}") for c in TaskModel.__table__.columns]
_INSTANCE_COLUMNS = [c.label(f"i_{c.key}") for c in Instance.__table__.columns]
_TASK_AND_INSTANCE = (
    select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS, ProcessVersion.dialect, ProcessVersion.sha256)
    .join(Instance, TaskModel.instance_id == Instance.id)
    .join(ProcessVersion, Instance.process_version_id == ProcessVersion.id)
    .where(TaskModel.id == bindparam("p_id"))
)
_META_CACHE: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class VersionRef:
    """What a step needs of a process version; parsed parts are cached by content hash."""

    id: int
    dialect: str
    sha256: str

    @classmethod
    def of(cls, version: ProcessVersion) -> VersionRef:
        """The reference to an ORM process version."""
        return cls(version.id, version.dialect, version.sha256)

    def specs(self, session: Session) -> Specs:
        """The parsed specs (the same content always parses to the same spec)."""
        return SPEC_CACHE.get(
            self.sha256,
            self.dialect,
            lambda: session.scalar(
                select(ProcessVersion.spec_json).where(ProcessVersion.id == self.id)
            ),
        )

    def task_meta(self, session: Session) -> dict[str, Any]:
        """Per user task: lane/role, form key, assignee and due expressions."""
        meta = _META_CACHE.get(self.sha256)
        if meta is None:
            meta = session.scalar(
                select(ProcessVersion.task_meta).where(ProcessVersion.id == self.id)
            )
            _META_CACHE[self.sha256] = meta = meta or {}
        return meta


@dataclass
class Outcome:
    """Where an instance stands after a step."""

    instance_id: int
    state: str
    error_element: str | None
    error_message: str | None


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


def is_admin(user: User) -> bool:
    """Whether the user administers processes."""
    return ADMIN_ROLE in user.role_names


def may_act(user: User, task: TaskModel, starter_id: int | None) -> bool:
    """Whether the user may claim or complete the task (role, assignee, or starter)."""
    if is_admin(user):
        return True
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    if task.role:
        return task.role in user.role_names
    return starter_id == user.id


def _run_step(instance: Instance, action: Callable[[], None]) -> None:
    """Run engine work; a failure puts the instance in error with the element and reason."""
    try:
        action()
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None)
        spec = task.task_spec if task is not None else getattr(exc, "task_spec", None)
        instance.state = ERROR
        instance.error_element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", "-")
        instance.error_message = one_line(exc)[:2000]
    except Exception as exc:  # a library bug must not lose the instance
        instance.state = ERROR
        instance.error_element = "-"
        instance.error_message = one_line(f"{exc.__class__.__name__}: {exc}")[:2000]


TIMER_EVENTS = {
    "DurationTimerEventDefinition",
    "TimeDateEventDefinition",
    "CycleTimerEventDefinition",
}


def next_timer(wf: BpmnWorkflow) -> datetime | None:
    """When the earliest waiting timer of a workflow is due (naive UTC), if any."""
    due: list[datetime] = []
    for event in wf.waiting_events():
        if event.event_type in TIMER_EVENTS and isinstance(event.value, str):
            try:
                moment = datetime.fromisoformat(event.value)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            due.append(moment)
    return min(due) if due else None


def _derive_state(wf: BpmnWorkflow, ready: list[Any]) -> str:
    if wf.is_completed():
        return COMPLETED
    if ready:
        return RUNNING
    if wf.get_tasks(state=TaskState.WAITING):
        return WAITING
    return RUNNING


def _evaluate(expr: str, context: dict[str, Any], helpers: dict[str, Any]) -> Any:
    env = SandboxEnvironment(helpers=helpers)
    return env.evaluate(expr, dict(context))


def _due_at(expr: str | None, data: dict[str, Any], now: datetime) -> datetime | None:
    if not expr:
        return None
    value: Any = expr
    if not expr.upper().startswith("P"):
        value = _evaluate(expr, data, {})
    if isinstance(value, timedelta):
        return now + value
    if isinstance(value, str):
        if value.upper().startswith("P"):
            parsed = TimerEventDefinition.parse_iso_duration(value)
            return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        # Stored as naive UTC: an offset (e.g. +07:00, WIB) is converted, not dropped.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _committed(
    session: Session, obj: Any, model: type, columns: tuple[str, ...], **values: Any
) -> None:
    """After a Core write: keep the ORM's copy (if any) in step with what was stored."""
    for key, value in values.items():
        setattr(obj, key, value)
    if isinstance(obj, model):
        for key in (*columns, *values):
            set_committed_value(obj, key, getattr(obj, key))
        return
    cached = session.identity_map.get(session.identity_key(model, obj.id))
    if cached is not None:
        session.expire(cached)


class Step:
    """One engine step on one instance: load, act, persist, copy tasks, audit — no commit."""

    def __init__(self, session: Session, instance: Any, version: VersionRef | None = None) -> None:
        """instance: an ORM Instance, or the plain row the hot path fetched with Core."""
        self.session = session
        self.instance = instance
        self.version = version or VersionRef.of(instance.process_version)
        self.now = utcnow()
        self.audits: list[dict[str, Any]] = []
        self._starter: User | None = None
        specs = self.version.specs(session)
        if instance.workflow_state:
            self.wf = load_workflow(self.version.dialect, instance.workflow_state, specs)
        else:
            self.wf = BpmnWorkflow(*specs)
        self.wf.script_engine = SCRIPT_ENGINE
        # Open task rows mirror the ready user tasks of the stored state, except after an error.
        self.rows_known = instance.state != ERROR
        self.ready_now = self._ready()
        self.ready_before = {str(t.id) for t in self.ready_now}
        self.subscriptions_before = (
            set(messages.waiting(self.wf)) if instance.workflow_state else set()
        )
        self.new_subscriptions: set[messages.Subscription] = set()
        self.outbox: list[Any] = []
        self.completed_rows: list[TaskModel] = []

    def _ready(self) -> list[Any]:
        return list(self.wf.get_tasks(state=TaskState.READY, manual=True))

    def record(self, actor: User, action: str, **fields: Any) -> None:
        """Queue an audit row about this instance (written after the state, in persist)."""
        fields.setdefault("process_key", self.instance.process_key)
        fields.setdefault("instance_id", self.instance.id)
        self.audits.append(audit.entry(actor.username, action, at=self.now, **fields))

    def run(self, action: Callable[[], None]) -> None:
        """Run engine work then engine steps, capturing errors on the instance."""

        def work() -> None:
            action()
            self.wf.refresh_timers()
            self.wf.do_engine_steps()

        context = services.ServiceContext(self.session, self.instance.id, self.now)
        with services.bound(context):
            _run_step(self.instance, work)
        self.outbox += [
            e
            for e in self.wf.get_events()
            if isinstance(e.event_definition, MessageEventDefinition)
        ]
        self.ready_now = self._ready()
        if self.instance.state != ERROR:
            self.instance.state = _derive_state(self.wf, self.ready_now)
            self.instance.error_element = None
            self.instance.error_message = None

    def persist(self, actor: User) -> None:
        """Write state (version-checked) and task rows, then the audit rows; no commit."""
        inst = self.instance
        inst.workflow_state = dump_workflow(self.version.dialect, self.wf)
        inst.updated_at = self.now
        inst.next_timer_at = next_timer(self.wf) if inst.state in ACTIVE_STATES else None
        if inst.state in (COMPLETED, CANCELLED):
            inst.ended_at = self.now
        if inst.state == ERROR:
            self.record(
                actor,
                "error",
                element_id=inst.error_element,
                detail={"message": inst.error_message},
            )
        conn = self.session.connection()
        params = {f"p_{c}": getattr(inst, c) for c in INSTANCE_COLUMNS}
        saved = conn.execute(
            _SAVE_INSTANCE, params | {"p_id": inst.id, "p_version": inst.lock_version}
        )
        if saved.rowcount != 1:
            raise StaleTask(
                f"instance {inst.id} changed meanwhile (task already completed?); "
                "reload and try again"
            )
        _committed(
            self.session, inst, Instance, INSTANCE_COLUMNS, lock_version=inst.lock_version + 1
        )
        for row in self.completed_rows:
            done = conn.execute(
                _COMPLETE_TASK,
                {
                    "p_id": row.id,
                    "p_at": row.completed_at,
                    "p_by": row.completed_by_id,
                    "p_claimed_by": row.claimed_by_id,
                    "p_claimed_at": row.claimed_at,
                },
            )
            if done.rowcount != 1:
                raise StaleTask(f"task {row.id} is already completed")
            _committed(
                self.session,
                row,
                TaskModel,
                ("completed_at", "completed_by_id", "claimed_by_id", "claimed_at", "outcome"),
            )
        self._sync_tasks(actor, conn)
        waits = set(messages.waiting(self.wf)) if inst.state in ACTIVE_STATES else set()
        messages.sync_subscriptions(self.session, inst.id, self.subscriptions_before, waits)
        self.new_subscriptions = waits - self.subscriptions_before
        self.subscriptions_before = waits
        self.flush()  # anything else pending in the session (normally nothing)
        audit.write(self.session, self.audits)
        self.audits = []

    def flush(self) -> None:
        """Write pending ORM changes; a lost optimistic-lock race becomes StaleTask."""
        session = self.session
        if not (session.new or session.deleted or any(map(session.is_modified, session.dirty))):
            return  # the hot path wrote its rows itself; an empty unit of work still costs
        instance_id = self.instance.id  # read before a failed flush expires it
        try:
            session.flush()
        except StaleDataError as exc:
            raise StaleTask(
                f"instance {instance_id} changed meanwhile (task already completed?); "
                "reload and try again"
            ) from exc

    def starter_name(self) -> str | None:
        """The username of whoever started the instance."""
        if self._starter is None and self.instance.started_by_id is not None:
            self._starter = self.session.get(User, self.instance.started_by_id)
        return self._starter.username if self._starter else None

    def _sync_tasks(self, actor: User, conn: Any) -> None:
        if self.instance.state == ERROR:
            return  # rows stay as they were until a retry runs the instance on
        ready = {str(t.id): t for t in self.ready_now if self.instance.state in ACTIVE_STATES}
        if self.rows_known:
            known = self.ready_before
        else:
            known = set(
                self.session.scalars(
                    select(TaskModel.spiff_task_id).where(
                        TaskModel.instance_id == self.instance.id,
                        TaskModel.completed_at.is_(None),
                    )
                )
            )
        gone = known - set(ready) - {row.spiff_task_id for row in self.completed_rows}
        if gone:
            conn.execute(
                update(TaskModel)
                .where(
                    TaskModel.instance_id == self.instance.id,
                    TaskModel.spiff_task_id.in_(sorted(gone)),
                    TaskModel.completed_at.is_(None),
                )
                .values(completed_at=self.now, outcome="cancelled")
            )
        new = [
            self._new_task_row(tid, task, actor) for tid, task in ready.items() if tid not in known
        ]
        if new:
            conn.execute(_INSERT_TASKS, new if len(new) > 1 else new[0])

    def _new_task_row(self, tid: str, task: Any, actor: User) -> dict[str, Any]:
        element = task.task_spec.bpmn_id or task.task_spec.name
        meta = self.version.task_meta(self.session).get(element, {})
        row: dict[str, Any] = {
            "instance_id": self.instance.id,
            "spiff_task_id": tid,
            "element_id": element,
            "name": meta.get("name") or task.task_spec.bpmn_name or element,
            "process_key": self.instance.process_key,
            "business_key": self.instance.business_key,
            "role": meta.get("role"),
            "assignee_id": None,
            "form_key": meta.get("form_key"),
            "due_at": None,
            "created_at": self.now,
        }
        if not meta.get("assignee") and not meta.get("due"):
            return row
        context = dict(task.data)
        context["starter"] = self.starter_name()
        if meta.get("assignee"):
            row["assignee_id"] = self._assignee(element, meta["assignee"], context, actor)
        try:
            row["due_at"] = _due_at(meta.get("due"), context, self.now)
        except Exception as exc:
            self._note(actor, element, f"due date expression failed: {one_line(exc)}")
        return row

    def _assignee(
        self, element: str, expr: str, context: dict[str, Any], actor: User
    ) -> int | None:
        def _supervisor_of(username: str | None) -> str | None:
            return supervisor_of(self.session, username) if username else None

        try:
            name = _evaluate(expr, context, {"supervisor_of": _supervisor_of})
        except Exception as exc:
            self._note(actor, element, f"assignee expression failed: {one_line(exc)}")
            return None
        user = user_by_name(self.session, name) if isinstance(name, str) else None
        if user is None:
            self._note(actor, element, f"assignee expression gave no known user ({name!r})")
            return None
        return user.id

    def _note(self, actor: User, element: str, message: str) -> None:
        self.record(actor, "assignment_failed", element_id=element, detail={"message": message})


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
    instance = Instance(
        process_version_id=version.id,
        process_key=key,
        business_key=business_key,
        state=RUNNING,
        started_by_id=actor.id,
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


def get_task(session: Session, task_id: int) -> TaskModel:
    """A task row by id."""
    row = session.get(TaskModel, task_id)
    if row is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    return row


def get_instance(session: Session, instance_id: int) -> Instance:
    """An instance by id."""
    inst = session.get(Instance, instance_id)
    if inst is None:
        raise InstanceNotFound(f"instance {instance_id} does not exist")
    return inst


def _check_open(row: Any, task_id: int, actor: User, starter_id: int | None) -> None:
    if row.completed_at is not None:
        raise StaleTask(f"task {task_id} is already {row.outcome or 'completed'}")
    if not may_act(actor, row, starter_id):
        raise NotAllowed(f"{actor.username} may not act on task {task_id}")


def _fetch_open_task(session: Session, task_id: int, actor: User) -> tuple[Any, Any, VersionRef]:
    """The task, its instance and version as plain rows, in one Core query (the hot path)."""
    found = session.connection().execute(_TASK_AND_INSTANCE, {"p_id": task_id}).first()
    if found is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    values = found._mapping
    row = SimpleNamespace(**{c.key: values[f"t_{c.key}"] for c in TaskModel.__table__.columns})
    instance = SimpleNamespace(**{c.key: values[f"i_{c.key}"] for c in Instance.__table__.columns})
    _check_open(row, task_id, actor, instance.started_by_id)
    version = VersionRef(instance.process_version_id, values["dialect"], values["sha256"])
    return row, instance, version


def _open_task_for(session: Session, task_id: int, actor: User) -> tuple[TaskModel, Instance]:
    row = get_task(session, task_id)
    instance = get_instance(session, row.instance_id)
    _check_open(row, task_id, actor, instance.started_by_id)
    return row, instance


def claim_task(session: Session, task_id: int, actor: User) -> TaskModel:
    """Claim an open task; it then belongs to the claimer until unclaimed."""
    row, instance = _open_task_for(session, task_id, actor)
    if row.claimed_by_id == actor.id:
        return row
    if row.claimed_by_id is not None:
        raise NotAllowed(f"task {task_id} is claimed by someone else")
    now = utcnow()
    result = session.execute(
        update(TaskModel)
        .where(
            TaskModel.id == task_id,
            TaskModel.claimed_by_id.is_(None),
            TaskModel.completed_at.is_(None),
        )
        .values(claimed_by_id=actor.id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleTask(f"task {task_id} was claimed or completed meanwhile")
    session.refresh(row)
    audit.append(
        session,
        actor.username,
        "claimed",
        process_key=row.process_key,
        instance_id=instance.id,
        task_id=row.id,
        element_id=row.element_id,
        at=now,
    )
    return row


def unclaim_task(session: Session, task_id: int, actor: User) -> TaskModel:
    """Give a claimed task back to its role (the claimer or an admin)."""
    row, instance = _open_task_for(session, task_id, actor)
    if row.claimed_by_id is None:
        return row
    if row.claimed_by_id != actor.id and not is_admin(actor):
        raise NotAllowed(f"task {task_id} is claimed by someone else")
    row.claimed_by_id = None
    row.claimed_at = None
    audit.append(
        session,
        actor.username,
        "unclaimed",
        process_key=row.process_key,
        instance_id=instance.id,
        task_id=row.id,
        element_id=row.element_id,
    )
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
    step = Step(session, instance, version)
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
    session: Session, instance_id: int, actor: User, data: dict[str, Any] | None = None
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
        detail={"data": data, "previous_error": instance.error_message},
    )
    instance.state = RUNNING
    step.run(again)
    step.persist(actor)
    messages.after_step(session, step, actor)
    return instance
