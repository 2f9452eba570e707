"""Service tasks call the engine's services in the step's transaction; failures leave nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import DeploymentRejected
from engine.hr import Employee, EmployeePredicate, JpCredit
from engine.models import Instance
from engine.runtime import Step, start_instance
from tests.conftest import deploy_files, make_user


@pytest.fixture
def pegawai(session: Session) -> object:
    deploy_files(session, "jp_kredit.bpmn")
    user = make_user(session, "pegawai1", "pegawai")
    session.add(Employee(user_id=user.id, golongan="III/a", tmt_golongan=date(2020, 1, 1)))
    session.add(EmployeePredicate(user_id=user.id, tahun=date.today().year - 1, predikat="Baik"))
    session.commit()
    return user


def test_service_tasks_update_and_read_the_employee_record(
    session: Session, pegawai: object
) -> None:
    inst = start_instance(session, "jp_kredit", pegawai, {"pegawai": "pegawai1", "jp": 12})  # type: ignore[arg-type]
    session.commit()
    assert inst.state == "completed", inst.error_message
    data = Step(session, session.get(Instance, inst.id)).wf.data  # type: ignore[arg-type]
    assert data["hasil_kredit"]["jp_tahun_ini"] == 12
    record = data["pegawai_data"]
    assert record["jp_tahun_ini"] == 12
    assert record["golongan"] == "III/a"
    assert record["predikat_tahun_lalu"] == "Baik"
    assert record["hukuman_disiplin"] is False
    assert record["masa_kerja_golongan_tahun"] >= 4


def test_a_failing_service_puts_the_instance_in_error_and_writes_nothing(
    session: Session, pegawai: object
) -> None:
    inst = start_instance(session, "jp_kredit", pegawai, {"pegawai": "pegawai1", "jp": -5})  # type: ignore[arg-type]
    session.commit()
    assert inst.state == "error"
    assert inst.error_element == "kredit"
    assert "service 'kredit_jp' failed: kredit_jp: jp must be a whole number" in (
        inst.error_message or ""
    )
    assert session.scalar(select(func.count()).select_from(JpCredit)) == 0


def test_unknown_service_is_refused_at_deploy(session: Session) -> None:
    from engine.deploy import deploy
    from tests.conftest import DATA

    xml = (DATA / "jp_kredit.bpmn").read_bytes().replace(b'id="kredit_jp"', b'id="gaji/naik"')
    with pytest.raises(
        DeploymentRejected, match=r"jp_kredit.bpmn: kredit: unknown service 'gaji/naik'"
    ):
        deploy(session, [("jp_kredit.bpmn", xml)], "pemilik1")


def test_a_service_that_fails_after_writing_leaves_no_rows(
    session: Session, pegawai: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import services
    from engine.deploy import deploy
    from tests.conftest import DATA

    def write_then_fail(ctx: services.ServiceContext, pegawai: str, jp: int, **_: object) -> None:
        ctx.session.add(JpCredit(user_id=1, tahun=2026, jp=jp, keterangan="setengah"))
        ctx.session.flush()
        raise RuntimeError("sambungan ke BKN terputus")

    monkeypatch.setitem(services.SERVICES, "uji_gagal", write_then_fail)
    xml = (DATA / "jp_kredit.bpmn").read_bytes().replace(b'id="kredit_jp"', b'id="uji_gagal"')
    deploy(session, [("jp_kredit.bpmn", xml)], "pemilik1")
    session.commit()
    inst = start_instance(session, "jp_kredit", pegawai, {"pegawai": "pegawai1", "jp": 3})  # type: ignore[arg-type]
    session.commit()
    assert inst.state == "error"
    assert "sambungan ke BKN terputus" in (inst.error_message or "")
    assert session.scalar(select(func.count()).select_from(JpCredit)) == 0
