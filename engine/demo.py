"""Demo data: Pemerintah Kota Surakarta with units, a supervisor chain, users for every role,
employee records and a training catalogue, so a new user sees a living system."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.hr import (
    DisciplinarySanction,
    Employee,
    EmployeePotential,
    EmployeePredicate,
    JpCredit,
    Training,
    TrainingBudget,
)
from engine.models import OrgUnit, User
from engine.passwords import hash_password
from engine.users import add_user, get_or_create_unit

UNITS = [
    ("pemkot", "Pemerintah Kota Surakarta", None),
    ("bkpsdm", "Badan Kepegawaian dan Pengembangan SDM", "pemkot"),
    ("diskominfo", "Dinas Komunikasi, Informatika, Statistik dan Persandian", "pemkot"),
    ("dinkes", "Dinas Kesehatan", "pemkot"),
]
# username, full name, roles, unit, supervisor
USERS = [
    ("ppk1", "Ir. Wali Kota (PPK)", ["ppk"], "pemkot", None),
    ("atasan1", "Dra. Sri Wahyuni, M.Si.", ["atasan", "pegawai"], "diskominfo", "ppk1"),
    ("pegawai1", "Budi Santoso, S.Kom.", ["pegawai"], "diskominfo", "atasan1"),
    ("pegawai2", "Siti Rahayu, S.E.", ["pegawai"], "diskominfo", "atasan1"),
    ("pegawai3", "Agus Prasetyo, A.Md.", ["pegawai"], "diskominfo", "atasan1"),
    ("mentor1", "Drs. Bambang Hartono, M.M.", ["mentor", "pegawai"], "dinkes", "ppk1"),
    ("verifikator1", "Dewi Lestari, S.H.", ["verifikator", "pegawai"], "bkpsdm", "admin1"),
    ("panitia1", "Hendra Wijaya, S.Psi.", ["panitia_seleksi", "pegawai"], "bkpsdm", "admin1"),
    ("admin1", "Rina Marlina, S.Sos. (Admin BKPSDM)", ["admin", "admin_bkpsdm"], "bkpsdm", "ppk1"),
    ("pemilik1", "Yusuf Hidayat, S.T. (Pemilik Proses)", ["pemilik_proses"], "bkpsdm", "admin1"),
    ("pelamar1", "Andi Saputra", ["pelamar"], None, None),
    ("pelamar2", "Nur Aini", ["pelamar"], None, None),
    ("pelamar3", "Rizky Ramadhan", ["pelamar"], None, None),
]
# username, NIP, golongan, in rank since, education, position
EMPLOYEES = [
    ("atasan1", "197503122000032001", "IV/a", date(2019, 4, 1), "S2", "Kepala Bidang Aplikasi"),
    ("pegawai1", "198807152014031002", "III/b", date(2020, 4, 1), "S1", "Pranata Komputer Ahli"),
    ("pegawai2", "199102202019032005", "III/a", date(2019, 3, 1), "S1", "Analis Keuangan"),
    ("pegawai3", "199405052020121003", "II/c", date(2023, 1, 1), "D3", "Pranata Komputer"),
    ("mentor1", "197011111995031001", "IV/b", date(2018, 10, 1), "S2", "Kepala Seksi"),
    ("verifikator1", "198512122010012004", "III/c", date(2021, 4, 1), "S1", "Analis SDM"),
    ("panitia1", "198303032008011006", "III/d", date(2020, 10, 1), "S1", "Psikolog"),
    ("admin1", "198001012005012003", "III/d", date(2018, 4, 1), "S1", "Analis Kepegawaian"),
]
TRAININGS = [
    ("PKA-2026", "Pelatihan Kepemimpinan Administrator", "kepemimpinan", 80, 12, 15_000_000),
    ("TEK-ARSIP-01", "Pengelolaan Arsip Digital", "teknis", 24, 30, 2_500_000),
    ("TEK-DATA-02", "Analisis Data untuk Kebijakan Publik", "teknis", 32, 20, 3_500_000),
    ("MAN-01", "Manajemen Kinerja Berbasis SKP", "manajerial", 16, 40, 1_500_000),
    ("SOS-01", "Pelayanan Publik yang Inklusif", "sosial_kultural", 12, 50, 1_000_000),
]


@dataclass
class DemoResult:
    """What the demo created (empty when it was already there)."""

    users: list[str] = field(default_factory=list)
    trainings: list[str] = field(default_factory=list)


def seed(session: Session, password: str, today: date | None = None) -> DemoResult:
    """Create the demo agency once (idempotent: does nothing if its users exist)."""
    today = today or date.today()
    result = DemoResult()
    if session.scalar(select(User).where(User.username == "admin1")) is not None:
        return result
    for code, name, parent in UNITS:
        org_unit = get_or_create_unit(session, code, name)
        if parent:
            org_unit.parent_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == parent))
    hashed = hash_password(password)
    pending_supervisors: list[tuple[str, str]] = []
    for username, full_name, roles, unit, supervisor in USERS:
        user = add_user(
            session,
            username,
            roles,
            unit=unit,
            full_name=full_name,
            email=f"{username}@surakarta.go.id",
            password_hash=hashed,
        )
        if supervisor:
            pending_supervisors.append((username, supervisor))
        result.users.append(user.username)
    by_name = {u.username: u for u in session.scalars(select(User))}
    for username, supervisor in pending_supervisors:
        by_name[username].supervisor_id = by_name[supervisor].id
    for username, nip, golongan, since, education, position in EMPLOYEES:
        session.add(
            Employee(
                user_id=by_name[username].id,
                nip=nip,
                golongan=golongan,
                tmt_golongan=since,
                pendidikan=education,
                jabatan=position,
            )
        )
        for years_ago, predicate in ((1, "Baik"), (2, "Baik")):
            session.add(
                EmployeePredicate(
                    user_id=by_name[username].id, tahun=today.year - years_ago, predikat=predicate
                )
            )
    # pegawai1 has an outstanding last year; pegawai3 carries a light sanction this year.
    session.flush()
    best = session.get(EmployeePredicate, (by_name["pegawai1"].id, today.year - 1))
    if best is not None:
        best.predikat = "Sangat Baik"
    # Last year's talent assessment, for the 9-box grid (pegawai1 lands in box 9).
    for username, potential in (("pegawai1", "tinggi"), ("pegawai2", "menengah")):
        session.add(
            EmployeePotential(
                user_id=by_name[username].id,
                tahun=today.year - 1,
                potensi=potential,
                dasar="Uji kompetensi manajerial (assessment center)",
            )
        )
    session.add(
        DisciplinarySanction(
            user_id=by_name["pegawai3"].id,
            tingkat="ringan",
            mulai=date(today.year, 1, 15),
            selesai=date(today.year, 12, 31),
            keterangan="Teguran lisan",
        )
    )
    session.add(
        JpCredit(
            user_id=by_name["pegawai2"].id,
            tahun=today.year,
            jp=24,
            keterangan="Pengelolaan Arsip Digital",
        )
    )
    session.add(TrainingBudget(tahun=today.year, total=150_000_000))
    for i, (kode, judul, jenis, jp, kuota, biaya) in enumerate(TRAININGS):
        start = date(today.year, min(12, today.month + 1 + i % 2), 5 + i)
        session.add(
            Training(
                kode=kode,
                judul=judul,
                jenis=jenis,
                jp=jp,
                mulai=start,
                selesai=start,
                kuota=kuota,
                biaya=biaya,
            )
        )
        result.trainings.append(kode)
    session.flush()
    return result


Steps = list[tuple[str, str, dict[str, object]]]


def _lamaran(kode: str, nik: str, nama: str) -> dict[str, object]:
    return {"formasi_id": kode, "nik": nik, "nama": nama, "jalur": "umum", "pendidikan": "S1"}


def demo_instances(today: date) -> list[tuple[str, str, dict[str, object], Steps]]:
    """Process key, who starts it, start data, then (task, who completes it, data) steps."""
    opens, closes = today.isoformat(), date.fromordinal(today.toordinal() + 14).isoformat()
    none: Steps = []
    schedule: Steps = [("tetapkan_jadwal", "panitia1", {"dibuka": opens, "ditutup": closes})]
    formasi = [
        ("F-001", "Pranata Komputer Ahli Pertama", "Diskominfo", 2),
        ("F-002", "Analis Kebijakan Ahli Pertama", "Bappeda", 1),
    ]
    applicants = [
        ("pelamar1", "F-001", "3372010101990001", "Andi Saputra"),
        ("pelamar2", "F-001", "3372014106980002", "Nur Aini"),
        ("pelamar3", "F-002", "3372011203970003", "Rizky Ramadhan"),
    ]
    return [
        *[
            (
                "seleksi_formasi",
                "panitia1",
                {
                    "formasi_id": kode,
                    "jabatan": jabatan,
                    "unit": unit,
                    "kuota": kuota,
                    "jenis_seleksi": "cpns",
                    "pendidikan_min": "S1",
                    "dokumen_wajib": [],
                },
                schedule,
            )
            for kode, jabatan, unit, kuota in formasi
        ],
        *[
            ("lamaran", user, _lamaran(kode, nik, nama), none)
            for user, kode, nik, nama in applicants
        ],
        (
            "pelatihan",
            "pegawai1",
            {"pegawai": "pegawai1", "kode": "TEK-DATA-02"},
            [
                (
                    "ajukan_pelatihan",
                    "pegawai1",
                    {"kode": "TEK-DATA-02", "motivasi": "Mendukung tugas analisis data layanan."},
                ),
            ],
        ),
        ("penilaian_kinerja", "pegawai2", {"pegawai": "pegawai2", "tahun": today.year}, []),
        (
            "mentoring",
            "pegawai3",
            {
                "mentee": "pegawai3",
                "mentor": "mentor1",
                "topik": "Penyusunan kebijakan berbasis data",
            },
            [],
        ),
        (
            "kenaikan_pangkat",
            "atasan1",
            {
                "pegawai": "pegawai1",
                "jenis": "prestasi",
                "golongan_tujuan": "III/c",
                "perlu_ujian_dinas": False,
                "lulus_ujian_dinas": False,
            },
            [],
        ),
        ("seleksi_jpt", "panitia1", {}, []),
    ]


def seed_instances(session: Session, today: date | None = None) -> list[str]:
    """Start a few instances in flight (those whose process is deployed); what was started."""
    from engine.errors import JenjangError
    from engine.models import TaskModel
    from engine.runtime import complete_task, start_instance
    from engine.users import get_user

    today = today or date.today()
    started: list[str] = []
    for key, starter, data, steps in demo_instances(today):
        business_key = {
            "seleksi_formasi": f"{data.get('formasi_id')}",
            "lamaran": f"{data.get('formasi_id')}/{starter}",
            "pelatihan": f"{data.get('kode')} / {data.get('pegawai')}",
            "penilaian_kinerja": f"SKP {today.year} / {data.get('pegawai')}",
            "mentoring": f"{data.get('mentee')} / mentor {data.get('mentor')}",
            "kenaikan_pangkat": f"{data.get('pegawai')} → {data.get('golongan_tujuan')}",
            "seleksi_jpt": f"JPT {today.year}",
        }.get(key)
        try:
            with session.begin_nested():
                inst = start_instance(session, key, get_user(session, starter), data, business_key)
                for element, actor, task_data in steps:
                    task = session.scalar(
                        select(TaskModel).where(
                            TaskModel.instance_id == inst.id,
                            TaskModel.element_id == element,
                            TaskModel.completed_at.is_(None),
                        )
                    )
                    if task is not None:
                        complete_task(session, task.id, get_user(session, actor), task_data)
        except JenjangError:
            continue  # the process is not deployed (or changed): the demo goes on without it
        started.append(key)
    _seat_committee(session)
    return started


def _seat_committee(session: Session) -> None:
    """panitia1 sits on the committees of F-001 and F-002 (the demo shows the rule at work)."""
    from engine.committee import add_member
    from engine.errors import JenjangError
    from engine.users import get_user

    for kode in ("F-001", "F-002"):
        try:
            with session.begin_nested():
                add_member(session, get_user(session, "admin1"), kode, "panitia1")
        except JenjangError:
            continue  # the selection process is not deployed: there is no formasi
