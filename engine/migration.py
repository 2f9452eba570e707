"""Moving running instances from version N of a process to version M.

An instance may move when it is active (running, waiting or in error) and every current
element (ready or waiting tasks, running subprocesses, the failed element) exists in M with
the same id. Moving re-attaches the stored workflow state to M's spec, element by element id:

- each task of the tree takes M's spec of the same id;
- the branches ahead of the current tasks are predicted again from M (the path M takes);
- finished tasks of elements M no longer has are cut out of the tree (their data stays with
  the tasks after them; the audit trail keeps the history), predicted ones are dropped.

Waiting timers keep their due time (they are not reset). The result is checked by storing it
and restoring it on M's spec before anything is written. One call moves one instance in the
caller's transaction, with an audit row; the caller commits per instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, InvalidState, NotAllowed
from engine.instance_admin import check_reason
from engine.models import Instance, ProcessVersion, TaskModel, User
from engine.runtime import is_admin
from engine.serialization import dump_workflow, load_workflow
from engine.sources import one_line
from engine.step import ACTIVE_STATES, ERROR, SCRIPT_ENGINE, Step, VersionRef
from engine.versions import get_version

CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
REPREDICT = TaskState.READY | TaskState.WAITING | TaskState.ERROR
MOVABLE_STATES = (*ACTIVE_STATES, ERROR)


class MigrationRefused(InvalidState):
    """This instance cannot move to the target version; the reasons say why."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


@dataclass
class Candidate:
    """One instance of version N: whether it can move to M, and why not."""

    instance_id: int
    business_key: str | None
    state: str
    current: list[str]
    reasons: list[str] = field(default_factory=list)

    @property
    def can_move(self) -> bool:
        """Whether nothing stands in the way."""
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "instance_id": self.instance_id,
            "business_key": self.business_key,
            "state": self.state,
            "current": self.current,
            "can_move": self.can_move,
            "reasons": self.reasons,
        }


@dataclass
class MigrationPlan:
    """The instances of version N considered for a move to M."""

    key: str
    source: int
    target: int
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def movable(self) -> list[Candidate]:
        """The instances that can move."""
        return [c for c in self.candidates if c.can_move]

    @property
    def refused(self) -> list[Candidate]:
        """The instances that cannot move."""
        return [c for c in self.candidates if not c.can_move]


def _versions(
    session: Session, key: str, source: int, target: int
) -> tuple[ProcessVersion, ProcessVersion]:
    if source == target:
        raise InvalidInput("target version: must differ from the source version")
    old, new = get_version(session, key, source), get_version(session, key, target)
    if old.dialect != new.dialect:
        raise InvalidInput(
            f"target version: v{target} is a {new.dialect} diagram, v{source} {old.dialect}"
        )
    return old, new


def _element(task: Any) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _spec_of(new_specs: tuple[Any, dict[str, Any]], workflow: Any, top: Any) -> Any:
    spec, subs = new_specs
    return spec if workflow is top else subs.get(workflow.spec.name)


def _current_problems(wf: Any, new_specs: tuple[Any, dict[str, Any]], target: int) -> list[str]:
    problems: list[str] = []
    for task in wf.get_tasks(state=CURRENT):
        if task.task_spec.bpmn_id is None and not task.has_state(TaskState.ERROR):
            continue  # engine-internal task (joins, subprocess roots): not an element
        spec = _spec_of(new_specs, task.workflow, wf)
        if spec is None:
            problems.append(
                f"subprocess '{task.workflow.spec.name}' does not exist in version {target}"
            )
        elif task.task_spec.name not in spec.task_specs:
            name = task.task_spec.bpmn_name or task.task_spec.name
            problems.append(
                f"current element '{_element(task)}' ({name}) does not exist in version {target}"
            )
    return sorted(set(problems))


def _splice(workflow: Any, task: Any) -> None:
    """Cut a finished task out of the tree; its children take its place under its parent."""
    parent = task.parent
    children = list(task._children)
    if parent is not None:
        at = parent._children.index(task.id)
        parent._children[at : at + 1] = children
    for child_id in children:
        workflow.tasks[child_id]._parent = parent.id if parent is not None else None
    if parent is None and children:
        workflow.task_tree = workflow.tasks[children[0]]
    workflow.tasks.pop(task.id)


def _retarget(workflow: Any, spec: Any) -> None:
    """Give every task of one (sub)workflow the spec of the same id in `spec`."""
    workflow.spec = spec
    orphans = []
    for task in workflow.tasks.values():
        new = spec.task_specs.get(task.task_spec.name)
        if new is None:
            orphans.append(task)
        else:
            task.task_spec = new
    # Predict the road ahead of the current tasks on the new spec (not for tasks whose
    # children already run, e.g. multi-instance parents).
    ahead = TaskState.PREDICTED_MASK | TaskState.FUTURE
    for task in list(workflow.tasks.values()):
        if task.id not in workflow.tasks or not task.has_state(REPREDICT):
            continue
        if task in orphans or not all(c.has_state(ahead) for c in task.children):
            continue
        task._drop_children(force=True)
        task.task_spec._predict_hook(task)
        for child in task.children:
            child.task_spec._predict(child, mask=ahead)
    for task in orphans:
        if task.id not in workflow.tasks:
            continue  # dropped with a branch predicted again
        if task.has_state(ahead):
            workflow._remove_task(task.id)
        else:
            _splice(workflow, task)
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None


def _moved_workflow(session: Session, instance: Instance, target: ProcessVersion) -> Any:
    """The instance's workflow re-attached to the target version (checked, not stored)."""
    old = VersionRef.of(instance.process_version)
    new = VersionRef.of(target)
    wf = load_workflow(old.dialect, instance.workflow_state, old.specs(session))
    new_specs = new.specs(session)
    problems = _current_problems(wf, new_specs, target.version)
    if problems:
        raise MigrationRefused(problems)
    try:
        for sub in wf.subprocesses.values():
            _retarget(sub, new_specs[1][sub.spec.name])
        _retarget(wf, new_specs[0])
        wf.subprocess_specs = new_specs[1]
        # The stored form must restore on the new spec: the check the real run relies on.
        load_workflow(new.dialect, dump_workflow(new.dialect, wf), new_specs)
    except Exception as exc:  # a state the new spec cannot hold: refuse, write nothing
        raise MigrationRefused(
            [f"the instance's state does not fit version {target.version}: {one_line(exc)}"]
        ) from exc
    return wf


def _check(session: Session, instance: Instance, old: ProcessVersion, new: ProcessVersion) -> Any:
    if instance.process_version_id != old.id:
        raise MigrationRefused(
            [f"instance {instance.id} runs on version {instance.process_version.version}"]
        )
    if instance.state not in MOVABLE_STATES:
        raise MigrationRefused([f"instance {instance.id} is {instance.state}"])
    return _moved_workflow(session, instance, new)


def current_elements(session: Session, instance: Instance) -> list[str]:
    """The ids of the elements an instance stands at: ready, waiting, running or failed."""
    found: set[str] = set()
    if instance.workflow_state:
        old = VersionRef.of(instance.process_version)
        wf = load_workflow(old.dialect, instance.workflow_state, old.specs(session))
        found = {
            task.task_spec.bpmn_id
            for task in wf.get_tasks(state=CURRENT)
            if task.task_spec.bpmn_id is not None
        }
    if instance.state == ERROR and instance.error_element:
        found.add(instance.error_element)
    return sorted(found)


def plan_migration(
    session: Session, key: str, source: int, target: int, instance_ids: list[int] | None = None
) -> MigrationPlan:
    """Dry run: which instances of version `source` can move to `target`, and why not."""
    old, new = _versions(session, key, source, target)
    query = select(Instance).where(Instance.process_version_id == old.id)
    if instance_ids:
        query = select(Instance).where(Instance.id.in_(instance_ids))
    else:
        query = query.where(Instance.state.in_(MOVABLE_STATES))
    found = {i.id: i for i in session.scalars(query.order_by(Instance.id))}
    plan = MigrationPlan(key, source, target)
    for instance_id in instance_ids or list(found):
        instance = found.get(instance_id)
        if instance is None or instance.process_key != key:
            plan.candidates.append(
                Candidate(
                    instance_id,
                    None,
                    "-",
                    [],
                    [f"instance {instance_id} is not an instance of {key}"],
                )
            )
            continue
        candidate = Candidate(
            instance.id, instance.business_key, instance.state, current_elements(session, instance)
        )
        try:
            _check(session, instance, old, new)
        except MigrationRefused as refused:
            candidate.reasons = refused.reasons
        plan.candidates.append(candidate)
    return plan


def migrate_instance(
    session: Session,
    instance_id: int,
    actor: User,
    key: str,
    source: int,
    target: int,
    reason: str | None = None,
) -> Instance:
    """Move one instance from version `source` to `target` (admins and process owners)."""
    if not (is_admin(actor) or "pemilik_proses" in actor.role_names):
        raise NotAllowed(f"{actor.username} may not migrate instances")
    text = check_reason(reason, "migrate an instance") if reason else ""
    old, new = _versions(session, key, source, target)
    instance = session.get(Instance, instance_id)
    if instance is None or instance.process_key != key:
        raise MigrationRefused([f"instance {instance_id} is not an instance of {key}"])
    wf = _check(session, instance, old, new)
    was_error = instance.state == ERROR
    step = _MigrationStep(session, instance)
    wf.script_engine = SCRIPT_ENGINE
    step.wf = wf
    step.version = VersionRef.of(new)
    step.quiet_error = was_error
    _retag_open_tasks(session, step, old, new, actor)
    step.record(
        actor,
        "migrated",
        detail={"from": source, "to": target, **({"reason": text} if text else {})},
    )
    if not was_error:
        step.run(lambda: None)  # anything now ready without a person (on M's path) runs
    step.persist(actor)
    session.execute(
        update(Instance)
        .where(Instance.id == instance.id)
        .values(process_version_id=new.id)
        .execution_options(synchronize_session=False)
    )
    session.expire(instance)
    return instance


class _MigrationStep(Step):
    """A step that records no second `error` row for an instance already in error."""

    quiet_error = False

    def record(self, actor: User, action: str, **fields: Any) -> None:
        """Queue an audit row, except the repeated error of an instance moved while failed."""
        if action == "error" and self.quiet_error:
            return
        super().record(actor, action, **fields)


def _retag_open_tasks(
    session: Session, step: Step, old: ProcessVersion, new: ProcessVersion, actor: User
) -> None:
    """Open task rows take M's name, role, form key (and assignee/due when M changed them)."""
    rows = session.scalars(
        select(TaskModel).where(
            TaskModel.instance_id == step.instance.id, TaskModel.completed_at.is_(None)
        )
    ).all()
    for row in rows:
        before = old.task_meta.get(row.element_id, {})
        after = new.task_meta.get(row.element_id, {})
        if before == after:
            continue
        task = step.wf.get_task_from_id(UUID(row.spiff_task_id))
        if task is None:
            continue
        fresh = step._new_task_row(row.spiff_task_id, task, actor)
        row.name, row.role, row.form_key = fresh["name"], fresh["role"], fresh["form_key"]
        if before.get("assignee") != after.get("assignee"):
            row.assignee_id = fresh["assignee_id"]
        if before.get("due") != after.get("due"):
            row.due_at = fresh["due_at"]
    session.flush()
