"""Optimistic concurrency: of two simultaneous completions of one task, exactly one wins."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.db import session_factory
from engine.errors import NotAllowed, StaleTask
from engine.models import AuditEntry, TaskModel
from engine.runtime import claim_task, complete_task, start_instance
from engine.users import get_user
from tests.conftest import deploy_files, make_user

ROUNDS = 10


def _race(engine: Engine, action: str, task_id: int, users: list[str]) -> list[str]:
    """Run the action for each user in its own thread and transaction, released together."""
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
                    complete_task(s, task_id, user, {"by": name})
                else:
                    claim_task(s, task_id, user)
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
        outcomes = _race(db_engine, "complete", task_id, ["staf1", "staf2"])
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
    outcomes = _race(db_engine, "claim", task_id, ["staf1", "staf2"])
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"], outcomes
