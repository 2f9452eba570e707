"""The SKP process (workflows/penilaian_kinerja.bpmn), driven through its task forms."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine.errors import NotAllowed
from engine.hr import EmployeePredicate
from engine.models import Instance, TaskModel, User
from engine.runtime import Step, complete_task, start_instance
from forms.penilaian_kinerja import SusunRencana
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, submit

TAHUN = 2025
RENCANA = "Menyusun 12 laporan bulanan tepat waktu\nMenyelesaikan 40 verifikasi berkas"


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """The process deployed; an employee and her direct supervisor (atasan langsung)."""
    deploy_workflows(session, "predikat_kinerja.dmn", "penilaian_kinerja.bpmn")
    atasan = make_user(session, "atasan1", "pegawai")
    pegawai = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    lain = make_user(session, "pegawai2", "pegawai", supervisor="atasan1")
    return {"atasan": atasan, "pegawai": pegawai, "lain": lain}


def _start(session: Session, people: dict[str, User]) -> Instance:
    inst = start_instance(
        session, "penilaian_kinerja", people["pegawai"], {"pegawai": "pegawai1", "tahun": TAHUN}
    )
    session.commit()
    return inst


def _task_data(session: Session, task: TaskModel) -> dict[str, Any]:
    """The data a task's form would show (the workflow data at that task)."""
    inst = session.get(Instance, task.instance_id)
    assert inst is not None
    spiff_task = Step(session, inst).wf.get_task_from_id(UUID(task.spiff_task_id))
    return dict(spiff_task.data)


def _final_data(session: Session, inst: Instance) -> dict[str, Any]:
    session.refresh(inst)
    assert inst.state == "completed", (inst.state, inst.error_message)
    return dict(Step(session, inst).wf.data)


def _agree_plan(session: Session, inst: Instance, people: dict[str, User]) -> None:
    submit(
        session,
        only_task(session, inst.id, "susun_rencana"),
        people["pegawai"],
        {"target": RENCANA},
    )
    setuju = only_task(session, inst.id, "setujui_rencana")
    submit(session, setuju, people["atasan"], {"disetujui": "ya"})


def _evaluate_quarters(session: Session, inst: Instance, people: dict[str, User]) -> None:
    for quarter in range(1, 5):
        task = only_task(session, inst.id, "evaluasi_periodik")
        assert _task_data(session, task)["triwulan"] == quarter
        submit(
            session,
            task,
            people["atasan"],
            {
                "capaian": f"Capaian triwulan {quarter} sesuai rencana",
                "tindak_lanjut": "",
            },
        )


def _rate(
    session: Session, inst: Instance, people: dict[str, User], hasil: str, perilaku: str
) -> None:
    task = only_task(session, inst.id, "penilaian_tahunan")
    submit(session, task, people["atasan"], {"hasil_kerja": hasil, "perilaku": perilaku})


def test_happy_path_stores_the_predicate_and_the_employee_acknowledges_it(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people)
    plan = only_task(session, inst.id, "susun_rencana")
    assert plan.assignee_id == people["pegawai"].id
    assert plan.form_key == "penilaian_kinerja.susun_rencana"
    assert plan.due_at is not None
    _agree_plan(session, inst, people)
    _evaluate_quarters(session, inst, people)
    _rate(session, inst, people, "diatas", "diatas")

    ack = only_task(session, inst.id, "terima_predikat")
    assert ack.assignee_id == people["pegawai"].id
    assert _task_data(session, ack)["predikat"] == "Sangat Baik"
    row = session.get(EmployeePredicate, (people["pegawai"].id, TAHUN))
    assert row is not None
    assert (row.predikat, row.source_instance_id) == ("Sangat Baik", inst.id)

    submit(session, ack, people["pegawai"], {"tanggapan": "Terima kasih atas bimbingannya"})
    data = _final_data(session, inst)
    assert data["target"] == [
        "Menyusun 12 laporan bulanan tepat waktu",
        "Menyelesaikan 40 verifikasi berkas",
    ]
    assert [e["triwulan"] for e in data["riwayat_evaluasi"]] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("hasil", "perilaku", "predikat"),
    [
        ("sesuai", "sesuai", "Baik"),
        ("dibawah", "sesuai", "Butuh Perbaikan"),
        ("sesuai", "dibawah", "Kurang"),
    ],
)
def test_the_annual_rating_gives_the_predicate_of_the_decision_table(
    session: Session, people: dict[str, User], hasil: str, perilaku: str, predikat: str
) -> None:
    inst = _start(session, people)
    _agree_plan(session, inst, people)
    _evaluate_quarters(session, inst, people)
    _rate(session, inst, people, hasil, perilaku)
    stored = session.scalar(
        select(EmployeePredicate.predikat).where(
            EmployeePredicate.user_id == people["pegawai"].id, EmployeePredicate.tahun == TAHUN
        )
    )
    assert stored == predikat


def test_a_plan_sent_back_returns_to_the_employee_with_the_reason_and_can_be_revised(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people)
    submit(
        session,
        only_task(session, inst.id, "susun_rencana"),
        people["pegawai"],
        {"target": "Bekerja dengan baik"},
    )
    back = only_task(session, inst.id, "setujui_rencana")
    assert back.assignee_id == people["atasan"].id
    submit(
        session,
        back,
        people["atasan"],
        {
            "disetujui": "tidak",
            "alasan": "Target harus terukur (jumlah, waktu)",
        },
    )

    again = only_task(session, inst.id, "susun_rencana")
    shown = _task_data(session, again)
    assert shown["alasan"] == "Target harus terukur (jumlah, waktu)"
    assert shown["target"] == ["Bekerja dengan baik"]
    assert forms.form_class(again.form_key) is SusunRencana
    assert "Bekerja dengan baik</textarea>" in str(SusunRencana(initial=shown).target())
    _agree_plan(session, inst, people)
    only_task(session, inst.id, "evaluasi_periodik")


def test_periodic_evaluation_runs_once_per_quarter_then_asks_for_the_annual_rating(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people)
    _agree_plan(session, inst, people)
    first = only_task(session, inst.id, "evaluasi_periodik")
    assert first.assignee_id == people["atasan"].id
    assert first.due_at is not None
    assert 89 <= (first.due_at - first.created_at).days <= 92  # P3M: one quarter
    _evaluate_quarters(session, inst, people)
    task = only_task(session, inst.id, "penilaian_tahunan")
    assert task.assignee_id == people["atasan"].id
    history = _task_data(session, task)["riwayat_evaluasi"]
    assert [e["capaian"] for e in history] == [
        f"Capaian triwulan {q} sesuai rencana" for q in range(1, 5)
    ]


def test_only_the_direct_supervisor_may_agree_the_plan(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people)
    submit(
        session,
        only_task(session, inst.id, "susun_rencana"),
        people["pegawai"],
        {"target": RENCANA},
    )
    task = only_task(session, inst.id, "setujui_rencana")
    for outsider in (people["pegawai"], people["lain"]):
        with pytest.raises(NotAllowed):
            complete_task(session, task.id, outsider, {"disetujui": True})
        session.rollback()


def test_forms_refuse_an_empty_plan_a_return_without_reason_and_unknown_ratings(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people)
    plan = only_task(session, inst.id, "susun_rencana")
    assert "target" in form_errors(plan, {"target": " \n \n"})
    too_many = "\n".join(f"Target {n}" for n in range(1, 30))
    assert "target" in form_errors(plan, {"target": too_many})
    submit(session, plan, people["pegawai"], {"target": RENCANA})

    agree = only_task(session, inst.id, "setujui_rencana")
    assert "alasan" in form_errors(agree, {"disetujui": "tidak", "alasan": "  "})
    assert "disetujui" in form_errors(agree, {"disetujui": "mungkin"})
    submit(session, agree, people["atasan"], {"disetujui": "ya"})

    _evaluate_quarters(session, inst, people)
    rating = only_task(session, inst.id, "penilaian_tahunan")
    errors = form_errors(rating, {"hasil_kerja": "luar_biasa", "perilaku": ""})
    assert set(errors) == {"hasil_kerja", "perilaku"}
    _rate(session, inst, people, "diatas", "sesuai")
    only_task(session, inst.id, "terima_predikat")
