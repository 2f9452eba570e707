"""Escalation after the due date (pelatihan): counted in working days, run by the worker,
the approval goes to the next supervisor up and both are told."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import NotAllowed
from engine.models import AuditEntry, TaskModel, User
from engine.notifications import Notification
from engine.runtime import complete_task, start_instance
from engine.workdays import import_holidays
from tests.conftest import make_user
from tests.helpers import deploy_workflows, only_task, submit
from tests.test_process_pelatihan import KODE, add_training


def wib(text: str) -> datetime:
    """A WIB (UTC+7) wall-clock time as the naive UTC the engine stores."""
    return datetime.fromisoformat(text + "+07:00").astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def request_waiting(session: Session) -> tuple[int, dict[str, User]]:
    """pegawai1 asked on Wednesday 23 Dec 09:00 WIB; atasan1 (under kepala1) must approve."""
    deploy_workflows(session, "keputusan_pelatihan.dmn", "pelatihan.bpmn")
    users = {
        "kepala": make_user(session, "kepala1", "atasan"),
        "atasan": make_user(session, "atasan1", "atasan", supervisor="kepala1"),
        "pegawai": make_user(session, "pegawai1", "pegawai", supervisor="atasan1"),
    }
    import_holidays(session, [(date(2026, 12, 24), "Cuti bersama"), (date(2026, 12, 25), "Natal")])
    with clock.at(wib("2026-12-23T09:00")):
        add_training(session)
        inst = start_instance(
            session, "pelatihan", users["pegawai"], {"kode": KODE, "pegawai": "pegawai1"}
        )
        session.commit()
        ajukan = only_task(session, inst.id, "ajukan_pelatihan")
        submit(session, ajukan, users["pegawai"], {"kode": KODE, "motivasi": "Analisis data"})
    return inst.id, users


def worker(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], now: datetime
) -> str:
    from webui.cli import main

    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    main(["worker", "--once", "--now", now.isoformat(timespec="seconds")])
    return capsys.readouterr().out.strip()


def test_the_due_date_and_the_escalation_count_working_days(
    session: Session, request_waiting: tuple[int, dict[str, User]]
) -> None:
    instance_id, users = request_waiting
    task = only_task(session, instance_id, "persetujuan_atasan")
    # 24-25 Dec holidays, 26-27 weekend: 28, 29, 30 Dec are the three working days.
    assert task.due_at == wib("2026-12-30T09:00")
    assert task.assignee_id == users["atasan"].id


def test_after_the_due_date_the_worker_escalates_to_the_next_supervisor_up(
    session: Session,
    db_url: str,
    request_waiting: tuple[int, dict[str, User]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instance_id, users = request_waiting
    # Three calendar days later (a P3D timer would have fired): nothing yet.
    assert worker(db_url, monkeypatch, capsys, wib("2026-12-29T10:00")) == ""
    out = worker(db_url, monkeypatch, capsys, wib("2026-12-30T09:01"))
    assert out == f"instance {instance_id}: fired batas_persetujuan"
    session.rollback()
    session.expire_all()
    task = only_task(session, instance_id, "persetujuan_atasan")  # still open, one task
    assert task.assignee_id == users["kepala"].id
    told = {
        (n.user_id, n.kind, n.title)
        for n in session.scalars(
            select(Notification).where(Notification.instance_id == instance_id)
        )
        if n.kind == "escalation"
    }
    assert told == {
        (
            users["kepala"].id,
            "escalation",
            "Eskalasi: Setujui permintaan pelatihan dialihkan kepada Anda",
        ),
        (
            users["atasan"].id,
            "escalation",
            "Tugas Setujui permintaan pelatihan melewati batas waktu",
        ),
    }
    [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "escalated")).all()
    assert '"from": "atasan1"' in row.detail and '"to": "kepala1"' in row.detail
    with pytest.raises(NotAllowed):
        complete_task(session, task.id, users["atasan"], {"disetujui": True, "alasan": "Oke"})
    session.rollback()
    complete_task(session, task.id, users["kepala"], {"disetujui": True, "alasan": "Relevan"})
    session.commit()
    done = session.get(TaskModel, task.id)
    assert done is not None and done.completed_by_id == users["kepala"].id
    # The escalation ran once: a later pass has nothing left to fire for it.
    assert worker(db_url, monkeypatch, capsys, wib("2027-01-15T09:00")) == ""
