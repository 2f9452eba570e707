"""The worker: failing jobs retried with backoff then given up; many workers, each job once;
a worker killed mid-job leaves its job to the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import settings, timers
from engine.db import session_factory
from engine.models import AuditEntry, Instance, utcnow
from engine.runtime import retry_instance
from engine.worker import run_pass
from tests.conftest import make_user
from tests.helpers import ujian_waiting

JENJANG = str(Path(sys.executable).parent / "jenjang")


@pytest.fixture
def waiting(session: Session) -> Instance:
    """An ujian instance waiting one hour (PT1H) for its announcement timer."""
    return ujian_waiting(session)


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Make firing fail while the list holds a positive count of failures still to come."""
    remaining = [0]
    real = timers.fire_locked

    def fire(session: Session, instance_id: int, now: datetime) -> list[str]:
        if remaining[0] > 0:
            remaining[0] -= 1
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real(session, instance_id, now)

    monkeypatch.setattr(timers, "fire_locked", fire)
    yield remaining


def _fresh(session: Session) -> None:
    """See what other sessions committed: end the read snapshot, forget loaded rows."""
    session.rollback()
    session.expire_all()


def _actions(session: Session, instance_id: int) -> list[str]:
    _fresh(session)
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.instance_id == instance_id)
            .order_by(AuditEntry.id)
        )
    )


def test_a_failing_job_is_retried_with_a_doubling_wait_then_fires(
    db_engine: Engine, session: Session, waiting: Instance, flaky: list[int]
) -> None:
    settings.configure(timer_backoff=timedelta(minutes=1), timer_max_attempts=5)
    factory = session_factory(db_engine)
    assert waiting.next_timer_at is not None
    due = waiting.next_timer_at + timedelta(seconds=1)
    flaky[0] = 2
    first = run_pass(factory, due)
    assert [i for i, _ in first.retrying] == [waiting.id] and first.fired == []
    assert "server closed the connection" in first.retrying[0][1]
    _fresh(session)
    assert session.get(Instance, waiting.id).next_timer_at == due + timedelta(minutes=1)  # type: ignore[union-attr]
    assert run_pass(factory, due + timedelta(seconds=60)).jobs == 0  # not before its time
    second = run_pass(factory, due + timedelta(minutes=1, seconds=1))
    assert [i for i, _ in second.retrying] == [waiting.id]
    _fresh(session)
    assert session.get(Instance, waiting.id).next_timer_at == due + timedelta(minutes=3, seconds=1)  # type: ignore[union-attr]
    third = run_pass(factory, due + timedelta(minutes=4))
    assert third.fired == [(waiting.id, ["tunggu"])]
    _fresh(session)
    inst = session.get(Instance, waiting.id)
    assert inst is not None and inst.state == "completed" and inst.timer_attempts == 0
    actions = _actions(session, waiting.id)
    assert actions.count("timer_retry") == 2 and actions.count("timer") == 1


def test_a_job_that_keeps_failing_puts_the_instance_in_error_until_an_admin_retries(
    db_engine: Engine, session: Session, waiting: Instance, flaky: list[int]
) -> None:
    settings.configure(timer_backoff=timedelta(seconds=10), timer_max_attempts=3)
    factory = session_factory(db_engine)
    assert waiting.next_timer_at is not None
    moment = waiting.next_timer_at + timedelta(seconds=1)
    flaky[0] = 99
    reports = []
    for _ in range(3):
        reports.append(run_pass(factory, moment))
        moment += timedelta(minutes=5)
    assert [len(r.retrying) for r in reports] == [1, 1, 0]
    assert [i for i, _ in reports[2].failed] == [waiting.id]
    _fresh(session)
    inst = session.get(Instance, waiting.id)
    assert inst is not None and inst.state == "error" and inst.next_timer_at is None
    assert inst.error_message is not None
    assert inst.error_message.startswith("timer job failed 3 times; last: OperationalError")
    assert run_pass(factory, moment + timedelta(days=1)).jobs == 0  # nothing left to fire
    flaky[0] = 0
    admin = make_user(session, "admin2", "admin")
    retry_instance(session, waiting.id, admin)
    session.commit()
    assert run_pass(factory, moment).fired == [(waiting.id, ["tunggu"])]
    _fresh(session)
    assert session.get(Instance, waiting.id).state == "completed"  # type: ignore[union-attr]
    assert _actions(session, waiting.id)[-3:] == ["error", "retried", "timer"]


def test_a_due_timer_that_does_not_fire_counts_as_a_failure_not_a_busy_loop(
    db_engine: Engine, session: Session, waiting: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.configure(timer_backoff=timedelta(minutes=1), timer_max_attempts=5)
    monkeypatch.setattr(timers, "fire_locked", lambda session, instance_id, now: [])
    assert waiting.next_timer_at is not None
    moment = waiting.next_timer_at + timedelta(seconds=1)
    report = run_pass(session_factory(db_engine), moment)
    assert report.jobs == 1 and report.fired == []
    assert report.retrying[0][1].startswith("timer due at ")
    _fresh(session)
    assert session.get(Instance, waiting.id).next_timer_at == moment + timedelta(minutes=1)  # type: ignore[union-attr]


def _clone(session: Session, instance: Instance, copies: int) -> list[int]:
    """Copies of a waiting instance (same state, same due timer), for many due jobs."""
    row = dict(
        session.execute(select(Instance.__table__).where(Instance.id == instance.id))
        .mappings()
        .one()
    )
    del row["id"]
    session.execute(insert(Instance), [dict(row) for _ in range(copies)])
    session.commit()
    return list(session.scalars(select(Instance.id).order_by(Instance.id)))


def _worker(db_url: str, now: datetime) -> subprocess.Popen[str]:
    env = {**os.environ, "JENJANG_DATABASE_URL": db_url}
    return subprocess.Popen(
        [JENJANG, "worker", "--once", "--now", now.isoformat(timespec="seconds")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("workers", [2, 4])
def test_several_worker_processes_fire_each_of_1000_due_jobs_exactly_once(
    db_engine: Engine, db_url: str, session: Session, waiting: Instance, workers: int
) -> None:
    ids = _clone(session, waiting, 999)
    assert len(ids) == 1000
    later = utcnow() + timedelta(hours=2)
    procs = [_worker(db_url, later) for _ in range(workers)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * workers, [err for _, err in outputs]
    lines = [line for out, _ in outputs for line in out.splitlines()]
    assert sorted(lines) == sorted(f"instance {i}: fired tunggu" for i in ids)
    busy = [out.count("\n") for out, _ in outputs]
    assert sum(busy) == 1000 and sum(1 for n in busy if n > 0) >= 2  # the work was shared
    _fresh(session)
    per_instance = dict(
        session.execute(
            select(AuditEntry.instance_id, func.count())
            .where(AuditEntry.action == "timer")
            .group_by(AuditEntry.instance_id)
        ).all()
    )
    assert per_instance == dict.fromkeys(ids, 1)
    states = session.scalars(select(Instance.state).distinct()).all()
    assert states == ["completed"]


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_a_worker_killed_mid_job_leaves_the_job_to_run_once_afterwards(
    db_engine: Engine, db_url: str, session: Session, waiting: Instance
) -> None:
    later = utcnow() + timedelta(hours=2)
    lock_wait = text(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE '%audit_head%'"
    )
    watcher = db_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with db_engine.connect() as blocker:
        # Hold the audit chain's head: the worker fires the timer, then waits to append its
        # audit row, in the middle of its job's transaction.
        blocker.execute(text("SELECT last_id FROM audit_head WHERE id = 1 FOR UPDATE"))
        worker = _worker(db_url, later)
        pid = None
        for _ in range(300):  # (a fresh snapshot of pg_stat_activity per autocommit query)
            pid = watcher.execute(lock_wait).scalar()
            if pid is not None:
                break
            time.sleep(0.1)
        assert pid is not None, "the worker never reached the audit append"
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)  # reaps it and closes its pipes
        assert worker.returncode == -signal.SIGKILL
        blocker.rollback()
    # The killed worker's server process notices its client is gone and rolls back.
    for _ in range(300):
        alive = watcher.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
        ).scalar()
        if not alive:
            break
        time.sleep(0.1)
    watcher.close()
    assert _actions(session, waiting.id).count("timer") == 0  # nothing of the job was kept
    _fresh(session)
    assert session.get(Instance, waiting.id).state == "waiting"  # type: ignore[union-attr]
    again = _worker(db_url, later)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert out.strip() == f"instance {waiting.id}: fired tunggu"
    assert _actions(session, waiting.id).count("timer") == 1
    _fresh(session)
    assert session.get(Instance, waiting.id).state == "completed"  # type: ignore[union-attr]


def test_the_worker_catches_up_every_due_timer_of_the_demo_agency(
    session: Session,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from engine.demo import seed, seed_instances
    from tests.helpers import deploy_workflows
    from webui.cli import main

    workflows = sorted(p.name for p in (Path(__file__).parents[1] / "workflows").iterdir())
    deploy_workflows(session, *[n for n in workflows if n.endswith((".bpmn", ".dmn"))])
    seed(session, "rahasia-demo-1")
    seed_instances(session)
    session.commit()
    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    later = (utcnow() + timedelta(days=60)).isoformat(timespec="seconds")
    main(["worker", "--once", "--now", later])
    fired = {line.split(": fired ")[1] for line in capsys.readouterr().out.splitlines()}
    # registration closes (seleksi_formasi, lamaran); the training approval escalates.
    assert {"pendaftaran_ditutup", "batas_pendaftaran", "batas_persetujuan"} <= fired
    main(["worker", "--once", "--now", later])
    assert capsys.readouterr().out == ""  # nothing fires twice
