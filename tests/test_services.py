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
    assert record["atasan"] is None  # no supervisor on record
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


def test_a_task_named_like_its_service_operator_is_refused_clearly(session: Session) -> None:
    from engine.deploy import deploy
    from tests.conftest import DATA

    xml = (DATA / "jp_kredit.bpmn").read_bytes().replace(b'id="kredit"', b'id="kredit_jp"')
    xml = xml.replace(b'targetRef="kredit"', b'targetRef="kredit_jp"')
    xml = xml.replace(b'sourceRef="kredit"', b'sourceRef="kredit_jp"')
    with pytest.raises(DeploymentRejected) as info:
        deploy(session, [("jp_kredit.bpmn", xml)], "pemilik1")
    assert str(info.value.problems[0]) == (
        "jp_kredit.bpmn: kredit_jp: the id 'kredit_jp' names both a BPMN element and a "
        "spiffworkflow:serviceTaskOperator inside it; rename one"
    )


def test_the_starter_is_in_the_data_and_cannot_be_forged(session: Session, pegawai: object) -> None:
    from engine.errors import InvalidInput

    inst = start_instance(session, "jp_kredit", pegawai, {"pegawai": "pegawai1", "jp": 2})  # type: ignore[arg-type]
    session.commit()
    assert Step(session, session.get(Instance, inst.id)).wf.data["starter"] == "pegawai1"  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="field name 'starter' is set by the engine"):
        start_instance(session, "jp_kredit", pegawai, {"starter": "admin1"})  # type: ignore[arg-type]


def test_an_enrolment_is_not_undone_by_a_second_request(session: Session, pegawai: object) -> None:
    from engine.errors import InvalidInput
    from engine.hr import Training, TrainingEnrolment
    from engine.models import utcnow
    from engine.services import ServiceContext, catat_pendaftaran, info_pelatihan

    session.add(
        Training(
            kode="T1",
            judul="Uji",
            jenis="teknis",
            jp=8,
            mulai=date(2026, 12, 1),
            selesai=date(2026, 12, 2),
            kuota=5,
            biaya=1000,
        )
    )
    session.flush()
    first = ServiceContext(session, 1, utcnow())
    catat_pendaftaran(first, "T1", "pegawai1", "terima")
    assert info_pelatihan(first, "T1", "pegawai1")["status_pendaftaran"] == "terima"
    second = ServiceContext(session, 2, utcnow())
    with pytest.raises(InvalidInput, match="already enrolled in T1"):
        catat_pendaftaran(second, "T1", "pegawai1", "tolak")
    assert session.scalar(select(TrainingEnrolment.status)) == "terima"
