"""CASN recruitment end to end: one `seleksi_formasi` and one `lamaran` per applicant, joined by
announcements correlated by formasi; timers close registration and objection windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine.deploy import deploy
from engine.models import Instance, User, utcnow
from engine.recruitment import Formasi, Lamaran
from engine.runtime import Step, start_instance
from engine.timers import fire_timers
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, open_tasks, submit, worker_pass

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
DATA = Path(__file__).parent / "data" / "rekrutmen"
FILES = ("skd_kelulusan.dmn", "bobot_nilai_akhir.dmn", "rekrutmen.bpmn")
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
KODE = "F-001"
NIK = "33720101019000"
# name, NIK digits, administrative check (None = MS, else the rejected KTP's reason), SKD, SKB
APPLICANTS = {
    "ani": ("Ani Lestari", "01", None, (100, 120, 200), "80"),  # SKD 420, final 78.545
    "budi": ("Budi Santoso", "02", None, (95, 115, 190), "85"),  # SKD 400, final 80.091
    "citra": ("Citra Dewi", "03", None, (90, 115, 195), "85"),  # SKD 400, final 80.091, TKP 195
    "dedi": ("Dedi Kurniawan", "04", None, (80, 100, 180), None),  # SKD 360: 4th, beyond 3 x 1
    "eka": ("Eka Putri", "05", None, (60, 110, 190), None),  # TWK 60 < 65: fails SKD
    "fajar": ("Fajar Nugroho", "06", "KTP tidak terbaca", None, None),  # TMS, no objection
    "gita": ("Gita Rahma", "07", "Ijazah belum dilegalisasi", (70, 90, 175), None),  # objects
}


@dataclass
class Selection:
    """A running selection: its users, the formasi instance and one instance per applicant."""

    users: dict[str, User]
    seleksi: int
    lamaran: dict[str, int] = field(default_factory=dict)


def documents() -> dict[str, tuple[str, bytes]]:
    """The four documents every application needs."""
    return {
        "ktp": ("ktp.pdf", PDF),
        "ijazah": ("ijazah.pdf", PDF),
        "transkrip": ("transkrip.pdf", PDF),
        "pas_foto": ("foto.jpg", JPEG),
    }


def state(session: Session, instance_id: int) -> str:
    """An instance's state, fresh; an instance in error fails the test with its reason."""
    session.expire_all()
    inst = session.get(Instance, instance_id)
    assert inst is not None
    assert inst.state != "error", (inst.error_element, inst.error_message)
    return inst.state


def ended_at(session: Session, instance_id: int) -> list[str]:
    """The end events a finished instance reached."""
    assert state(session, instance_id) == "completed"
    inst = session.get(Instance, instance_id)
    wf = Step(session, inst).wf
    return sorted(
        t.task_spec.bpmn_id
        for t in wf.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.__class__.__name__ == "EndEvent" and t.task_spec.bpmn_id
    )


def task_data(session: Session, instance_id: int, element: str) -> dict[str, Any]:
    """The data of the open task `element` of an instance."""
    inst = session.get(Instance, instance_id)
    [task] = Step(session, inst).wf.get_tasks(spec_name=element, state=TaskState.READY)
    return dict(task.data)


def lamaran_row(session: Session, name: str) -> Lamaran:
    """The application of an applicant of the scenario, fresh from the database."""
    session.expire_all()
    row = session.scalar(select(Lamaran).where(Lamaran.nik == NIK + APPLICANTS[name][1]))
    assert row is not None
    return row


def score_file(kind: str, names: list[str]) -> bytes:
    """The test centre's CSV for some applicants of the scenario (SKB: Excel's semicolons)."""
    rows = ["NIK,NAMA,TWK,TIU,TKP" if kind == "skd" else "NIK;NAMA;NILAI"]
    for name in names:
        full_name, digits, _, skd, skb = APPLICANTS[name]
        if kind == "skd":
            assert skd is not None
            rows.append(f"{NIK}{digits},{full_name},{','.join(map(str, skd))}")
        else:
            rows.append(f"{NIK}{digits};{full_name};{skb}")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def sel(session: Session) -> Selection:
    """Formasi F-001 (quota 1) open for registration; the committee, verifier, PPK, applicants."""
    deploy_workflows(session, *FILES)
    users = {
        "panitia": make_user(session, "panitia1", "panitia_seleksi"),
        "verifikator": make_user(session, "verifikator1", "verifikator"),
        "ppk": make_user(session, "ppk1", "ppk"),
    }
    users |= {name: make_user(session, name, "pelamar") for name in APPLICANTS}
    inst = start_formasi(session, users["panitia"])
    open_registration(session, inst.id, users["panitia"])
    assert state(session, inst.id) == "waiting"
    return Selection(users, inst.id)


def start_formasi(session: Session, starter: User) -> Instance:
    """The selection of formasi F-001 (quota 1, CPNS, S1) started and committed."""
    inst = start_instance(
        session,
        "seleksi_formasi",
        starter,
        {
            "formasi_id": KODE,
            "jabatan": "Analis Kepegawaian Ahli Pertama",
            "unit": "BKPSDM",
            "kuota": 1,
            "jenis_seleksi": "cpns",
            "pendidikan_min": "S1",
            "dokumen_wajib": [],
        },
        business_key=KODE,
    )
    session.commit()
    return inst


def open_registration(session: Session, instance_id: int, panitia: User) -> None:
    """The committee opens registration today for a week (tetapkan_jadwal)."""
    today = date.today()
    schedule = {"dibuka": today.isoformat(), "ditutup": (today + timedelta(days=7)).isoformat()}
    submit(session, only_task(session, instance_id, "tetapkan_jadwal"), panitia, schedule)


def apply(session: Session, sel: Selection, name: str) -> int:
    """The applicant registers for F-001 and uploads the documents; the lamaran instance id."""
    full_name, digits, *_ = APPLICANTS[name]
    data = {
        "formasi_id": KODE,
        "nik": NIK + digits,
        "nama": full_name,
        "jalur": "umum",
        "pendidikan": "S1",
    }
    inst = start_instance(session, "lamaran", sel.users[name], data, business_key=f"{KODE}/{name}")
    session.commit()
    task = only_task(session, inst.id, "unggah_dokumen")
    assert task.assignee_id == sel.users[name].id
    submit(session, task, sel.users[name], {}, documents())
    sel.lamaran[name] = inst.id
    return inst.id


def verify(session: Session, sel: Selection, name: str) -> None:
    """The verifier's administrative check: MS, or TMS with the applicant's KTP/ijazah reason."""
    reason = APPLICANTS[name][2]
    task = only_task(session, sel.lamaran[name], "verifikasi_administrasi")
    assert task.role == "verifikator"
    data: dict[str, Any] = {"memenuhi_syarat": reason is None}
    if reason:
        data["alasan_ktp" if "KTP" in reason else "alasan_ijazah"] = reason
    submit(session, task, sel.users["verifikator"], data)


def close_and_announce(session: Session, sel: Selection) -> None:
    """Registration closes at its date; the committee announces the administrative results."""
    assert fire_timers(session, sel.seleksi, utcnow() + timedelta(days=8)) == [
        "pendaftaran_ditutup"
    ]
    session.commit()
    task = only_task(session, sel.seleksi, "umumkan_administrasi")
    submit(session, task, sel.users["panitia"], {})


@pytest.fixture
def announced(session: Session, sel: Selection) -> Selection:
    """All seven applied and were checked; registration closed; the results are announced."""
    for name in APPLICANTS:
        apply(session, sel, name)
        verify(session, sel, name)
    close_and_announce(session, sel)
    return sel


def answer_objections(session: Session, sel: Selection) -> None:
    """Fajar lets the window pass; Gita objects and the committee accepts."""
    assert fire_timers(session, sel.lamaran["fajar"], utcnow() + timedelta(days=4)) == [
        "masa_sanggah_administrasi_berakhir"
    ]
    session.commit()
    task = only_task(session, sel.lamaran["gita"], "sanggah_administrasi")
    submit(
        session,
        task,
        sel.users["gita"],
        {"ajukan_sanggah": True, "alasan_sanggah": "Ijazah sudah dilegalisasi, lihat halaman 2."},
    )
    task = only_task(session, sel.lamaran["gita"], "jawab_sanggah_administrasi")
    submit(
        session,
        task,
        sel.users["panitia"],
        {"sanggah_diterima": True, "jawaban_sanggah": "Legalisasi ada di halaman 2."},
    )


def upload(session: Session, sel: Selection, kind: str, content: bytes) -> None:
    """The committee uploads a score file through the task's form."""
    element = f"unggah_nilai_{kind}"
    task = only_task(session, sel.seleksi, element)
    submit(session, task, sel.users["panitia"], {}, {f"berkas_{kind}": (f"{kind}.csv", content)})


def through_skd(session: Session, sel: Selection) -> None:
    """Objections answered, SKD scores imported, passing rule and shortlist announced."""
    answer_objections(session, sel)
    upload(session, sel, "skd", score_file("skd", ["ani", "budi", "citra", "dedi", "eka", "gita"]))


def through_final(session: Session, sel: Selection) -> None:
    """SKB scores imported, the PPK approves: the final results are announced."""
    through_skd(session, sel)
    upload(session, sel, "skb", score_file("skb", ["ani", "budi", "citra"]))
    task = only_task(session, sel.seleksi, "persetujuan_hasil")
    assert task.role == "ppk" and task.due_at is not None
    submit(session, task, sel.users["ppk"], {"hasil_disetujui": True})


# -- the diagram -----------------------------------------------------------------------------


def test_deploys_without_errors_or_warnings_and_every_user_task_has_a_form(
    session: Session,
) -> None:
    result = deploy(session, [(n, (WORKFLOWS / n).read_bytes()) for n in FILES], "pemilik1")
    assert [str(w) for w in result.warnings] == []
    assert [(i.kind, i.key) for i in result.items][-2:] == [
        ("process", "seleksi_formasi"),
        ("process", "lamaran"),
    ]
    tree = etree.parse(str(WORKFLOWS / "rekrutmen.bpmn"))
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    for task in tree.iterfind(".//bpmn:userTask", ns):
        [key] = task.xpath(".//*[local-name()='property'][@name='formKey']/@value")
        assert forms.form_class(key) is not None, key


def test_diagram_has_a_shape_for_every_element_and_an_edge_for_every_flow() -> None:
    tree = etree.parse(str(WORKFLOWS / "rekrutmen.bpmn"))
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
        "di": "http://www.omg.org/spec/DD/20100524/DI",
    }
    nodes, flows = set(), set()
    for process in tree.iterfind("bpmn:process", ns):
        for el in process:
            kind = etree.QName(el).localname
            if kind == "sequenceFlow":
                flows.add(el.get("id"))
            elif kind not in ("laneSet", "documentation"):
                nodes.add(el.get("id"))
    lanes = {lane.get("id") for lane in tree.iterfind(".//bpmn:lane", ns)}
    participants = {p.get("id") for p in tree.iterfind(".//bpmn:participant", ns)}
    message_flows = {m.get("id") for m in tree.iterfind(".//bpmn:messageFlow", ns)}
    shapes = {s.get("bpmnElement") for s in tree.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {
        e.get("bpmnElement"): len(e.findall("di:waypoint", ns))
        for e in tree.iterfind(".//bpmndi:BPMNEdge", ns)
    }
    assert len(participants) == 2 and len(message_flows) == 3
    assert shapes == nodes | lanes | participants
    assert set(edges) == flows | message_flows
    assert min(edges.values()) >= 2


# -- registration ----------------------------------------------------------------------------


def test_registration_gives_a_number_and_refuses_a_second_application_by_the_same_nik(
    session: Session, sel: Selection
) -> None:
    apply(session, sel, "ani")
    assert lamaran_row(session, "ani").nomor_peserta == "F-001-00001"
    again = start_instance(
        session,
        "lamaran",
        sel.users["budi"],
        {
            "formasi_id": KODE,
            "nik": NIK + "01",
            "nama": "Ani L.",
            "jalur": "umum",
            "pendidikan": "S1",
        },
    )
    session.commit()
    assert again.state == "error" and again.error_element == "catat_lamaran"
    assert f"NIK {NIK}01 sudah terdaftar pada formasi F-001" in (again.error_message or "")
    assert open_tasks(session, again.id) == []


def test_documents_are_checked_by_their_content(session: Session, sel: Selection) -> None:
    inst = start_instance(
        session,
        "lamaran",
        sel.users["ani"],
        {"formasi_id": KODE, "nik": NIK + "01", "nama": "Ani", "jalur": "umum", "pendidikan": "S1"},
    )
    session.commit()
    task = only_task(session, inst.id, "unggah_dokumen")
    files = documents() | {"pas_foto": ("foto.jpg", PDF)}
    assert list(form_errors(task, {}, files)) == ["pas_foto"]


def test_an_application_without_documents_is_cancelled_when_registration_closes(
    session: Session, sel: Selection
) -> None:
    inst = start_instance(
        session,
        "lamaran",
        sel.users["ani"],
        {"formasi_id": KODE, "nik": NIK + "01", "nama": "Ani", "jalur": "umum", "pendidikan": "S1"},
    )
    session.commit()
    assert fire_timers(session, inst.id, utcnow() + timedelta(days=8)) == ["batas_pendaftaran"]
    session.commit()
    assert ended_at(session, inst.id) == ["lamaran_tidak_lengkap"]
    row = lamaran_row(session, "ani")
    assert (row.status, row.nik_aktif) == ("batal", None)


def test_results_are_announced_only_after_every_application_is_checked(
    session: Session, sel: Selection
) -> None:
    apply(session, sel, "ani")
    apply(session, sel, "budi")
    verify(session, sel, "ani")
    close_and_announce(session, sel)
    task = only_task(session, sel.seleksi, "umumkan_administrasi")  # back: Budi is unchecked
    assert (
        task_data(session, sel.seleksi, "umumkan_administrasi")["rekap_administrasi"][
            "belum_diverifikasi"
        ]
        == 1
    )
    assert [t["element_id"] for t in open_tasks(session, sel.lamaran["ani"])] == []
    verify(session, sel, "budi")
    submit(session, task, sel.users["panitia"], {})
    assert only_task(session, sel.seleksi, "unggah_nilai_skd")
    for name in ("ani", "budi"):
        assert "tunggu_pengumuman_skd" in {
            t.task_spec.bpmn_id
            for t in Step(session, session.get(Instance, sel.lamaran[name])).wf.get_tasks(
                state=TaskState.WAITING
            )
        }


# -- objections after the administrative check -----------------------------------------------


def test_tms_without_objection_ends_when_the_three_day_window_closes(
    session: Session, announced: Selection
) -> None:
    fajar = announced.lamaran["fajar"]
    task = only_task(session, fajar, "sanggah_administrasi")
    assert task.assignee_id == announced.users["fajar"].id and task.due_at is not None
    assert task_data(session, fajar, "sanggah_administrasi")["verifikasi"]["alasan"] == {
        "ktp": "KTP tidak terbaca"
    }
    # What `jenjang worker --once --now` does: nothing after 2 days, the window closes after 4.
    assert fajar not in worker_pass(session, utcnow() + timedelta(days=2))
    fired = worker_pass(session, utcnow() + timedelta(days=4))
    assert fired[fajar] == ["masa_sanggah_administrasi_berakhir"]
    assert ended_at(session, fajar) == ["tidak_memenuhi_syarat"]
    assert lamaran_row(session, "fajar").status == "tms"


def test_an_accepted_objection_brings_the_applicant_back_into_the_selection(
    session: Session, announced: Selection
) -> None:
    gita = announced.lamaran["gita"]
    task = only_task(session, gita, "sanggah_administrasi")
    assert list(form_errors(task, {"ajukan_sanggah": True})) == ["alasan_sanggah"]
    submit(
        session,
        task,
        announced.users["gita"],
        {"ajukan_sanggah": True, "alasan_sanggah": "Sudah dilegalisasi."},
    )
    assert lamaran_row(session, "gita").status == "sanggah"
    # Fajar's window is open and Gita's objection waits: an SKD import now is refused, since an
    # objection accepted after the SKD announcement would never receive it.
    upload(session, announced, "skd", score_file("skd", ["ani"]))
    assert task_data(session, announced.seleksi, "unggah_nilai_skd")["hasil_impor_skd"][
        "kesalahan"
    ] == ["baris 1: 2 lamaran TMS masih dalam masa sanggah atau menunggu jawaban sanggah"]
    answer = only_task(session, gita, "jawab_sanggah_administrasi")
    assert answer.role == "panitia_seleksi" and answer.due_at is not None
    assert list(form_errors(answer, {"sanggah_diterima": True})) == ["jawaban_sanggah"]
    submit(
        session,
        answer,
        announced.users["panitia"],
        {"sanggah_diterima": True, "jawaban_sanggah": "Diterima."},
    )
    row = lamaran_row(session, "gita")
    assert (row.status, row.alasan_tms) == ("ms", None)
    assert state(session, gita) == "waiting"  # now waits for the SKD announcement like the others


def test_a_rejected_objection_keeps_tms_and_ends(session: Session, announced: Selection) -> None:
    gita = announced.lamaran["gita"]
    submit(
        session,
        only_task(session, gita, "sanggah_administrasi"),
        announced.users["gita"],
        {"ajukan_sanggah": True, "alasan_sanggah": "Mohon ditinjau."},
    )
    submit(
        session,
        only_task(session, gita, "jawab_sanggah_administrasi"),
        announced.users["panitia"],
        {"sanggah_diterima": False, "jawaban_sanggah": "Legalisasi tidak ada."},
    )
    assert ended_at(session, gita) == ["sanggah_ditolak"]
    row = lamaran_row(session, "gita")
    assert row.status == "tms"
    assert row.alasan_tms == {
        "ijazah": "Ijazah belum dilegalisasi",
        "jawaban_sanggah": "Legalisasi tidak ada.",
    }


# -- SKD -------------------------------------------------------------------------------------


def test_an_invalid_score_file_sends_the_committee_back_with_the_line_errors(
    session: Session, announced: Selection
) -> None:
    answer_objections(session, announced)
    bad = (
        score_file("skd", ["ani"]) + f"{NIK}06,Fajar,80,90,170\n{NIK}02,Budi,95,115,300\n".encode()
    )
    task = only_task(session, announced.seleksi, "unggah_nilai_skd")
    assert list(form_errors(task, {}, {"berkas_skd": ("skd.csv", b"NIK,TWK\n1,2\n")})) == [
        "berkas_skd"
    ]
    upload(session, announced, "skd", bad)
    result = task_data(session, announced.seleksi, "unggah_nilai_skd")["hasil_impor_skd"]
    assert (result["valid"], result["diterapkan"]) == (False, False)
    assert result["kesalahan"] == [
        f"baris 3: NIK {NIK}06 bukan peserta SKD formasi F-001 (status: tms)",
        "baris 4: nilai TKP 300 di luar rentang 45–225",
    ]
    assert lamaran_row(session, "ani").skd_total is None  # line 2 was fine, yet nothing is stored


def test_failing_skd_or_missing_the_three_times_quota_shortlist_ends_the_application(
    session: Session, announced: Selection
) -> None:
    through_skd(session, announced)
    assert only_task(session, announced.seleksi, "unggah_nilai_skb")
    # Quota 1: at most 3 go to SKB. Ani 420, Citra and Budi 400 (Citra's TKP first), Dedi 360
    # and Gita 335 passed SKD but are beyond the three places; Eka's TWK 60 fails.
    ranks = {
        n: (lamaran_row(session, n).peringkat_skd, lamaran_row(session, n).masuk_skb)
        for n in ("ani", "citra", "budi", "dedi", "gita", "eka")
    }
    assert ranks == {
        "ani": (1, True),
        "citra": (2, True),
        "budi": (3, True),
        "dedi": (4, False),
        "gita": (5, False),
        "eka": (None, False),
    }
    eka = lamaran_row(session, "eka")
    assert (eka.skd_lulus, eka.skd_alasan) == (False, "Nilai TWK di bawah ambang batas 65")
    for name in ("dedi", "gita", "eka"):
        assert ended_at(session, announced.lamaran[name]) == ["tidak_lulus_skd"], name
    for name in ("ani", "citra", "budi"):
        assert state(session, announced.lamaran[name]) == "waiting"


# -- final result ----------------------------------------------------------------------------


def test_final_ranking_breaks_a_tie_by_tkp_and_only_the_quota_passes(
    session: Session, announced: Selection
) -> None:
    through_final(session, announced)
    # Budi and Citra: 400/550 x 40 + 85/100 x 60 = 80.091; Citra's TKP 195 beats Budi's 190.
    final = {
        n: (
            lamaran_row(session, n).nilai_akhir,
            lamaran_row(session, n).peringkat_akhir,
            lamaran_row(session, n).lulus_akhir,
        )
        for n in ("citra", "budi", "ani")
    }
    assert final == {
        "citra": (80.091, 1, True),
        "budi": (80.091, 2, False),
        "ani": (78.545, 3, False),
    }
    assert ended_at(session, announced.seleksi) == ["seleksi_selesai"]
    formasi = session.scalars(select(Formasi)).one()
    assert formasi.status == "selesai"
    for name in ("ani", "budi", "citra"):
        assert only_task(session, announced.lamaran[name], "sanggah_hasil_akhir")
        assert (
            task_data(session, announced.lamaran[name], "sanggah_hasil_akhir")["hasil"][
                "nilai_akhir"
            ]
            == final[name][0]
        )


def test_ppk_rejection_sends_the_committee_back_to_the_skb_scores(
    session: Session, announced: Selection
) -> None:
    through_skd(session, announced)
    upload(session, announced, "skb", score_file("skb", ["ani", "budi", "citra"]))
    task = only_task(session, announced.seleksi, "persetujuan_hasil")
    assert list(form_errors(task, {"hasil_disetujui": False})) == ["alasan_hasil"]
    submit(
        session,
        task,
        announced.users["ppk"],
        {"hasil_disetujui": False, "alasan_hasil": "Nilai SKB Ani belum termasuk wawancara."},
    )
    assert only_task(session, announced.seleksi, "unggah_nilai_skb")


def test_happy_path_to_the_approved_nip_proposal(session: Session, announced: Selection) -> None:
    through_final(session, announced)
    users, ids = announced.users, announced.lamaran
    # Final objection window: Ani lets it pass, Budi objects and is answered, Citra does not.
    assert fire_timers(session, ids["ani"], utcnow() + timedelta(days=4)) == [
        "masa_sanggah_akhir_berakhir"
    ]
    session.commit()
    submit(
        session,
        only_task(session, ids["budi"], "sanggah_hasil_akhir"),
        users["budi"],
        {"ajukan_sanggah_akhir": True, "alasan_sanggah_akhir": "Nilai TKP saya 195."},
    )
    submit(
        session,
        only_task(session, ids["budi"], "jawab_sanggah_akhir"),
        users["panitia"],
        {
            "sanggah_akhir_diterima": False,
            "jawaban_sanggah_akhir": "Nilai TKP 190 sesuai berita acara.",
        },
    )
    submit(
        session,
        only_task(session, ids["citra"], "sanggah_hasil_akhir"),
        users["citra"],
        {"ajukan_sanggah_akhir": False},
    )
    assert ended_at(session, ids["ani"]) == ["tidak_lulus"]
    assert ended_at(session, ids["budi"]) == ["tidak_lulus"]
    # Citra passed: final documents, sent back once by the verifier, then the PPK approves.
    citra = ids["citra"]
    task = only_task(session, citra, "dokumen_pemberkasan")
    assert task.assignee_id == users["citra"].id and task.due_at is not None
    assert task.due_at - utcnow() > timedelta(days=13)
    final_documents = {"drh": ("drh.pdf", PDF), "surat_pernyataan": ("pernyataan.pdf", PDF)}
    submit(session, task, users["citra"], {}, final_documents)
    submit(
        session,
        only_task(session, citra, "verifikasi_pemberkasan"),
        users["verifikator"],
        {
            "pemberkasan_lengkap": False,
            "alasan_pemberkasan": "Surat pernyataan belum ditandatangani.",
        },
    )
    task = only_task(session, citra, "dokumen_pemberkasan")
    assert (
        task_data(session, citra, "dokumen_pemberkasan")["alasan_pemberkasan"]
        == "Surat pernyataan belum ditandatangani."
    )
    submit(session, task, users["citra"], {}, final_documents)
    submit(
        session,
        only_task(session, citra, "verifikasi_pemberkasan"),
        users["verifikator"],
        {"pemberkasan_lengkap": True},
    )
    task = only_task(session, citra, "persetujuan_usul_nip")
    assert task.role == "ppk"
    submit(session, task, users["ppk"], {"usul_nip_disetujui": True})
    assert ended_at(session, citra) == ["usul_nip_disetujui"]
    row = lamaran_row(session, "citra")
    assert (row.status, row.lulus_akhir, row.nik_aktif) == ("usul_nip", True, None)
