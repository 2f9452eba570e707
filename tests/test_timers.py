"""Timers fire at the engine clock's time; `jenjang worker --once --now` catches up, no sleep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from engine.models import AuditEntry, Instance, utcnow
from engine.timers import due_instances, fire_timers
from tests.helpers import ujian_waiting


@pytest.fixture
def waiting(session: Session) -> Instance:
    """An ujian instance waiting one hour (PT1H) for its announcement timer."""
    return ujian_waiting(session)


def test_waiting_instance_knows_when_its_timer_is_due(session: Session, waiting: Instance) -> None:
    assert waiting.next_timer_at is not None
    assert timedelta(minutes=59) < waiting.next_timer_at - utcnow() <= timedelta(hours=1)


def test_timer_does_not_fire_early(session: Session, waiting: Instance) -> None:
    early = utcnow() + timedelta(minutes=30)
    assert due_instances(session, early) == []
    assert fire_timers(session, waiting.id, early) == []


def test_timer_fires_at_the_given_time_and_the_instance_completes(
    session: Session, waiting: Instance
) -> None:
    later = utcnow() + timedelta(hours=2)
    assert due_instances(session, later) == [waiting.id]
    assert fire_timers(session, waiting.id, later) == ["tunggu"]
    session.commit()
    session.expire_all()
    inst = session.get(Instance, waiting.id)
    assert inst is not None and inst.state == "completed" and inst.next_timer_at is None
    assert due_instances(session, later) == []
    timer_row = session.query(AuditEntry).filter_by(action="timer").one()
    assert timer_row.actor == "sistem" and '"fired": ["tunggu"]' in timer_row.detail


def test_worker_once_with_now(
    session: Session,
    waiting: Instance,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webui.cli import main

    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    later = (utcnow() + timedelta(days=1)).isoformat(timespec="seconds")
    main(["worker", "--once", "--now", later])
    assert capsys.readouterr().out.strip() == f"instance {waiting.id}: fired tunggu"
    session.rollback()  # end this session's read snapshot to see the worker's commit
    assert session.get(Instance, waiting.id).state == "completed"  # type: ignore[union-attr]


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_two_workers_fire_a_due_timer_once(
    db_engine: object, session: Session, waiting: Instance
) -> None:
    import threading

    from engine.db import session_factory
    from engine.errors import StaleTask

    later = utcnow() + timedelta(hours=2)
    barrier = threading.Barrier(2)
    fired: list[list[str]] = []

    def worker() -> None:
        with session_factory(db_engine)() as s:  # type: ignore[arg-type]
            barrier.wait(timeout=30)
            try:
                with s.begin():
                    fired.append(fire_timers(s, waiting.id, later))
            except StaleTask:
                fired.append([])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(fired) == [[], ["tunggu"]]
    session.rollback()
    assert session.query(AuditEntry).filter_by(action="timer").count() == 1
