"""One engine step on one instance: restore the workflow, run it, write state, tasks and audit.

The hot path writes with statements built once; runtime.py holds the actions built on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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

from engine import audit, clock, messages, notification_events, services, workdays
from engine.batch import Batch, exactly_one
from engine.errors import (
    InstanceNotFound,
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


# Helpers diagrams may call in scripts and expressions, beyond the sandbox's own.
SCRIPT_HELPERS = {"hari_kerja": workdays.hari_kerja}
SCRIPT_ENGINE = EngineScriptEngine(helpers=SCRIPT_HELPERS, max_data_bytes=MAX_DATA_BYTES)
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
# Open means no outcome yet (set with completed_at): `completed_at IS NULL` would let a table
# without statistics yet (a new database, a bulk import) plan this through an open-task partial
# index, scanning every open task for the one id.
_COMPLETE_TASK = (
    update(TaskModel)
    .where(TaskModel.id == bindparam("p_id"), TaskModel.outcome.is_(None))
    .values(
        completed_at=bindparam("p_at"),
        completed_by_id=bindparam("p_by"),
        claimed_by_id=bindparam("p_claimed_by"),
        claimed_at=bindparam("p_claimed_at"),
        outcome="completed",
    )
)
_INSERT_TASKS = insert(TaskModel)

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
        value = _evaluate(expr, data, SCRIPT_HELPERS)
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

    def __init__(
        self,
        session: Session,
        instance: Any,
        version: VersionRef | None = None,
        locked: bool = False,
    ) -> None:
        """instance: an ORM Instance, or the plain row the hot path fetched with Core.
        locked: the instance row is locked (FOR NO KEY UPDATE) in this transaction."""
        self.session = session
        self.locked = locked
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
        self.audits += context.audits
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
        inst.workflow_state = dump_workflow(
            self.version.dialect, self.wf, finished=inst.state in (COMPLETED, CANCELLED)
        )
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
        batch = Batch.of(conn)  # one round trip for the rows below and the audit's
        params = {f"p_{c}": getattr(inst, c) for c in INSTANCE_COLUMNS}
        stale = StaleTask(
            f"instance {inst.id} changed meanwhile (task already completed?); reload and try again"
        )
        params |= {"p_id": inst.id, "p_version": inst.lock_version}
        batch.add(_SAVE_INSTANCE, params, exactly_one(stale))
        for row in self.completed_rows:
            batch.add(
                _COMPLETE_TASK,
                {
                    "p_id": row.id,
                    "p_at": row.completed_at,
                    "p_by": row.completed_by_id,
                    "p_claimed_by": row.claimed_by_id,
                    "p_claimed_at": row.claimed_at,
                },
                exactly_one(StaleTask(f"task {row.id} is already completed")),
            )
        # Marked as written now (the batch fails the whole transaction if they are not), so
        # that a query while the new task rows are built does not autoflush them again.
        _committed(
            self.session, inst, Instance, INSTANCE_COLUMNS, lock_version=inst.lock_version + 1
        )
        for row in self.completed_rows:
            _committed(
                self.session,
                row,
                TaskModel,
                ("completed_at", "completed_by_id", "claimed_by_id", "claimed_at", "outcome"),
            )
        # Queries while the task rows are built (assignee, starter) must not flush the rest
        # of the instance's ORM changes before the batch's version-checked update: flush() below.
        with self.session.no_autoflush:
            self._sync_tasks(actor, conn, batch)
        waits = set(messages.waiting(self.wf)) if inst.state in ACTIVE_STATES else set()
        messages.sync_subscriptions(batch, inst.id, self.subscriptions_before, waits)
        # In-app notices and email: a query they make sends the queued rows first.
        notification_events.after_step(self, actor)
        self.new_subscriptions = waits - self.subscriptions_before
        self.subscriptions_before = waits
        self.flush()  # anything else pending in the session (normally nothing)
        # The audit head is locked last (after the instance row), in the same trip.
        audit.write(self.session, self.audits, send=False)
        self.audits = []
        if not self.locked:
            # Someone may have moved the instance on since it was read: know it now. A step
            # holding the instance's row lock cannot lose that race, so its writes go with
            # the COMMIT (or the transaction's next statement). (A query above may have sent
            # `batch` already, and the audit statement then went into the connection's next.)
            Batch.of(conn).run()

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

    def _sync_tasks(self, actor: User, conn: Any, batch: Batch) -> None:
        if self.instance.state == ERROR:
            return  # rows stay as they were until a retry runs the instance on
        ready = {str(t.id): t for t in self.ready_now if self.instance.state in ACTIVE_STATES}
        if self.rows_known:
            known = self.ready_before
        else:
            batch.run()  # after an error: read the rows as this step's writes leave them
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
            batch.run()  # keep the write order (instance row first) for this rare statement
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
            batch.add(_INSERT_TASKS, new)

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
        if not context.get("starter"):  # instances started before the engine set it in data
            context["starter"] = self.starter_name()
        if meta.get("assignee"):
            row["assignee_id"] = self._assignee(element, meta["assignee"], context, actor)
        try:
            with services.bound(services.ServiceContext(self.session, self.instance.id, self.now)):
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
