"""1,000 races of two users completing the same task at once, on PostgreSQL.

tests/test_concurrency.py runs a few races of each kind; this one runs a thousand of the one
that matters most (a decision taken twice, or lost). Two long-lived threads, one per user, each
with its own connection, are released together by a barrier for every task; each completes it
in its own transaction. Exactly one must win every time, the loser gets a clear refusal, the
winner's data is what the task and the audit keep, and the instance moves on exactly once.
It runs in CI's PostgreSQL suite in about a minute (``RACES`` rounds).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.db import session_factory
from engine.errors import NotAllowed, StaleTask
from engine.models import AuditEntry, Instance, TaskModel
from engine.runtime import complete_task, start_instance
from engine.users import get_user
from tests.conftest import deploy_files, make_user

RACES = 1000
USERS = ("staf1", "staf2")


class Racer(threading.Thread):
    """One user completing each task of a list, released with the other user by a barrier."""

    def __init__(self, engine: Engine, name: str, tasks: list[int], barrier: threading.Barrier):
        super().__init__(daemon=True)
        self.engine, self.username, self.tasks, self.barrier = engine, name, tasks, barrier
        self.outcomes: dict[int, str] = {}
        self.failure: BaseException | None = None

    def run(self) -> None:
        factory = session_factory(self.engine)
        try:
            for task_id in self.tasks:
                with factory() as s:
                    user = get_user(s, self.username)
                    s.commit()  # read the user outside the raced transaction
                    self.barrier.wait(timeout=30)
                    try:
                        with s.begin():
                            complete_task(s, task_id, user, {"oleh": self.username})
                        self.outcomes[task_id] = "won"
                    except (StaleTask, NotAllowed) as exc:
                        self.outcomes[task_id] = f"lost: {exc}"
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.failure = exc
            self.barrier.abort()


def start_many(session: Session, n: int) -> list[int]:
    """Start n instances of four_tasks; the id of each one's first open task."""
    admin = get_user(session, "admin1")
    ids = [start_instance(session, "four_tasks", admin, {"skip": False}).id for _ in range(n)]
    session.commit()
    rows = session.execute(
        select(TaskModel.instance_id, TaskModel.id).where(TaskModel.instance_id.in_(ids))
    ).all()
    first = dict(rows)
    return [first[i] for i in ids]


@pytest.mark.postgres
@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_a_thousand_races_of_two_users_each_have_exactly_one_winner(
    db_engine: Engine, session: Session
) -> None:
    deploy_files(session, "four_tasks.bpmn")
    for name in USERS:
        make_user(session, name, "staf")
    make_user(session, "admin1", "admin")
    tasks = start_many(session, RACES)

    barrier = threading.Barrier(len(USERS))
    racers = [Racer(db_engine, name, tasks, barrier) for name in USERS]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=300)
    for racer in racers:
        assert racer.failure is None, repr(racer.failure)
        assert not racer.is_alive()

    winners: dict[int, str] = {}
    refusals: Counter[str] = Counter()
    for task_id in tasks:
        results = {r.username: r.outcomes[task_id] for r in racers}
        won = [name for name, result in results.items() if result == "won"]
        assert len(won) == 1, (task_id, results)
        winners[task_id] = won[0]
        refusals.update(r.split(":")[1].split()[0] for r in results.values() if r != "won")

    session.expire_all()
    # The task table: every raced task completed once, by its winner, with the winner's data.
    completed = dict(
        session.execute(
            select(TaskModel.id, TaskModel.completed_by_id).where(TaskModel.id.in_(tasks))
        ).all()
    )
    ids = {name: get_user(session, name).id for name in USERS}
    assert {t: completed[t] for t in tasks} == {t: ids[winners[t]] for t in tasks}
    # The audit: one completion per task, carrying the winner's data.
    rows = session.execute(
        select(AuditEntry.task_id, AuditEntry.actor, AuditEntry.detail).where(
            AuditEntry.action == "completed", AuditEntry.task_id.in_(tasks)
        )
    ).all()
    assert Counter(r.task_id for r in rows) == Counter(dict.fromkeys(tasks, 1))
    for row in rows:
        assert row.actor == winners[row.task_id]
        assert winners[row.task_id] in str(row.detail)
    # Every instance moved on exactly once: one open task, the second step.
    open_steps: Any = session.execute(
        select(TaskModel.element_id, func.count())
        .join(Instance, Instance.id == TaskModel.instance_id)
        .where(TaskModel.completed_at.is_(None), Instance.process_key == "four_tasks")
        .group_by(TaskModel.element_id)
    ).all()
    assert [tuple(r) for r in open_steps] == [("t2", RACES)]
    checked = audit.verify(session)
    assert checked.ok, checked.message
    assert sum(refusals.values()) == RACES
