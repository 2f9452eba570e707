"""The promotion process (workflows/kenaikan_pangkat.bpmn), driven through its task forms."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.hr import DisciplinarySanction, Employee, EmployeePredicate
from engine.models import Instance, TaskModel, User, utcnow
from engine.runtime import Step, start_instance
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, submit

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
BERKAS = {
    "sk_pangkat_terakhir": ("sk_pangkat_III-b.pdf", PDF),
    "skp_tahun_lalu": ("skp_tahun_lalu.pdf", PDF),
    "skp_dua_tahun_lalu": ("skp_dua_tahun_lalu.jpg", JPEG),
}
TMT = "2026-04-01"
REGULER = {
    "pegawai": "pegawai1",
    "jenis": "reguler",
    "golongan_tujuan": "III/c",
    "perlu_ujian_dinas": False,
    "lulus_ujian_dinas": False,
}


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    """The process deployed; an employee in III/b for five years, rated Baik twice, and the
    Atasan, Verifikator, PPK and Admin BKPSDM who handle the proposal."""
    deploy_workflows(session, "kelayakan_kenaikan_pangkat.dmn", "kenaikan_pangkat.bpmn")
    users = {
        "atasan": make_user(session, "atasan1", "pegawai"),
        "pegawai": make_user(session, "pegawai1", "pegawai", supervisor="atasan1"),
        "verifikator": make_user(session, "verifikator1", "verifikator"),
        "ppk": make_user(session, "ppk1", "ppk"),
        "admin": make_user(session, "adminbkpsdm1", "admin_bkpsdm"),
    }
    pegawai = users["pegawai"]
    session.add(
        Employee(
            user_id=pegawai.id,
            nip="198703152010011002",
            golongan="III/b",
            tmt_golongan=date.today() - timedelta(days=5 * 366),
            pendidikan="S1",
        )
    )
    year = utcnow().year
    for tahun in (year - 1, year - 2):
        session.add(EmployeePredicate(user_id=pegawai.id, tahun=tahun, predikat="Baik"))
    session.commit()
    return users


def _start(session: Session, starter: User, **changes: Any) -> Instance:
    inst = start_instance(session, "kenaikan_pangkat", starter, REGULER | changes)
    session.commit()
    assert inst.state == "running", inst.error_message
    return inst


def _task_data(session: Session, task: TaskModel) -> dict[str, Any]:
    inst = session.get(Instance, task.instance_id)
    assert inst is not None
    spiff_task = Step(session, inst).wf.get_task_from_id(UUID(task.spiff_task_id))
    return dict(spiff_task.data)


def _ended(session: Session, inst: Instance) -> tuple[str, dict[str, Any]]:
    """The end event a completed instance reached, and its final data."""
    session.refresh(inst)
    assert inst.state == "completed", (inst.state, inst.error_message)
    wf = Step(session, inst).wf
    ends = [
        t.task_spec.bpmn_id
        for t in wf.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.__class__.__name__ == "EndEvent"
    ]
    assert len(ends) == 1, ends
    return ends[0], dict(wf.data)


def _employee(session: Session, user: User) -> Employee:
    session.expire_all()
    emp = session.get(Employee, user.id)
    assert emp is not None
    return emp


def _propose(session: Session, inst: Instance, people: dict[str, User]) -> None:
    task = only_task(session, inst.id, "usulkan_kenaikan")
    assert task.assignee_id == people["atasan"].id
    submit(session, task, people["atasan"], {"catatan": ""}, BERKAS)


def _to_ppk(session: Session, inst: Instance, people: dict[str, User]) -> None:
    _propose(session, inst, people)
    check = only_task(session, inst.id, "verifikasi_berkas")
    assert (check.role, check.assignee_id) == ("verifikator", None)
    submit(session, check, people["verifikator"], {"hasil_verifikasi": "MS"})


def _to_bkn(session: Session, inst: Instance, people: dict[str, User]) -> None:
    _to_ppk(session, inst, people)
    decide = only_task(session, inst.id, "persetujuan_ppk")
    assert decide.role == "ppk"
    submit(session, decide, people["ppk"], {"disetujui_ppk": "ya"})


def test_happy_path_records_the_new_rank_and_tmt_and_issues_the_decree(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["pegawai"])
    _to_bkn(session, inst, people)
    bkn = only_task(session, inst.id, "catat_pertimbangan_bkn")
    assert bkn.role == "admin_bkpsdm"
    submit(
        session,
        bkn,
        people["admin"],
        {
            "disetujui_bkn": "ya",
            "nomor_pertek": "PT-12345/KP/2026",
            "tanggal_pertek": "2026-03-10",
            "tmt": TMT,
        },
    )
    assert _employee(session, people["pegawai"]).golongan == "III/b"  # not before the SK

    sk = only_task(session, inst.id, "terbitkan_sk")
    submit(
        session,
        sk,
        people["admin"],
        {
            "nomor_sk": "800/123/BKPSDM/2026",
            "tanggal_sk": "2026-03-20",
        },
        {"dokumen_sk": ("sk_kenaikan_pangkat.pdf", PDF)},
    )

    end, data = _ended(session, inst)
    assert end == "selesai"
    emp = _employee(session, people["pegawai"])
    assert (emp.golongan, emp.tmt_golongan) == ("III/c", date(2026, 4, 1))
    assert data["pangkat_baru"] == {"golongan": "III/c", "tmt_golongan": TMT}
    assert data["sk_pangkat_terakhir"]["nama_file"] == "sk_pangkat_III-b.pdf"
    assert data["golongan_asal"] == "III/b"


def test_an_atasan_may_start_the_proposal_for_a_subordinate(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["atasan"])
    task = only_task(session, inst.id, "usulkan_kenaikan")
    assert task.assignee_id == people["atasan"].id
    assert _task_data(session, task)["layak"] is True


def _sanction(session: Session, people: dict[str, User]) -> dict[str, Any]:
    session.add(
        DisciplinarySanction(
            user_id=people["pegawai"].id,
            tingkat="sedang",
            mulai=date.today() - timedelta(days=30),
            selesai=date.today() + timedelta(days=300),
        )
    )
    return {}


def _predicate(offset: int, predikat: str) -> Any:
    def change(session: Session, people: dict[str, User]) -> dict[str, Any]:
        row = session.get(EmployeePredicate, (people["pegawai"].id, utcnow().year - offset))
        assert row is not None
        row.predikat = predikat
        return {}

    return change


def _recent_rank(session: Session, people: dict[str, User]) -> dict[str, Any]:
    emp = session.get(Employee, people["pegawai"].id)
    assert emp is not None
    emp.tmt_golongan = date.today() - timedelta(days=2 * 366)
    return {}


def _exam_needed(session: Session, people: dict[str, User]) -> dict[str, Any]:
    return {"golongan_tujuan": "III/a", "perlu_ujian_dinas": True, "lulus_ujian_dinas": False}


def _prestasi(session: Session, people: dict[str, User]) -> dict[str, Any]:
    return {"jenis": "prestasi"}


@pytest.mark.parametrize(
    ("arrange", "alasan"),
    [
        (_recent_rank, "Masa kerja dalam golongan kurang dari 4 tahun"),
        (_predicate(1, "Butuh Perbaikan"), "Predikat kinerja tahun lalu di bawah Baik"),
        (_predicate(2, "Kurang"), "Predikat kinerja dua tahun lalu di bawah Baik"),
        (_sanction, "Sedang/pernah dijatuhi hukuman disiplin"),
        (_exam_needed, "Belum lulus ujian dinas"),
        (_prestasi, "Predikat kinerja tahun lalu bukan Sangat Baik"),
    ],
    ids=[
        "masa_kerja",
        "predikat_tahun_lalu",
        "predikat_dua_tahun_lalu",
        "hukuman_disiplin",
        "ujian_dinas",
        "prestasi_tanpa_sangat_baik",
    ],
)
def test_promotion_ineligible_ends_without_a_proposal_and_keeps_the_reason(
    session: Session, people: dict[str, User], arrange: Any, alasan: str
) -> None:
    changes = arrange(session, people)
    session.commit()
    inst = _start(session, people["pegawai"], **changes)

    info = only_task(session, inst.id, "informasi_tidak_layak")
    assert info.assignee_id == people["atasan"].id
    shown = _task_data(session, info)
    assert (shown["layak"], shown["alasan"]) == (False, alasan)
    submit(
        session, info, people["atasan"], {"catatan": "Akan diusulkan kembali periode berikutnya"}
    )

    end, data = _ended(session, inst)
    assert (end, data["layak"], data["alasan"]) == ("tidak_layak", False, alasan)
    proposals = session.scalar(
        select(func.count())
        .select_from(TaskModel)
        .where(TaskModel.instance_id == inst.id, TaskModel.element_id == "usulkan_kenaikan")
    )
    assert proposals == 0
    assert _employee(session, people["pegawai"]).golongan == "III/b"


def test_verifikator_tms_returns_the_proposal_to_the_atasan_with_the_reason(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["pegawai"])
    _propose(session, inst, people)
    check = only_task(session, inst.id, "verifikasi_berkas")
    submit(
        session,
        check,
        people["verifikator"],
        {
            "hasil_verifikasi": "TMS",
            "alasan": "SKP dua tahun lalu belum ditandatangani pejabat penilai",
        },
    )

    again = only_task(session, inst.id, "usulkan_kenaikan")
    assert again.assignee_id == people["atasan"].id
    shown = _task_data(session, again)
    assert shown["alasan"] == "SKP dua tahun lalu belum ditandatangani pejabat penilai"
    _to_ppk(session, inst, people)
    only_task(session, inst.id, "persetujuan_ppk")


def test_ppk_rejection_ends_the_proposal_with_its_reason(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["pegawai"])
    _to_ppk(session, inst, people)
    submit(
        session,
        only_task(session, inst.id, "persetujuan_ppk"),
        people["ppk"],
        {
            "disetujui_ppk": "tidak",
            "alasan": "Formasi jabatan untuk golongan III/c belum tersedia",
        },
    )
    end, data = _ended(session, inst)
    assert (end, data["alasan"]) == (
        "ditolak_ppk",
        "Formasi jabatan untuk golongan III/c belum tersedia",
    )
    assert _employee(session, people["pegawai"]).golongan == "III/b"


def test_bkn_not_approving_ends_without_changing_the_rank(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["pegawai"])
    _to_bkn(session, inst, people)
    submit(
        session,
        only_task(session, inst.id, "catat_pertimbangan_bkn"),
        people["admin"],
        {
            "disetujui_bkn": "tidak",
            "nomor_pertek": "PT-12399/KP/2026",
            "tanggal_pertek": "2026-03-11",
            "alasan": "Ijazah belum terdaftar di PDDikti",
        },
    )
    end, data = _ended(session, inst)
    assert (end, data["nomor_pertek"]) == ("tidak_disetujui_bkn", "PT-12399/KP/2026")
    assert data["alasan"] == "Ijazah belum terdaftar di PDDikti"
    emp = _employee(session, people["pegawai"])
    assert (emp.golongan, emp.tmt_golongan) == ("III/b", date.today() - timedelta(days=5 * 366))


def test_forms_require_reasons_valid_choices_and_pdf_or_jpeg_documents_up_to_2_mb(
    session: Session, people: dict[str, User]
) -> None:
    inst = _start(session, people["pegawai"])
    propose = only_task(session, inst.id, "usulkan_kenaikan")
    assert set(form_errors(propose, {}, {})) >= set(BERKAS)
    wrong_type = BERKAS | {"skp_tahun_lalu": ("skp.pdf", b"PK\x03\x04 not a pdf")}
    assert set(form_errors(propose, {}, wrong_type)) == {"skp_tahun_lalu"}
    too_big = BERKAS | {"sk_pangkat_terakhir": ("sk.pdf", PDF + b"0" * (2 * 1024 * 1024))}
    assert set(form_errors(propose, {}, too_big)) == {"sk_pangkat_terakhir"}
    _propose(session, inst, people)

    check = only_task(session, inst.id, "verifikasi_berkas")
    assert set(form_errors(check, {"hasil_verifikasi": "TMS"})) == {"alasan"}
    assert set(form_errors(check, {"hasil_verifikasi": "OK"})) == {"hasil_verifikasi"}
    submit(session, check, people["verifikator"], {"hasil_verifikasi": "MS"})

    decide = only_task(session, inst.id, "persetujuan_ppk")
    assert set(form_errors(decide, {"disetujui_ppk": "tidak", "alasan": ""})) == {"alasan"}
    submit(session, decide, people["ppk"], {"disetujui_ppk": "ya"})

    bkn = only_task(session, inst.id, "catat_pertimbangan_bkn")
    approved = {"disetujui_bkn": "ya", "nomor_pertek": "PT-1", "tanggal_pertek": "2026-03-10"}
    assert set(form_errors(bkn, approved)) == {"tmt"}
    assert set(form_errors(bkn, approved | {"tmt": "1 April 2026"})) == {"tmt"}
    refused = {"disetujui_bkn": "tidak", "nomor_pertek": "PT-1", "tanggal_pertek": "2026-03-10"}
    assert set(form_errors(bkn, refused)) == {"alasan"}


NIP = "198703152010011002"  # pegawai1's NIP in the `people` fixture


def test_bkn_technical_approval_arrives_as_a_message_correlated_by_nip(
    session: Session, people: dict[str, User]
) -> None:
    from engine.messages import send_message

    other = _start(session, people["pegawai"])  # a second proposal, still before the PPK
    inst = _start(session, people["pegawai"])
    _to_bkn(session, inst, people)
    manual = only_task(session, inst.id, "catat_pertimbangan_bkn")
    pertek = {
        "disetujui": True,
        "nomor_pertek": "PT-777/KP/2026",
        "tanggal_pertek": "2026-03-10",
        "tmt": TMT,
    }
    sent = send_message(session, "pertimbangan_teknis_bkn", {"nip": NIP}, pertek, people["admin"])
    session.commit()
    assert sent.delivered == 1  # only the proposal waiting for BKN, not the other one
    session.refresh(manual)
    assert manual.outcome == "cancelled"  # the manual entry is no longer needed
    sk = only_task(session, inst.id, "terbitkan_sk")
    data = _task_data(session, sk)
    assert (data["disetujui_bkn"], data["nomor_pertek"], data["tmt"]) == (
        True,
        "PT-777/KP/2026",
        TMT,
    )
    assert only_task(session, other.id).element_id == "usulkan_kenaikan"


def test_a_bkn_message_without_tmt_stops_with_a_reason_an_admin_can_fix(
    session: Session, people: dict[str, User]
) -> None:
    from engine.messages import send_message

    inst = _start(session, people["pegawai"])
    _to_bkn(session, inst, people)
    send_message(
        session, "pertimbangan_teknis_bkn", {"nip": NIP}, {"disetujui": True}, people["admin"]
    )
    session.commit()
    session.refresh(inst)
    assert (inst.state, inst.error_element) == ("error", "salin_pertek_bkn")
    assert "tmt wajib diisi bila disetujui" in (inst.error_message or "")
