"""Concurrency: of two simultaneous completions of one task, exactly one wins; two different
tasks of one instance completed at once both go through (the second waits for the first)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.db import session_factory
from engine.errors import NotAllowed, StaleTask
from engine.models import AuditEntry, Instance, TaskModel
from engine.runtime import claim_task, complete_task, start_instance
from engine.users import get_user
from tests.conftest import deploy_files, make_user

ROUNDS = 10


def _race(engine: Engine, action: str, tasks: dict[str, int]) -> list[str]:
    """Run the action for each user on their task, each in its own thread and transaction,
    released together."""
    users = list(tasks)
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        factory = session_factory(engine)
        try:
            with factory() as s, s.begin():
                user = get_user(s, name)
                barrier.wait(timeout=30)
                if action == "complete":
                    complete_task(s, tasks[name], user, {"by": name})
                else:
                    claim_task(s, tasks[name], user)
            result = "won"
        except (StaleTask, NotAllowed) as exc:
            result = f"lost: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_two_concurrent_completions_exactly_one_wins(db_engine: Engine, session: Session) -> None:
    deploy_files(session, "four_tasks.bpmn")
    make_user(session, "staf1", "staf")
    make_user(session, "staf2", "staf")
    admin = make_user(session, "admin1", "admin")
    for _ in range(ROUNDS):
        inst = start_instance(session, "four_tasks", admin, {"skip": False})
        session.commit()
        task_id = session.scalar(select(TaskModel.id).where(TaskModel.instance_id == inst.id))
        assert task_id is not None
        outcomes = _race(db_engine, "complete", {"staf1": task_id, "staf2": task_id})
        assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"], outcomes
        session.expire_all()
        row = session.get(TaskModel, task_id)
        assert row is not None and row.outcome == "completed"
        done = session.scalar(
            select(func.count()).where(
                AuditEntry.task_id == task_id, AuditEntry.action == "completed"
            )
        )
        assert done == 1
        assert (
            session.scalar(
                select(func.count()).where(
                    TaskModel.instance_id == inst.id, TaskModel.completed_at.is_(None)
                )
            )
            == 1
        )


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_two_concurrent_claims_exactly_one_wins(db_engine: Engine, session: Session) -> None:
    deploy_files(session, "four_tasks.bpmn")
    make_user(session, "staf1", "staf")
    make_user(session, "staf2", "staf")
    inst = start_instance(
        session, "four_tasks", make_user(session, "admin1", "admin"), {"skip": False}
    )
    session.commit()
    task_id = session.scalar(select(TaskModel.id).where(TaskModel.instance_id == inst.id))
    assert task_id is not None
    outcomes = _race(db_engine, "claim", {"staf1": task_id, "staf2": task_id})
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"], outcomes


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_two_tasks_of_one_instance_completed_at_once_both_go_through(
    db_engine: Engine, session: Session
) -> None:
    """A step locks its instance from its first read: the other step waits, then runs on the
    state the first one left, instead of losing to it (StaleTask) and being retried by hand."""
    deploy_files(session, "two_parallel.bpmn")
    make_user(session, "staf1", "staf")
    make_user(session, "staf2", "staf")
    admin = make_user(session, "admin1", "admin")
    for _ in range(ROUNDS):
        inst = start_instance(session, "two_parallel", admin, {})
        session.commit()
        rows = session.execute(
            select(TaskModel.element_id, TaskModel.id)
            .where(TaskModel.instance_id == inst.id)
            .order_by(TaskModel.element_id)
        ).all()
        assert [r.element_id for r in rows] == ["a", "b"]
        outcomes = _race(db_engine, "complete", {"staf1": rows[0].id, "staf2": rows[1].id})
        assert outcomes == ["won", "won"], outcomes
        session.expire_all()
        assert session.get(Instance, inst.id).state == "completed"  # type: ignore[union-attr]
        by = session.scalars(
            select(AuditEntry.actor)
            .where(AuditEntry.instance_id == inst.id, AuditEntry.action == "completed")
            .order_by(AuditEntry.actor)
        ).all()
        assert by == ["staf1", "staf2"]
    assert audit.verify(session).ok
