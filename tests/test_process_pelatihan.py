"""Training enrolment (pelatihan): request, supervisor, quota/budget decision, attendance, JP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import NotAllowed
from engine.hr import JpCredit, Training, TrainingBudget, TrainingEnrolment
from engine.models import Instance, TaskModel, User, utcnow
from engine.runtime import Step, start_instance
from engine.services import ServiceContext, data_pegawai
from engine.workdays import add_working_days
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, open_tasks, submit

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
KODE = "TEK-01"
JP = 24
BIAYA = 2_500_000


@pytest.fixture
def org(session: Session) -> dict[str, User]:
    """Two employees under atasan1, another supervisor, an HR admin; the training deployed."""
    deploy_workflows(session, "keputusan_pelatihan.dmn", "pelatihan.bpmn")
    return {
        "atasan": make_user(session, "atasan1", "atasan"),
        "atasan_lain": make_user(session, "atasan2", "atasan"),
        "pegawai": make_user(session, "pegawai1", "pegawai", supervisor="atasan1"),
        "pegawai2": make_user(session, "pegawai2", "pegawai", supervisor="atasan1"),
        "admin_bkpsdm": make_user(session, "bkpsdm1", "admin_bkpsdm"),
    }


def add_training(
    session: Session, kuota: int = 30, biaya: int = BIAYA, anggaran: int = 100_000_000
) -> Training:
    """A catalogue entry starting this year, and this year's training budget."""
    start = utcnow().date()
    training = Training(
        kode=KODE,
        judul="Analisis Data Kepegawaian",
        jenis="teknis",
        jp=JP,
        mulai=start,
        selesai=start + timedelta(days=3),
        kuota=kuota,
        biaya=biaya,
    )
    session.add(training)
    session.merge(TrainingBudget(tahun=start.year, total=anggaran))
    session.commit()
    return training


def credit_jp(session: Session, user: User, jp: int) -> None:
    """JP the employee already earned this year."""
    session.add(JpCredit(user_id=user.id, tahun=utcnow().date().year, jp=jp, keterangan="awal"))
    session.commit()


def status_of(session: Session, user: User) -> str | None:
    """The recorded enrolment status of a user in the training."""
    return session.scalar(
        select(TrainingEnrolment.status)
        .join(Training, Training.id == TrainingEnrolment.training_id)
        .where(Training.kode == KODE, TrainingEnrolment.user_id == user.id)
    )


def instance_data(session: Session, instance_id: int) -> dict[str, Any]:
    """The data of a finished instance."""
    session.expire_all()
    inst = session.get(Instance, instance_id)
    assert inst is not None
    return dict(Step(session, inst).wf.data)


def state_of(session: Session, instance_id: int) -> str:
    """The state of an instance, fresh from the database."""
    session.expire_all()
    inst = session.get(Instance, instance_id)
    assert inst is not None
    assert inst.state != "error", (inst.error_element, inst.error_message)
    return inst.state


def request(session: Session, user: User) -> int:
    """Start the process as the employee and submit the request form; the instance id."""
    inst = start_instance(session, "pelatihan", user, {"kode": KODE, "pegawai": user.username})
    session.commit()
    task = only_task(session, inst.id, "ajukan_pelatihan")
    submit(session, task, user, {"kode": KODE, "motivasi": "Mendukung tugas analisis data"})
    return inst.id


def approve(session: Session, instance_id: int, atasan: User) -> None:
    """The supervisor approves the request."""
    task = only_task(session, instance_id, "persetujuan_atasan")
    submit(session, task, atasan, {"disetujui": True, "alasan": ""})


def test_deploys_without_errors_or_warnings(session: Session) -> None:
    files = [
        (n, (WORKFLOWS / n).read_bytes()) for n in ("keputusan_pelatihan.dmn", "pelatihan.bpmn")
    ]
    result = deploy(session, files, "pemilik1")
    assert [str(w) for w in result.warnings] == []
    assert [(i.kind, i.key) for i in result.items] == [
        ("decision", "keputusan_pelatihan"),
        ("process", "pelatihan"),
    ]


def test_diagram_has_a_shape_for_every_node_and_an_edge_for_every_flow() -> None:
    tree = etree.parse(str(WORKFLOWS / "pelatihan.bpmn"))
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
        "di": "http://www.omg.org/spec/DD/20100524/DI",
    }
    process = tree.find("bpmn:process", ns)
    assert process is not None
    flows = {f.get("id") for f in process.iterfind("bpmn:sequenceFlow", ns)}
    nodes = {
        el.get("id")
        for el in process
        if el.tag.rsplit("}", 1)[-1] not in ("sequenceFlow", "laneSet", "documentation")
    }
    lanes = {lane.get("id") for lane in process.iterfind("bpmn:laneSet/bpmn:lane", ns)}
    participants = {p.get("id") for p in tree.iterfind(".//bpmn:participant", ns)}
    shapes = {s.get("bpmnElement") for s in tree.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {
        e.get("bpmnElement"): len(e.findall("di:waypoint", ns))
        for e in tree.iterfind(".//bpmndi:BPMNEdge", ns)
    }
    assert shapes == nodes | lanes | participants
    assert set(edges) == flows
    assert min(edges.values()) >= 2
    assert {lane.get("name") for lane in process.iterfind("bpmn:laneSet/bpmn:lane", ns)} == {
        "Pegawai",
        "Atasan",
        "Admin BKPSDM",
    }


def test_happy_path_enrols_records_attendance_and_credits_jp(
    session: Session, org: dict[str, User]
) -> None:
    add_training(session)
    pegawai, atasan = org["pegawai"], org["atasan"]
    inst = start_instance(session, "pelatihan", pegawai, {"kode": KODE, "pegawai": "pegawai1"})
    session.commit()
    ajukan = only_task(session, inst.id, "ajukan_pelatihan")
    assert (ajukan.form_key, ajukan.assignee_id) == ("pelatihan.ajukan_pelatihan", pegawai.id)
    submit(session, ajukan, pegawai, {"kode": KODE, "motivasi": "Mendukung analisis data"})
    assert status_of(session, pegawai) == "diminta"

    persetujuan = only_task(session, inst.id, "persetujuan_atasan")
    assert persetujuan.form_key == "pelatihan.persetujuan_atasan"
    assert persetujuan.assignee_id == atasan.id  # supervisor_of(starter)
    assert persetujuan.due_at is not None
    # due in 3 working days (the diagram's hari_kerja(3)), as its escalation timer is
    assert persetujuan.due_at == add_working_days(session, persetujuan.created_at, 3)
    submit(session, persetujuan, atasan, {"disetujui": True, "alasan": "Relevan dengan tugas"})
    assert status_of(session, pegawai) == "terima"

    kehadiran = only_task(session, inst.id, "catat_kehadiran")
    assert (kehadiran.form_key, kehadiran.role) == ("pelatihan.catat_kehadiran", "admin_bkpsdm")
    assert kehadiran.assignee_id is None
    submit(session, kehadiran, org["admin_bkpsdm"], {"kehadiran": "hadir"})
    assert status_of(session, pegawai) == "hadir"

    umpan_balik = only_task(session, inst.id, "isi_umpan_balik")
    assert umpan_balik.form_key == "pelatihan.isi_umpan_balik"
    assert umpan_balik.assignee_id == pegawai.id
    assert session.scalars(select(JpCredit)).all() == []  # not before the feedback
    scores = {"nilai_materi": 5, "nilai_metode": 4, "nilai_pengajar": 3}
    submit(session, umpan_balik, pegawai, {**scores, "komentar": "Praktis"})

    assert state_of(session, inst.id) == "completed"
    [credit] = session.scalars(select(JpCredit)).all()
    assert (credit.user_id, credit.jp, credit.tahun) == (pegawai.id, JP, utcnow().date().year)
    assert credit.source_instance_id == inst.id
    assert KODE in credit.keterangan
    record = data_pegawai(ServiceContext(session, None, utcnow()), "pegawai1")
    assert record["jp_tahun_ini"] == JP
    data = instance_data(session, inst.id)
    assert data["kredit"]["jp_tahun_ini"] == JP
    assert (data["keputusan"], data["catatan_atasan"]) == ("terima", "Relevan dengan tugas")
    assert {k: data[k] for k in scores} == scores


def test_supervisor_rejection_needs_a_reason_and_ends_with_tolak(
    session: Session, org: dict[str, User]
) -> None:
    add_training(session)
    pegawai, atasan = org["pegawai"], org["atasan"]
    instance_id = request(session, pegawai)
    task = only_task(session, instance_id, "persetujuan_atasan")

    assert form_errors(task, {"disetujui": False}) == {"alasan": ["Isian ini wajib diisi."]}
    assert "alasan" in form_errors(task, {"disetujui": False, "alasan": "   "})
    assert only_task(session, instance_id, "persetujuan_atasan").id == task.id  # still open

    submit(session, task, atasan, {"disetujui": False, "alasan": "Beban kerja sedang tinggi"})
    assert state_of(session, instance_id) == "completed"
    assert status_of(session, pegawai) == "tolak"
    assert instance_data(session, instance_id)["alasan"] == "Beban kerja sedang tinggi"
    assert open_tasks(session, instance_id) == []
    assert session.scalars(select(JpCredit)).all() == []


def test_full_quota_puts_the_request_on_the_waiting_list(
    session: Session, org: dict[str, User]
) -> None:
    training = add_training(session, kuota=1)
    session.add(
        TrainingEnrolment(training_id=training.id, user_id=org["pegawai2"].id, status="terima")
    )
    session.commit()
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])

    assert state_of(session, instance_id) == "completed"  # the waiting list ends the request
    assert status_of(session, org["pegawai"]) == "daftar_tunggu"
    data = instance_data(session, instance_id)
    assert (data["keputusan"], data["alasan"]) == ("daftar_tunggu", "Kuota penuh")


def test_short_budget_rejects_the_request(session: Session, org: dict[str, User]) -> None:
    add_training(session, biaya=BIAYA, anggaran=BIAYA - 1)
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])

    assert state_of(session, instance_id) == "completed"
    assert status_of(session, org["pegawai"]) == "tolak"
    data = instance_data(session, instance_id)
    assert (data["keputusan"], data["alasan"]) == ("tolak", "Anggaran tidak mencukupi")
    assert open_tasks(session, instance_id) == []


def test_employee_below_20_jp_gets_a_scarce_seat_and_one_at_20_waits(
    session: Session, org: dict[str, User]
) -> None:
    add_training(session, kuota=2)
    credit_jp(session, org["pegawai"], 8)
    credit_jp(session, org["pegawai2"], 20)
    below_20 = request(session, org["pegawai"])
    at_20 = request(session, org["pegawai2"])
    approve(session, at_20, org["atasan"])
    approve(session, below_20, org["atasan"])

    assert status_of(session, org["pegawai2"]) == "daftar_tunggu"
    assert status_of(session, org["pegawai"]) == "terima"
    assert only_task(session, below_20, "catat_kehadiran").role == "admin_bkpsdm"
    assert state_of(session, at_20) == "completed"
    assert instance_data(session, at_20)["alasan"].startswith("Kuota terbatas")


def test_absent_participant_gets_no_jp(session: Session, org: dict[str, User]) -> None:
    add_training(session)
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])
    task = only_task(session, instance_id, "catat_kehadiran")
    submit(session, task, org["admin_bkpsdm"], {"kehadiran": "tidak_hadir"})

    assert state_of(session, instance_id) == "completed"
    assert status_of(session, org["pegawai"]) == "tidak_hadir"
    assert session.scalars(select(JpCredit)).all() == []
    done = session.scalars(select(TaskModel.element_id).where(TaskModel.instance_id == instance_id))
    assert "isi_umpan_balik" not in set(done)


def test_only_the_supervisor_may_approve(session: Session, org: dict[str, User]) -> None:
    add_training(session)
    instance_id = request(session, org["pegawai"])
    task = only_task(session, instance_id, "persetujuan_atasan")
    for other in ("atasan_lain", "pegawai", "pegawai2", "admin_bkpsdm"):
        with pytest.raises(NotAllowed):
            submit(session, task, org[other], {"disetujui": True, "alasan": ""})
        session.rollback()
    approve(session, instance_id, org["atasan"])
    assert only_task(session, instance_id, "catat_kehadiran")


def test_only_the_participant_gives_feedback(session: Session, org: dict[str, User]) -> None:
    add_training(session)
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])
    task = only_task(session, instance_id, "catat_kehadiran")
    submit(session, task, org["admin_bkpsdm"], {"kehadiran": "hadir"})
    feedback = only_task(session, instance_id, "isi_umpan_balik")
    scores = {"nilai_materi": 4, "nilai_metode": 4, "nilai_pengajar": 4, "komentar": ""}
    with pytest.raises(NotAllowed):
        submit(session, feedback, org["pegawai2"], scores)
    session.rollback()
    assert session.scalars(select(JpCredit)).all() == []


def test_request_needs_a_training_code_and_a_motivation(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_instance(
        session, "pelatihan", org["pegawai"], {"kode": KODE, "pegawai": "pegawai1"}
    )
    session.commit()
    task = only_task(session, inst.id, "ajukan_pelatihan")
    errors = form_errors(task, {"kode": "  ", "motivasi": ""})
    assert set(errors) == {"kode", "motivasi"}
    assert errors["kode"] == ["Isian ini wajib diisi."]
    assert form_errors(task, {"kode": "X" * 33, "motivasi": "Perlu"}).keys() == {"kode"}
    assert form_errors(task, {"kode": KODE, "motivasi": "Perlu", "biaya": 0}).keys() == {"_form"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nilai_materi", 0),
        ("nilai_metode", 6),
        ("nilai_pengajar", -1),
        ("nilai_materi", 3.5),
        ("nilai_metode", "empat"),
        ("nilai_pengajar", None),
    ],
)
def test_feedback_scores_outside_1_to_5_are_refused(
    session: Session, org: dict[str, User], field: str, value: object
) -> None:
    add_training(session)
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])
    submit(
        session,
        only_task(session, instance_id, "catat_kehadiran"),
        org["admin_bkpsdm"],
        {"kehadiran": "hadir"},
    )
    task = only_task(session, instance_id, "isi_umpan_balik")
    scores: dict[str, object] = {"nilai_materi": 1, "nilai_metode": 5, "nilai_pengajar": 3}

    assert form_errors(task, scores) == {}
    assert set(form_errors(task, {**scores, field: value})) == {field}
    assert only_task(session, instance_id, "isi_umpan_balik").id == task.id
    assert session.scalars(select(JpCredit)).all() == []


def test_attendance_is_hadir_or_tidak_hadir(session: Session, org: dict[str, User]) -> None:
    add_training(session)
    instance_id = request(session, org["pegawai"])
    approve(session, instance_id, org["atasan"])
    task = only_task(session, instance_id, "catat_kehadiran")
    assert form_errors(task, {"kehadiran": "hadir"}) == {}
    assert form_errors(task, {"kehadiran": "tidak_hadir"}) == {}
    assert set(form_errors(task, {"kehadiran": "terlambat"})) == {"kehadiran"}
    assert set(form_errors(task, {})) == {"kehadiran"}
