"""Helpers for process tests: drive tasks through the real forms, as the web layer will."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.models import Instance, TaskModel, User
from engine.queries import list_tasks
from engine.runtime import Outcome, complete_task


def open_tasks(session: Session, instance_id: int) -> list[dict[str, Any]]:
    """The open tasks of an instance, oldest first."""
    return list_tasks(session, instance_id=instance_id)


def only_task(session: Session, instance_id: int, element_id: str | None = None) -> TaskModel:
    """The single open task of an instance (optionally checking its element id)."""
    tasks = open_tasks(session, instance_id)
    assert len(tasks) == 1, [t["element_id"] for t in tasks]
    if element_id is not None:
        assert tasks[0]["element_id"] == element_id, tasks[0]["element_id"]
    row = session.get(TaskModel, tasks[0]["id"])
    assert row is not None
    return row


def submit(
    session: Session,
    task: TaskModel,
    user: User,
    data: dict[str, Any],
    files: dict[str, tuple[str, bytes]] | None = None,
) -> Outcome:
    """Validate data with the task's form (by form key) and complete the task; commits."""
    import forms

    result = forms.validate(task.form_key or "", data, files)
    assert result.ok, result.errors
    outcome = complete_task(session, task.id, user, result.data)
    session.commit()
    return outcome


def form_errors(
    task: TaskModel, data: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
) -> dict[str, list[str]]:
    """The per-field errors the task's form gives for this input (empty if valid)."""
    import forms

    result = forms.validate(task.form_key or "", data, files)
    return dict(result.errors)


def deploy_workflows(session: Session, *names: str, actor: str = "pemilik1") -> None:
    """Deploy files from workflows/ (e.g. "pelatihan.bpmn", "keputusan_pelatihan.dmn"); commits."""
    from pathlib import Path

    from engine.deploy import deploy

    root = Path(__file__).resolve().parents[1] / "workflows"
    deploy(session, [(name, (root / name).read_bytes()) for name in names], actor)
    session.commit()


def stored_instance(session: Session, instance_id: int) -> Any:
    """The instance as stored now (the session's cached copy is dropped first)."""
    from engine.models import Instance

    session.expire_all()
    inst = session.get(Instance, instance_id)
    assert inst is not None
    return inst


def instance_data(session: Session, instance_id: int) -> dict[str, Any]:
    """An instance's data: the workflow's when completed, else its first ready task's."""
    from SpiffWorkflow.util.task import TaskState

    from engine.runtime import Step

    wf = Step(session, stored_instance(session, instance_id)).wf
    if wf.is_completed():
        return dict(wf.data)
    ready = wf.get_tasks(state=TaskState.READY, manual=True)
    return dict(ready[0].data)


def ujian_waiting(session: Session) -> Instance:
    """An ujian instance (tests/data) waiting one hour (PT1H) for its announcement timer."""
    from engine.runtime import start_instance
    from tests.conftest import deploy_files, make_user  # conftest imports nothing from here

    deploy_files(session, "nilai.dmn", "camunda_ujian.bpmn")
    admin = make_user(session, "admin1", "admin")
    inst = start_instance(session, "ujian", admin, {})
    [task] = list_tasks(session, instance_id=inst.id)
    complete_task(session, task["id"], admin, {"skor": 70})
    session.commit()
    session.expire_all()
    found = session.get(Instance, inst.id)
    assert found is not None and found.state == "waiting"
    return found


def worker_pass(session: Session, now: datetime) -> dict[int, list[str]]:
    """What `jenjang worker --once --now NOW` does, on the session's database: instance id →
    the timers that fired. The session's own snapshot is ended first and afterwards."""
    from engine.db import session_factory
    from engine.worker import run_pass

    session.commit()
    report = run_pass(session_factory(session.get_bind()), now)  # type: ignore[arg-type]
    session.rollback()
    session.expire_all()
    return {instance_id: fired for instance_id, fired in report.fired if fired}
