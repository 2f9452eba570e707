"""Mentoring (DOMAIN §3): request or assignment, mentor's answer, goals, sessions, evaluations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine.errors import InvalidInput
from engine.hr import Employee, MentoringRecord
from engine.models import TaskModel, User, utcnow
from engine.runtime import latest_version, start_instance
from engine.services import ServiceContext, catat_hasil_mentoring, riwayat_mentoring
from engine.timers import due_instances, fire_timers
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, open_tasks, submit, worker_pass
from tests.helpers import instance_data as data_of
from tests.helpers import stored_instance as instance

TODAY = date.today().isoformat()
GOALS = "Menyusun telaahan staf\nMemimpin rapat koordinasi"


@pytest.fixture
def org(session: Session) -> dict[str, User]:
    """A mentee under atasan1, two senior mentors, a junior colleague, an HR admin."""
    deploy_workflows(session, "mentoring.bpmn")
    people = {
        "atasan": make_user(session, "atasan1", "atasan"),
        "mentee": make_user(session, "mentee1", "pegawai", supervisor="atasan1"),
        "mentor": make_user(session, "mentor1", "pegawai"),
        "mentor2": make_user(session, "mentor2", "pegawai"),
        "junior": make_user(session, "junior1", "pegawai"),
        "admin": make_user(session, "bkpsdm1", "admin_bkpsdm"),
    }
    ranks = {"mentee": "III/a", "mentor": "IV/a", "mentor2": "III/d", "junior": "II/c"}
    for key, golongan in ranks.items():
        session.add(Employee(user_id=people[key].id, golongan=golongan))
    session.commit()
    return people


def task(session: Session, instance_id: int, element_id: str) -> TaskModel:
    """The open task of an element (several may be open after a parallel split)."""
    ids = [t["id"] for t in open_tasks(session, instance_id) if t["element_id"] == element_id]
    assert len(ids) == 1, [t["element_id"] for t in open_tasks(session, instance_id)]
    row = session.get(TaskModel, ids[0])
    assert row is not None
    return row


def assignee(session: Session, row: TaskModel) -> str | None:
    """The username a task is assigned to."""
    user = session.get(User, row.assignee_id) if row.assignee_id else None
    return user.username if user else None


def start_request(session: Session, org: dict[str, User], mentor: str = "mentor1") -> int:
    """The mentee asks for a mentor."""
    data = {"mentee": "mentee1", "mentor": mentor, "topik": "Kepemimpinan"}
    inst = start_instance(session, "mentoring", org["mentee"], data)
    session.commit()
    return inst.id


def accept_and_agree_goals(session: Session, org: dict[str, User], inst: int) -> None:
    """The mentor accepts, the mentee drafts goals, the mentor agrees."""
    submit(
        session, only_task(session, inst, "tanggapi_permintaan"), org["mentor"], {"bersedia": "ya"}
    )
    submit(session, only_task(session, inst, "susun_sasaran"), org["mentee"], {"sasaran": GOALS})
    submit(
        session,
        only_task(session, inst, "setujui_sasaran"),
        org["mentor"],
        {"sasaran_disetujui": True},
    )


def record_session(
    session: Session, org: dict[str, User], inst: int, topic: str, more: bool
) -> None:
    """The mentor records a session."""
    submit(
        session,
        task(session, inst, "catat_sesi"),
        org["mentor"],
        {"tanggal_sesi": TODAY, "topik_sesi": topic, "catatan_sesi": "Diskusi", "sesi_lagi": more},
    )


def evaluate(session: Session, org: dict[str, User], inst: int, phase: str) -> None:
    """Mentor and mentee evaluate (mid-term: kemajuan_tengah_*, final: capaian_akhir_*)."""
    score = "kemajuan_tengah" if phase == "tengah" else "capaian_akhir"
    evaluations = [t for t in open_tasks(session, inst) if t["element_id"].startswith("evaluasi")]
    assert sorted(t["element_id"] for t in evaluations) == [
        f"evaluasi_{phase}_mentee",
        f"evaluasi_{phase}_mentor",
    ]
    for who in ("mentor", "mentee"):
        row = task(session, inst, f"evaluasi_{phase}_{who}")
        assert assignee(session, row) == f"{who}1"
        data = {f"{score}_{who}": 4, f"catatan_{phase}_{who}": f"Catatan {who}"}
        submit(session, row, org[who], data)


def test_every_user_task_has_a_registered_form(session: Session, org: dict[str, User]) -> None:
    meta = latest_version(session, "mentoring").task_meta
    assert meta
    for element, info in meta.items():
        assert info["form_key"] == f"mentoring.{element}"
        assert forms.form_class(info["form_key"]) is not None, element


def test_request_runs_through_goals_sessions_evaluations_and_sign_off(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_request(session, org)
    answer = only_task(session, inst, "tanggapi_permintaan")
    assert (answer.role, assignee(session, answer)) == ("mentor", "mentor1")
    assert data_of(session, inst)["syarat_mentor"] == "memenuhi"
    submit(session, answer, org["mentor"], {"bersedia": "ya"})

    draft = only_task(session, inst, "susun_sasaran")
    assert assignee(session, draft) == "mentee1"
    assert form_errors(draft, {"sasaran": ""}) == {"sasaran": ["Isian ini wajib diisi."]}
    submit(session, draft, org["mentee"], {"sasaran": "Menyusun telaahan staf"})
    review = only_task(session, inst, "setujui_sasaran")
    assert "alasan" in form_errors(review, {"sasaran_disetujui": False})
    submit(
        session,
        review,
        org["mentor"],
        {"sasaran_disetujui": False, "alasan": "Tambahkan sasaran kepemimpinan"},
    )
    submit(session, only_task(session, inst, "susun_sasaran"), org["mentee"], {"sasaran": GOALS})
    submit(
        session,
        only_task(session, inst, "setujui_sasaran"),
        org["mentor"],
        {"sasaran_disetujui": True},
    )

    sesi = only_task(session, inst, "catat_sesi")
    assert assignee(session, sesi) == "mentor1"
    in_three_days = (date.today() + timedelta(days=3)).isoformat()
    assert "tanggal_sesi" in form_errors(
        sesi,
        {"tanggal_sesi": in_three_days, "topik_sesi": "x", "catatan_sesi": "x", "sesi_lagi": 1},
    )
    record_session(session, org, inst, "Perkenalan", more=True)
    record_session(session, org, inst, "Telaahan staf", more=False)
    evaluate(session, org, inst, "tengah")
    record_session(session, org, inst, "Rapat koordinasi", more=False)
    evaluate(session, org, inst, "akhir")

    sign_off = only_task(session, inst, "pengesahan_atasan")
    assert (sign_off.role, assignee(session, sign_off)) == ("atasan", "atasan1")
    submit(session, sign_off, org["atasan"], {"catatan_atasan": "Disahkan"})

    assert instance(session, inst).state == "completed"
    data = data_of(session, inst)
    assert data["sasaran"] == GOALS.splitlines()
    assert [(s["topik"], s["tahap"]) for s in data["daftar_sesi"]] == [
        ("Perkenalan", "awal"),
        ("Telaahan staf", "awal"),
        ("Rapat koordinasi", "lanjutan"),
    ]
    assert data["kemajuan_tengah_mentor"] == data["kemajuan_tengah_mentee"] == 4
    assert data["capaian_akhir_mentor"] == data["capaian_akhir_mentee"] == 4
    assert (data["golongan_mentee"], data["golongan_mentor"]) == ("III/a", "IV/a")

    # The signed-off result is on the mentee's record.
    record = session.scalars(select(MentoringRecord)).one()
    assert data["hasil_mentoring"] == {"id": record.id}
    assert (record.mentee_id, record.mentor_id, record.instance_id) == (
        org["mentee"].id,
        org["mentor"].id,
        inst,
    )
    assert (record.topik, record.tujuan, record.jumlah_sesi) == (
        "Kepemimpinan",
        GOALS.splitlines(),
        3,
    )
    assert (record.capaian_mentor, record.catatan_mentor) == (4, "Catatan mentor")
    assert (record.capaian_mentee, record.catatan_mentee) == (4, "Catatan mentee")
    assert (record.disetujui_atasan, record.catatan_atasan) == (True, "Disahkan")
    assert record.selesai_pada is not None
    history = riwayat_mentoring(ServiceContext(session, None, utcnow()), "mentee1")
    assert history == {
        "jumlah": 1,
        "terakhir": {"topik": "Kepemimpinan", "tanggal": record.selesai_pada.date().isoformat()},
    }


def test_declined_request_goes_back_to_admin_and_a_new_mentor_accepts(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_instance(
        session, "mentoring", org["admin"], {"mentee": "mentee1", "mentor": "mentor1"}
    )
    session.commit()
    answer = only_task(session, inst.id, "tanggapi_permintaan")
    assert form_errors(answer, {"bersedia": "tidak"}) == {"alasan": ["Isian ini wajib diisi."]}
    submit(session, answer, org["mentor"], {"bersedia": "tidak", "alasan": "Sedang tugas belajar"})

    pick = only_task(session, inst.id, "pilih_mentor")
    assert (pick.role, pick.assignee_id) == ("admin_bkpsdm", None)
    data = data_of(session, inst.id)
    assert data["mentor_menolak"] == ["mentor1"]
    assert "Sedang tugas belajar" in data["keterangan_syarat"]
    assert "mentor" in form_errors(pick, {"mentor": "Mentor Dua"})

    # Picking the mentor who declined is refused by the diagram: back to the admin.
    submit(session, pick, org["admin"], {"mentor": "mentor1"})
    pick = only_task(session, inst.id, "pilih_mentor")
    assert "sudah menolak" in data_of(session, inst.id)["keterangan_syarat"]

    submit(session, pick, org["admin"], {"mentor": "mentor2", "catatan_admin": "Pengganti"})
    answer = only_task(session, inst.id, "tanggapi_permintaan")
    assert assignee(session, answer) == "mentor2"
    submit(session, answer, org["mentor2"], {"bersedia": True})
    draft = only_task(session, inst.id, "susun_sasaran")
    assert assignee(session, draft) == "mentee1"
    assert data_of(session, inst.id)["mentee"] == "mentee1"  # the admin's form kept it


def test_a_mentor_of_lower_rank_is_sent_back_to_admin(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_request(session, org, mentor="junior1")
    pick = only_task(session, inst, "pilih_mentor")
    data = data_of(session, inst)
    assert data["syarat_mentor"] == "tidak_memenuhi"
    assert data["keterangan_syarat"] == (
        "Golongan mentor (II/c) harus lebih tinggi dari golongan mentee (III/a)."
    )
    submit(session, pick, org["admin"], {"mentor": "mentor1"})
    assert assignee(session, only_task(session, inst, "tanggapi_permintaan")) == "mentor1"


def test_a_request_naming_no_mentee_is_completed_by_admin(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_instance(session, "mentoring", org["mentee"], {"mentor": "mentor1"})
    session.commit()
    pick = only_task(session, inst.id, "pilih_mentor")
    assert data_of(session, inst.id)["keterangan_syarat"] == "Mentee dan mentor harus diisi."
    assert form_errors(pick, {"mentor": "mentee1", "mentee": "mentee1"}) == {
        "_form": [forms.gettext("The mentor must not be the mentee.")]
    }
    submit(session, pick, org["admin"], {"mentor": "mentor1", "mentee": "mentee1"})
    assert assignee(session, only_task(session, inst.id, "tanggapi_permintaan")) == "mentor1"


def test_a_reminder_goes_to_the_mentor_after_30_days_without_a_session(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_request(session, org)
    accept_and_agree_goals(session, org, inst)
    only_task(session, inst, "catat_sesi")
    waiting = instance(session, inst)
    assert waiting.next_timer_at is not None
    assert timedelta(days=29) < waiting.next_timer_at - utcnow() <= timedelta(days=30)
    assert due_instances(session, utcnow() + timedelta(days=29)) == []

    later = utcnow() + timedelta(days=31)
    assert due_instances(session, later) == [inst]
    assert worker_pass(session, later) == {inst: ["pengingat_30_hari"]}  # worker --once --now
    assert sorted(t["element_id"] for t in open_tasks(session, inst)) == [
        "catat_sesi",
        "tindak_lanjut_pengingat",
    ]
    # The cycle re-arms: the next reminder is due 30 days after the first.
    rearmed = instance(session, inst).next_timer_at
    assert rearmed is not None and rearmed - later > timedelta(days=28)
    reminder = task(session, inst, "tindak_lanjut_pengingat")
    assert assignee(session, reminder) == "mentor1"
    assert "rencana_sesi" in form_errors(reminder, {})
    plan = (date.today() + timedelta(days=33)).isoformat()
    submit(session, reminder, org["mentor"], {"rencana_sesi": plan})

    record_session(session, org, inst, "Sesi setelah pengingat", more=False)
    evaluate(session, org, inst, "tengah")
    assert only_task(session, inst, "catat_sesi").element_id == "catat_sesi"
    assert instance(session, inst).state == "running"


def test_an_unanswered_reminder_does_not_keep_the_finished_mentoring_open(
    session: Session, org: dict[str, User]
) -> None:
    inst = start_request(session, org)
    accept_and_agree_goals(session, org, inst)
    fire_timers(session, inst, utcnow() + timedelta(days=31))
    session.commit()
    reminder = task(session, inst, "tindak_lanjut_pengingat")

    record_session(session, org, inst, "Perkenalan", more=False)
    evaluate(session, org, inst, "tengah")
    record_session(session, org, inst, "Penutup", more=False)
    evaluate(session, org, inst, "akhir")
    submit(session, task(session, inst, "pengesahan_atasan"), org["atasan"], {})

    # "Mentoring selesai" ends the whole instance: the open reminder is withdrawn.
    assert instance(session, inst).state == "completed"
    assert open_tasks(session, inst) == []
    session.refresh(reminder)
    assert reminder.outcome == "cancelled"
    # A sign-off without notes still puts the result on the record.
    record = session.scalars(select(MentoringRecord)).one()
    assert (record.jumlah_sesi, record.disetujui_atasan, record.catatan_atasan) == (2, True, "")


def result_args(**changes: Any) -> dict[str, Any]:
    """Arguments for catat_hasil_mentoring, as the diagram passes them."""
    args: dict[str, Any] = {
        "mentee": "mentee1",
        "mentor": "mentor1",
        "topik": "Kepemimpinan",
        "tujuan": ["Menyusun telaahan staf"],
        "jumlah_sesi": 2,
        "evaluasi_mentor": {"capaian": 5, "catatan": "Baik", "rekomendasi": "Diklat PKA"},
        "evaluasi_mentee": {"capaian": 4, "catatan": "Bermanfaat"},
        "disetujui_atasan": True,
        "catatan_atasan": None,
    }
    args.update(changes)
    return args


def test_the_result_service_refuses_unknown_users_and_bad_values(
    session: Session, org: dict[str, User]
) -> None:
    ctx = ServiceContext(session, None, utcnow())
    with pytest.raises(InvalidInput, match="mentee 'nobody' is not a known user"):
        catat_hasil_mentoring(ctx, **result_args(mentee="nobody"))
    with pytest.raises(InvalidInput, match="mentor 'nobody' is not a known user"):
        catat_hasil_mentoring(ctx, **result_args(mentor="nobody"))
    with pytest.raises(InvalidInput, match="jumlah_sesi must be a whole number"):
        catat_hasil_mentoring(ctx, **result_args(jumlah_sesi="3"))
    with pytest.raises(InvalidInput, match=r"evaluasi_mentee.capaian must be a whole number"):
        catat_hasil_mentoring(ctx, **result_args(evaluasi_mentee={"capaian": 9}))
    with pytest.raises(InvalidInput, match="pegawai 'nobody' is not a known user"):
        riwayat_mentoring(ctx, "nobody")
    assert session.scalars(select(MentoringRecord)).all() == []


def test_the_mentoring_history_counts_records_and_names_the_latest(
    session: Session, org: dict[str, User]
) -> None:
    ctx = ServiceContext(session, None, utcnow())
    assert riwayat_mentoring(ctx, "mentee1") == {"jumlah": 0, "terakhir": None}
    first = catat_hasil_mentoring(
        ServiceContext(session, 101, utcnow() - timedelta(days=200)), **result_args(topik="Awal")
    )
    latest = catat_hasil_mentoring(
        ServiceContext(session, 102, utcnow()), **result_args(topik="Lanjutan")
    )
    assert first["id"] != latest["id"]
    record = session.get(MentoringRecord, latest["id"])
    assert record is not None and record.rekomendasi == "Diklat PKA"
    assert riwayat_mentoring(ctx, "mentee1") == {
        "jumlah": 2,
        "terakhir": {"topik": "Lanjutan", "tanggal": record.selesai_pada.date().isoformat()},
    }
    # Run again in the same instance, the service updates that instance's record.
    again = catat_hasil_mentoring(
        ServiceContext(session, 102, utcnow()), **result_args(topik="Lanjutan", jumlah_sesi=4)
    )
    assert again == latest
    assert riwayat_mentoring(ctx, "mentee1")["jumlah"] == 2
    assert riwayat_mentoring(ctx, "mentor1") == {"jumlah": 0, "terakhir": None}
