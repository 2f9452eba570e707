"""Round trips of a step on PostgreSQL (engine.batch), and what queued writes do on the way.

A task completion takes two round trips: BEGIN with the fetch of the task and its locked
instance, then every write of the step with the COMMIT. Writes left queued for the COMMIT are
still sent before any later statement of the transaction, dropped by a rollback, and a failure
among them fails the commit with nothing kept.
"""

from __future__ import annotations

import tempfile

import pytest
from sqlalchemy import Engine, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, batch
from engine.batch import Batch, exactly_one
from engine.db import make_engine, session_factory
from engine.errors import StaleTask
from engine.models import AuditEntry, AuditHead, Instance, TaskModel, User
from engine.runtime import complete_task, start_instance
from tests.conftest import deploy_files, make_user

pytestmark = pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)


@pytest.fixture
def staff(session: Session) -> User:
    deploy_files(session, "four_tasks.bpmn")
    return make_user(session, "staf1", "staf")


def open_task(session: Session, staff: User) -> int:
    """A new instance's first task (committed)."""
    inst = start_instance(session, "four_tasks", staff, {"skip": False})
    session.commit()
    task_id = session.scalar(
        select(TaskModel.id).where(
            TaskModel.instance_id == inst.id, TaskModel.completed_at.is_(None)
        )
    )
    assert task_id is not None
    return task_id


def round_trips(db_engine: Engine, task_id: int, staff: User) -> tuple[int, str]:
    """Complete a task and commit: the round trips (answers ending in ReadyForQuery) and
    the protocol messages the connection exchanged meanwhile."""
    from psycopg import pq

    with session_factory(db_engine)() as s, tempfile.TemporaryFile() as out:
        pgconn = s.connection().connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            complete_task(s, task_id, staff, {"catatan": "lengkap"})
            s.commit()
        finally:
            pgconn.untrace()
        out.seek(0)
        log = out.read().decode()
    return log.count("ReadyForQuery"), log


def test_a_task_completion_takes_two_round_trips(
    db_engine: Engine, session: Session, staff: User
) -> None:
    round_trips(db_engine, open_task(session, staff), staff)  # statements seen once
    task_id = open_task(session, staff)
    trips, log = round_trips(db_engine, task_id, staff)
    assert trips == 2, log
    # What the server answered (statements may go by name once prepared): BEGIN and the
    # fetch, then the writes and COMMIT.
    first, second = (
        [
            line.split("CommandComplete")[1].strip()
            for line in part.splitlines()
            if line.startswith("B") and "CommandComplete" in line
        ]
        for part in log.split("ReadyForQuery", 1)
    )
    assert first == ['"BEGIN"', '"SELECT 1"'], log
    assert second[-1] == '"COMMIT"' and '"UPDATE 1"' in second and '"INSERT 0 1"' in second
    session.expire_all()
    assert session.scalar(select(TaskModel.outcome).where(TaskModel.id == task_id)) == "completed"
    assert audit.verify(session).ok


def test_queued_writes_go_before_the_next_statement_and_a_rollback_drops_them(
    db_engine: Engine, session: Session, staff: User
) -> None:
    task_id = open_task(session, staff)
    with session_factory(db_engine)() as s:
        complete_task(s, task_id, staff, {"catatan": "lengkap"})
        assert Batch.of(s.connection()).queued  # left for the COMMIT
        # Read in the same transaction: the queued writes are sent first, in order.
        done = s.scalar(select(TaskModel.completed_at).where(TaskModel.id == task_id))
        assert done is not None
        assert not Batch.of(s.connection()).queued
        complete_next = s.scalar(
            select(TaskModel.id).where(TaskModel.completed_at.is_(None)).order_by(TaskModel.id)
        )
        assert complete_next is not None
        complete_task(s, complete_next, staff, {"catatan": "lengkap"})
        s.rollback()  # drops what was queued and undoes what was sent
        # The connection is clean for the next transaction: nothing of the above comes back.
        s.execute(select(1))
        s.commit()
    session.expire_all()
    assert session.scalar(select(TaskModel.completed_at).where(TaskModel.id == task_id)) is None
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "completed")) is None
    assert audit.verify(session).ok


def test_a_failing_queued_write_fails_the_commit_and_nothing_is_kept(
    db_engine: Engine, session: Session, staff: User
) -> None:
    task_id = open_task(session, staff)
    version = session.scalar(select(Instance.lock_version))
    with session_factory(db_engine)() as s:
        complete_task(s, task_id, staff, {"catatan": "lengkap"})
        conn = s.connection()
        Batch.of(conn).add(insert(AuditHead), {"id": 1, "last_id": 0, "last_hash": "0" * 64})
        with pytest.raises(IntegrityError, match="audit_head_pkey"):
            s.commit()
    session.expire_all()
    assert session.scalar(select(TaskModel.completed_at).where(TaskModel.id == task_id)) is None
    assert session.scalar(select(Instance.lock_version)) == version
    assert audit.verify(session).ok
    # The pool's connection works afterwards: the task can still be completed.
    with session_factory(db_engine)() as s, s.begin():
        complete_task(s, task_id, staff, {"catatan": "lengkap"})
    session.expire_all()
    assert session.scalar(select(TaskModel.outcome).where(TaskModel.id == task_id)) == "completed"


def test_a_row_count_check_failing_with_the_commit_keeps_nothing(
    db_engine: Engine, session: Session, staff: User
) -> None:
    """A check cannot wait for the answer when the COMMIT rides in the same trip: it fails
    in the server, before the COMMIT, and raises the check's own error."""
    task_id = open_task(session, staff)
    with session_factory(db_engine)() as s:
        complete_task(s, task_id, staff, {"catatan": "lengkap"})
        nobody = update(Instance).where(Instance.id == -1).values(state="running")
        Batch.of(s.connection()).add(nobody, {}, exactly_one(StaleTask("instance -1 is gone")))
        with pytest.raises(StaleTask, match="instance -1 is gone"):
            s.commit()
    session.expire_all()
    assert session.scalar(select(TaskModel.completed_at).where(TaskModel.id == task_id)) is None
    assert audit.verify(session).ok


def one_connection(db_engine: Engine) -> Engine:
    """An engine on the test database whose sessions all share one connection."""
    return make_engine(db_engine.url.render_as_string(hide_password=False), pool_size=1)


def assert_completed(session: Session, task_id: int) -> None:
    """The task was completed and committed, and the audit chain holds."""
    session.expire_all()
    assert session.scalar(select(TaskModel.outcome).where(TaskModel.id == task_id)) == "completed"
    assert audit.verify(session).ok


def named_statements(s: Session) -> list[str]:
    """The batch's prepared statements on the session's connection."""
    rows = s.scalars(text("SELECT name FROM pg_prepared_statements WHERE name LIKE 'jenjang%'"))
    return sorted(rows)


def test_a_steps_statements_are_prepared_once_per_connection(
    db_engine: Engine, session: Session, staff: User
) -> None:
    engine = one_connection(db_engine)
    try:
        round_trips(engine, open_task(session, staff), staff)
        trips, log = round_trips(engine, open_task(session, staff), staff)
        assert trips == 2, log
        parsed = [line for line in log.splitlines() if "\tParse\t" in line]
        # Only BEGIN and COMMIT are parsed again (unnamed); the writes and the fetch go by name.
        assert [line.split('"')[3] for line in parsed] == ["BEGIN", "COMMIT"], log
        assert log.count("\tBind\t") == 2 + 5, log  # BEGIN, COMMIT and five statements
        with session_factory(engine)() as s:
            assert len(named_statements(s)) == 5
    finally:
        engine.dispose()


def test_statements_deallocated_by_psycopg_in_a_transaction_are_prepared_again(
    db_engine: Engine, session: Session, staff: User
) -> None:
    """A savepoint rolled back (e.g. a failed service call in a step) makes psycopg
    deallocate every prepared statement of the connection, the batch's too."""
    engine = one_connection(db_engine)
    first, second = open_task(session, staff), open_task(session, staff)
    try:
        with session_factory(engine)() as s:
            s.connection().connection.driver_connection.prepare_threshold = 0  # type: ignore[union-attr]
            complete_task(s, first, staff, {"catatan": "lengkap"})
            s.commit()
            assert named_statements(s)
            savepoint = s.begin_nested()
            s.execute(select(User.id))  # prepared by psycopg itself at once
            savepoint.rollback()
            assert named_statements(s) == []  # psycopg deallocated them all
            complete_task(s, second, staff, {"catatan": "lengkap"})
            s.commit()
            assert named_statements(s)
    finally:
        engine.dispose()
    assert_completed(session, second)


def test_statements_deallocated_behind_the_batchs_back_are_prepared_again(
    db_engine: Engine, session: Session, staff: User
) -> None:
    """Deallocated where no hook sees it: the trip that began the transaction is sent again."""
    engine = one_connection(db_engine)
    first, second = open_task(session, staff), open_task(session, staff)
    try:
        with session_factory(engine)() as s:
            complete_task(s, first, staff, {"catatan": "lengkap"})
            s.commit()
            driver = s.connection().connection.driver_connection
            s.commit()
            driver.pgconn.exec_(b"DEALLOCATE ALL")  # type: ignore[union-attr]
            complete_task(s, second, staff, {"catatan": "lengkap"})
            s.commit()
    finally:
        engine.dispose()
    assert_completed(session, second)


def test_an_interrupted_trip_closes_the_connection_and_the_pool_replaces_it(
    db_engine: Engine, session: Session, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = one_connection(db_engine)
    task_id = open_task(session, staff)

    def interrupted(_pgconn: object) -> list[list[object]]:
        raise KeyboardInterrupt

    try:
        with session_factory(engine)() as s:
            driver = s.connection().connection.driver_connection
            monkeypatch.setattr(batch, "_exchange", interrupted)
            with pytest.raises(KeyboardInterrupt):
                complete_task(s, task_id, staff, {"catatan": "lengkap"})
            assert driver is not None and driver.closed  # its state was unknown
        monkeypatch.undo()
        with session_factory(engine)() as s, s.begin():
            complete_task(s, task_id, staff, {"catatan": "lengkap"})
    finally:
        engine.dispose()
    assert_completed(session, task_id)


def test_a_statement_with_a_computed_value_takes_sqlalchemys_own_binding(
    db_engine: Engine, session: Session, staff: User
) -> None:
    """Values the batch cannot take from the parameters or the statement's literals (here a
    callable default) are bound by SQLAlchemy on every execution."""
    task_id = open_task(session, staff)
    states = iter(["waiting", "running"])
    statement = (
        update(Instance)
        .where(Instance.id == bindparam("p_id"))
        .values(state=bindparam("p_state", callable_=lambda: next(states)))
    )
    instance_id = session.scalar(select(TaskModel.instance_id).where(TaskModel.id == task_id))
    for expected in ("waiting", "running"):
        with session_factory(db_engine)() as s, s.begin():
            Batch.of(s.connection()).add(statement, {"p_id": instance_id}, exactly_one(KeyError()))
            Batch.of(s.connection()).run()
        session.expire_all()
        assert session.scalar(select(Instance.state).where(Instance.id == instance_id)) == expected
