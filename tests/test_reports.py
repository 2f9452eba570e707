"""Report figures against a hand-built dataset whose answers are known (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import audit
from engine.announcements import HEADER, latest, parse_line, publish
from engine.deploy import deploy
from engine.errors import InvalidInput, NotAllowed
from engine.hr import (
    DisciplinarySanction,
    Employee,
    EmployeePredicate,
    JpCredit,
    Training,
    TrainingEnrolment,
)
from engine.models import Instance, ProcessVersion, SourceFile, TaskModel, User
from engine.recruitment import Formasi, Lamaran, get_formasi
from engine.reports import (
    OBJECTION_ANSWER_FORM,
    heatmap,
    overdue_tasks,
    percentile,
    recruitment_funnel,
    slowest_open,
    task_durations,
)
from engine.reports_hr import (
    FEEDBACK_FORM,
    predicate_distribution,
    promotion_eligible,
    training_feedback,
    training_hours,
    training_requests,
)
from tests.conftest import make_user

NOW = datetime(2026, 6, 1, 12, 0, 0)
HOUR = timedelta(hours=1)
WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


def version(session: Session, key: str = "lamaran", number: int = 1) -> ProcessVersion:
    """A deployed process version (only what the reports read)."""
    source = SourceFile(
        sha256=uuid.uuid4().hex + uuid.uuid4().hex,
        name=f"{key}.bpmn",
        kind="bpmn",
        content=f'<definitions id="{key}"/>',
    )
    session.add(source)
    session.flush()
    pv = ProcessVersion(
        key=key,
        version=number,
        name=key.title(),
        sha256=source.sha256,
        dialect="spiff",
        source_id=source.id,
        spec_json="{}",
        task_meta={},
        dependencies={"decisions": {"bobot_nilai_akhir": 2}, "processes": []},
        warnings=[],
        deployed_by="pemilik1",
    )
    session.add(pv)
    session.flush()
    return pv


def instance(session: Session, pv: ProcessVersion) -> Instance:
    """A running instance of a version."""
    row = Instance(
        process_version_id=pv.id,
        process_key=pv.key,
        state="running",
        workflow_state=b"",
        started_at=NOW - 100 * HOUR,
    )
    session.add(row)
    session.flush()
    return row


def task(
    session: Session,
    inst: Instance,
    element: str,
    created: datetime,
    completed: datetime | None = None,
    **fields: Any,
) -> TaskModel:
    """A task row of an instance."""
    row = TaskModel(
        instance_id=inst.id,
        spiff_task_id=str(uuid.uuid4()),
        element_id=element,
        name=element.replace("_", " ").title(),
        process_key=inst.process_key,
        business_key=fields.pop("business_key", None),
        created_at=created,
        completed_at=completed,
        outcome=fields.pop("outcome", "completed" if completed else None),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def formasi(session: Session, kode: str, status: str = "skb", **fields: Any) -> Formasi:
    """A formasi."""
    row = Formasi(
        kode=kode,
        jabatan=f"Jabatan {kode}",
        kuota=1,
        jenis_seleksi="cpns",
        dokumen_wajib=[],
        status=status,
        versi_aturan={"skd_kelulusan": 3},
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def lamaran(
    session: Session, f: Formasi, n: int, pendidikan: str, status: str, **fields: Any
) -> Lamaran:
    """An application numbered n in formasi f."""
    row = Lamaran(
        formasi_id=f.id,
        nik=f"33720101019900{n:02d}",
        nama=f"Pelamar Rahasia {n}",
        nomor_peserta=f"{f.kode}-{n:05d}",
        jalur="umum",
        pendidikan=pendidikan,
        status=status,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def funnel_data(session: Session) -> Session:
    """Seven applications in two formasi, two with an objection (one accepted)."""
    pv = version(session)
    f1, f2 = formasi(session, "F-1"), formasi(session, "F-2")
    passed = {"skd_lulus": True, "masuk_skb": True}
    lamaran(session, f1, 1, "S1", "usul_nip", **passed, lulus_akhir=True)
    lamaran(session, f1, 2, "S1", "ms", **passed, lulus_akhir=False)
    for n, status in ((3, "ms"), (4, "tms")):  # both objected; 3's objection was accepted
        inst = instance(session, pv)
        lamaran(session, f1, n, "D3", status, instance_id=inst.id, skd_lulus=False)
        task(session, inst, "jawab", NOW - HOUR, NOW, form_key=OBJECTION_ANSWER_FORM)
    other = instance(session, pv)  # a task of another form does not count as an objection
    lamaran(session, f1, 5, "S1", "tms", instance_id=other.id)
    task(session, other, "verifikasi", NOW - HOUR, NOW, form_key="lamaran.verifikasi")
    lamaran(session, f2, 1, "S1", "batal")
    lamaran(session, f2, 2, "S2", "ms", skd_lulus=True, masuk_skb=False)
    session.commit()
    return session


def test_the_funnel_counts_every_stage_overall_per_formasi_and_per_education(
    funnel_data: Session,
) -> None:
    report = recruitment_funnel(funnel_data)
    overall = report["keseluruhan"]["jumlah"]
    assert overall == {
        "terdaftar": 7,
        "memenuhi_syarat": 4,
        "sanggah_diajukan": 2,
        "sanggah_diterima": 1,
        "lulus_skd": 3,
        "ikut_skb": 2,
        "lulus_akhir": 1,
        "diangkat": 1,
    }
    assert report["keseluruhan"]["persen"]["memenuhi_syarat"] == 57.1
    by_formasi = {row["formasi"]: row["jumlah"] for row in report["per_formasi"]}
    assert list(by_formasi["F-1"].values()) == [5, 3, 2, 1, 2, 2, 1, 1]
    assert list(by_formasi["F-2"].values()) == [2, 1, 0, 0, 1, 0, 0, 0]
    by_level = {row["pendidikan"]: row["jumlah"] for row in report["per_pendidikan"]}
    assert list(by_level["D3"].values()) == [2, 1, 2, 1, 0, 0, 0, 0]
    assert by_level["S1"]["terdaftar"] == 4 and by_level["S2"]["lulus_skd"] == 1


def test_the_funnel_of_one_formasi_and_an_unknown_one(funnel_data: Session) -> None:
    report = recruitment_funnel(funnel_data, "F-2")
    assert report["keseluruhan"]["jumlah"]["terdaftar"] == 2
    assert [r["formasi"] for r in report["per_formasi"]] == ["F-2"]
    with pytest.raises(InvalidInput, match="formasi: 'F-9' tidak ada"):
        recruitment_funnel(funnel_data, "F-9")


def test_percentile_interpolates_like_postgresql() -> None:
    assert percentile([1, 2, 4, 10], 0.5) == 3
    assert percentile([1, 2, 4, 10], 0.9) == pytest.approx(8.2)
    assert percentile([], 0.5) is None


@pytest.fixture
def task_data(session: Session) -> dict[str, Any]:
    """Four done checks (1, 2, 4 and 10 hours), one cancelled, two open; people in units."""
    pv = version(session, "cuti")
    older = version(session, "cuti", 2)
    inst = instance(session, pv)
    for hours in (1, 2, 4, 10):
        task(session, inst, "periksa", NOW - 50 * HOUR, NOW - (50 - hours) * HOUR)
    task(session, inst, "periksa", NOW - 90 * HOUR, NOW, outcome="cancelled")
    budi = make_user(session, "budi", "verifikator", unit="bidang_a")
    sari = make_user(session, "sari", "verifikator", unit="bidang_b")
    task(session, inst, "periksa", NOW - 5 * HOUR, claimed_by_id=budi.id, due_at=NOW - 2 * HOUR)
    task(session, inst, "periksa", NOW - HOUR, business_key="CUTI-7")
    task(session, inst, "setujui", NOW - 30 * HOUR, assignee_id=budi.id, due_at=NOW - 24 * HOUR)
    task(session, inst, "setujui", NOW - 3 * HOUR, role="atasan", due_at=NOW - HOUR)
    task(session, inst, "setujui", NOW - 3 * HOUR, claimed_by_id=sari.id, due_at=NOW + HOUR)
    task(session, inst, "setujui", NOW - 9 * HOUR, NOW - 8 * HOUR, due_at=NOW - 9 * HOUR)
    task(session, instance(session, older), "periksa", NOW - 2 * HOUR, NOW - HOUR)
    session.commit()
    return {"pv": pv, "older": older}


def test_time_in_stage_gives_done_median_p90_and_open_per_version_and_task(
    session: Session, task_data: dict[str, Any]
) -> None:
    rows = {(r["versi"], r["elemen"]): r for r in task_durations(session, NOW, "cuti")}
    check = rows[(1, "periksa")]
    assert check["selesai"] == 4  # the cancelled one is not a finished check
    assert check["median_detik"] == 3 * 3600
    assert check["p90_detik"] == pytest.approx(8.2 * 3600)
    assert check["terbuka"] == 2
    assert check["terbuka_terlama_detik"] == 5 * 3600
    assert rows[(2, "periksa")]["selesai"] == 1 and rows[(2, "periksa")]["terbuka"] == 0
    assert rows[(1, "setujui")]["median_detik"] == 3600
    assert task_durations(session, NOW, "lain") == []


def test_the_slowest_open_tasks_come_oldest_first_with_who_holds_them(
    session: Session, task_data: dict[str, Any]
) -> None:
    rows = slowest_open(session, NOW, "cuti", per_task=1)
    assert [(r["elemen"], r["pemegang"], r["umur_detik"]) for r in rows] == [
        ("setujui", "budi", 30 * 3600),
        ("periksa", "budi", 5 * 3600),
    ]
    with pytest.raises(InvalidInput, match="per_task"):
        slowest_open(session, NOW, per_task=0)


def test_overdue_tasks_are_counted_per_person_and_per_unit(
    session: Session, task_data: dict[str, Any]
) -> None:
    report = overdue_tasks(session, NOW)
    assert report["jumlah"] == 3  # done, not yet due and on-time ones are not late
    people = [(r["pengguna"], r["unit"], r["peran"], r["terlambat"]) for r in report["per_orang"]]
    assert people == [("budi", "bidang_a", None, 2), (None, None, "atasan", 1)]
    assert report["per_orang"][0]["terlambat_hari_maks"] == 1.0
    units = {r["unit"]: r["terlambat"] for r in report["per_unit"]}
    assert units == {"bidang_a": 2, None: 1}


def test_the_heatmap_gives_the_diagram_and_figures_per_element(
    session: Session, task_data: dict[str, Any]
) -> None:
    result = heatmap(session, task_data["pv"].id, NOW)
    assert result["bpmn"] == '<definitions id="cuti"/>'
    assert result["elemen"]["periksa"]["median_detik"] == 3 * 3600
    assert result["elemen"]["periksa"]["terbuka"] == 2
    assert result["elemen"]["setujui"]["terbuka"] == 3
    with pytest.raises(InvalidInput, match="versi: versi proses 999 tidak ada"):
        heatmap(session, 999, NOW)


def employee(session: Session, name: str, unit: str, **record: Any) -> User:
    """A pegawai with an employee record."""
    user = make_user(session, name, "pegawai", unit=unit)
    session.add(Employee(user_id=user.id, nip=None, **record))
    session.flush()
    return user


def test_training_hours_against_the_target_per_employee_and_unit(session: Session) -> None:
    ani = employee(session, "ani", "bidang_a")
    bayu = employee(session, "bayu", "bidang_a")
    employee(session, "citra", "bidang_b")
    session.add_all(
        [
            JpCredit(user_id=ani.id, tahun=2026, jp=12),
            JpCredit(user_id=ani.id, tahun=2026, jp=9),
            JpCredit(user_id=bayu.id, tahun=2026, jp=5),
            JpCredit(user_id=bayu.id, tahun=2025, jp=40),  # another year
        ]
    )
    session.commit()
    report = training_hours(session, 2026, 20)
    people = {r["pengguna"]: (r["jp"], r["kurang"], r["tercapai"]) for r in report["per_pegawai"]}
    assert people == {"ani": (21, 0, True), "bayu": (5, 15, False), "citra": (0, 20, False)}
    units = {r["unit"]: r for r in report["per_unit"]}
    assert units["bidang_a"]["jp_total"] == 26 and units["bidang_a"]["jp_rata_rata"] == 13.0
    assert units["bidang_a"]["persen_tercapai"] == 50.0
    assert units["bidang_b"]["tercapai"] == 0
    only_b = training_hours(session, 2026, 20, unit_id=ani.unit_id)
    assert {r["pengguna"] for r in only_b["per_pegawai"]} == {"ani", "bayu"}


def test_training_requests_and_feedback_per_training(session: Session) -> None:
    pv = version(session, "pelatihan")
    people = [employee(session, n, "bidang_a") for n in ("ani", "bayu", "citra", "dodi")]
    data = Training(
        kode="TEK-1",
        judul="Analisis data",
        jenis="teknis",
        jp=20,
        mulai=date(2026, 3, 1),
        selesai=date(2026, 3, 3),
        kuota=2,
        biaya=100,
    )
    session.add(data)
    session.flush()
    for person, status, scores in zip(
        people,
        ("hadir", "terima", "daftar_tunggu", "tolak"),
        (
            {"nilai_materi": 4, "nilai_metode": 5},
            {"nilai_materi": 2, "nilai_metode": 3},
            None,
            None,
        ),
        strict=True,
    ):
        inst = instance(session, pv)
        session.add(
            TrainingEnrolment(
                training_id=data.id, user_id=person.id, status=status, instance_id=inst.id
            )
        )
        if scores:
            row = task(session, inst, "umpan", NOW - HOUR, NOW, form_key=FEEDBACK_FORM)
            audit.append(
                session, person.username, "completed", task_id=row.id, detail={"data": scores}
            )
    session.commit()
    assert training_requests(session, 2026) == [
        {
            "kode": "TEK-1",
            "judul": "Analisis data",
            "kuota": 2,
            "disetujui": 2,
            "menunggu": 1,
            "ditolak": 1,
        }
    ]
    assert training_requests(session, 2025) == []
    assert training_feedback(session, 2026) == [
        {
            "kode": "TEK-1",
            "judul": "Analisis data",
            "umpan_balik": 2,
            "nilai_materi": 3.0,
            "nilai_metode": 4.0,
            "nilai_pengajar": None,
        }
    ]


def test_predicate_distribution_per_unit_and_the_limits_it_breaks(session: Session) -> None:
    grades = {"a": ("Sangat Baik", "Sangat Baik", "Baik", "Kurang"), "b": ("Baik", "Sangat Baik")}
    for unit, predicates in grades.items():
        for n, predikat in enumerate(predicates):
            user = employee(session, f"p{unit}{n}", f"bidang_{unit}")
            session.add(EmployeePredicate(user_id=user.id, tahun=2025, predikat=predikat))
    session.commit()
    report = predicate_distribution(session, 2025, {"Sangat Baik": 50})
    units = {r["unit"]: r for r in report["per_unit"]}
    assert units["bidang_a"]["per_predikat"]["Sangat Baik"] == 2
    assert units["bidang_a"]["persen"]["Kurang"] == 25.0
    assert units["bidang_a"]["sesuai"] is True  # 50 % is within a 50 % limit
    strict = predicate_distribution(session, 2025, {"Sangat Baik": 40})
    assert {r["unit"]: r["melanggar"] for r in strict["per_unit"]} == {
        "bidang_a": ["Sangat Baik"],
        "bidang_b": ["Sangat Baik"],
    }
    assert predicate_distribution(session, 2025)["per_unit"][0]["sesuai"] is None  # no rule
    with pytest.raises(InvalidInput, match="predikat tidak dikenal"):
        predicate_distribution(session, 2025, {"Hebat": 10})


def test_promotion_eligibility_follows_the_deployed_decision(session: Session) -> None:
    dmn = WORKFLOWS / "kelayakan_kenaikan_pangkat.dmn"
    with pytest.raises(InvalidInput, match="belum di-deploy"):
        promotion_eligible(session, date(2026, 6, 1), ("reguler",))
    deploy(session, [(dmn.name, dmn.read_bytes())], "pemilik1")
    today = date(2026, 6, 1)
    veteran = employee(
        session, "veteran", "bidang_a", golongan="III/b", tmt_golongan=date(2021, 4, 1)
    )
    star = employee(session, "bintang", "bidang_a", golongan="III/a", tmt_golongan=date(2025, 4, 1))
    punished = employee(session, "dihukum", "bidang_b", tmt_golongan=date(2020, 4, 1))
    employee(session, "baru", "bidang_b", tmt_golongan=date(2024, 4, 1))
    exactly = employee(session, "tepat", "bidang_b", tmt_golongan=date(2022, 6, 1))  # 4.00 years
    almost = employee(session, "hampir", "bidang_b", tmt_golongan=date(2022, 6, 5))  # 3.99
    for user, last, before in (
        (exactly, "Baik", "Baik"),
        (almost, "Baik", "Baik"),
        (veteran, "Baik", "Baik"),
        (star, "Sangat Baik", "Baik"),
        (punished, "Baik", "Baik"),
    ):
        session.add(EmployeePredicate(user_id=user.id, tahun=2025, predikat=last))
        session.add(EmployeePredicate(user_id=user.id, tahun=2024, predikat=before))
    session.add(
        DisciplinarySanction(
            user_id=punished.id, tingkat="sedang", mulai=date(2026, 1, 1), selesai=None
        )
    )
    session.commit()
    report = promotion_eligible(session, today, ("reguler", "prestasi"))
    assert {r["pengguna"]: r["jenis"] for r in report["pegawai"]} == {
        "veteran": ["reguler"],
        "bintang": ["prestasi"],
        "tepat": ["reguler"],
    }
    assert report["aturan"] == {"kelayakan_kenaikan_pangkat": 1}


def test_published_results_name_only_registration_numbers_and_carry_a_checksum(
    funnel_data: Session,
) -> None:
    admin = make_user(funnel_data, "admin1", "admin")
    clerk = make_user(funnel_data, "pegawai1", "pegawai")
    with pytest.raises(InvalidInput, match="hasil belum final"):
        publish(funnel_data, admin, "F-1", NOW)
    with pytest.raises(NotAllowed):
        publish(funnel_data, clerk, "F-1", NOW)
    get_formasi(funnel_data, "F-1").status = "selesai"
    row = publish(funnel_data, admin, "F-1", NOW)
    funnel_data.commit()
    lines = row.content.split("\n")
    assert lines[0] == HEADER and lines[-1] == "" and len(lines) == 7
    first = parse_line(lines[1])
    assert first["nomor_peserta"] == "F-1-00001" and first["hasil"] == "lulus"
    assert [parse_line(line)["hasil"] for line in lines[2:6]] == [
        "tidak_lulus",
        "tidak_lulus_skd",
        "tidak_memenuhi_syarat",
        "tidak_memenuhi_syarat",
    ]
    assert row.sha256 == hashlib.sha256(row.content.encode()).hexdigest()
    assert "Pelamar Rahasia" not in row.content and "3372" not in row.content
    assert row.rules == {"skd_kelulusan": 3}  # no process instance: only the formasi's rule
    found = latest(funnel_data, "F-1")
    assert found is not None and found[1].id == row.id
    assert latest(funnel_data, "F-2") is None


def test_the_talent_grid_boxes_people_by_the_deployed_decision(session: Session) -> None:
    from engine.hr import EmployeePotential
    from engine.reports_hr import talent_grid

    with pytest.raises(InvalidInput, match="kotak_talenta' belum di-deploy"):
        talent_grid(session, 2025)
    dmn = WORKFLOWS / "kotak_talenta.dmn"
    deploy(session, [(dmn.name, dmn.read_bytes())], "pemilik1")
    people = {
        "bintang": ("Sangat Baik", "tinggi"),  # box 9
        "andal": ("Baik", "tinggi"),  # box 7
        "tekun": ("Baik", "menengah"),  # box 5
        "lambat": ("Kurang", "rendah"),  # box 1
        "tanpa_potensi": ("Sangat Baik", None),  # not assessed: left out
    }
    for name, (predikat, potensi) in people.items():
        user = employee(session, name, "bidang_a")
        session.add(EmployeePredicate(user_id=user.id, tahun=2025, predikat=predikat))
        if potensi:
            session.add(EmployeePotential(user_id=user.id, tahun=2025, potensi=potensi))
    session.commit()
    grid = talent_grid(session, 2025)
    assert grid["dinilai"] == 4
    assert {k: v for k, v in grid["per_kotak"].items() if v} == {"9": 1, "7": 1, "5": 1, "1": 1}
    assert [(p["pengguna"], p["kotak"]) for p in grid["kelompok_suksesi"]] == [
        ("bintang", 9),
        ("andal", 7),
    ]
    assert grid["aturan"] == {"kotak_talenta": 1}
    assert talent_grid(session, 2024)["dinilai"] == 0
