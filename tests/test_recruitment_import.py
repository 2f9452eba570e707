"""Recruitment records: all-or-nothing score imports, the SKD quota cut, the final scores."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import InvalidInput
from engine.models import utcnow
from engine.recruitment import Formasi, Lamaran, daftar_lamaran, status_lamaran
from engine.recruitment_import import (
    apply_skb_csv,
    apply_skd_csv,
    check_skb_csv,
    check_skd_csv,
    impor_skd,
)
from engine.recruitment_scores import hitung_skd, nilai_akhir, peringkat_skd
from engine.sandbox import SandboxEnvironment
from engine.services import ServiceContext
from tests.helpers import deploy_workflows

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "rekrutmen"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
NIK = "33720101019000"  # + two digits: the applicants below
APPLICANTS = [  # (last digits of NIK, name, route, status)
    ("01", "Ani Lestari", "umum", "ms"),
    ("02", "Budi Santoso", "umum", "ms"),
    ("03", "Citra Dewi", "umum", "ms"),
    ("04", "Dedi Kurniawan", "umum", "ms"),
    ("05", "Eka Putri", "umum", "ms"),
    ("06", "Fajar Nugroho", "umum", "ms"),
    ("07", "Gita Rahma", "umum", "ms"),
    ("08", "Hadi Wijaya", "umum", "tms"),
    ("09", "Indah Sari", "disabilitas", "ms"),
]


def rule_parameters() -> dict[str, Any]:
    """The rule numbers the diagram's first script task sets (ranges, 3 x quota, tie order)."""
    tree = etree.parse(str(ROOT / "workflows" / "rekrutmen.bpmn"))
    [task] = tree.iterfind(f".//{BPMN}scriptTask[@id='tetapkan_parameter']")
    data: dict[str, Any] = {}
    SandboxEnvironment().execute(task.findtext(f"{BPMN}script") or "", data)
    return data


RULES = rule_parameters()
RANGES = RULES["rentang_nilai"]


def nik(digits: str) -> str:
    """The NIK of an applicant of the fixture."""
    return NIK + digits


def csv(name: str) -> bytes:
    """A test file as the committee would upload it."""
    return (DATA / name).read_bytes()


@pytest.fixture
def formasi(session: Session) -> Formasi:
    """Formasi F-001 (quota 2) in its SKD stage: eight eligible applicants, one TMS."""
    deploy_workflows(session, "skd_kelulusan.dmn")
    row = Formasi(
        kode="F-001",
        jabatan="Analis Kepegawaian Ahli Pertama",
        unit="BKPSDM",
        kuota=2,
        jenis_seleksi="cpns",
        pendidikan_min="S1",
        dokumen_wajib=[],
        status="skd",
        versi_aturan={"skd_kelulusan": 1},
    )
    session.add(row)
    session.flush()
    for number, (digits, name, route, status) in enumerate(APPLICANTS, start=1):
        session.add(
            Lamaran(
                formasi_id=row.id,
                nik=nik(digits),
                nik_aktif=nik(digits),
                nama=name,
                nomor_peserta=f"F-001-{number:05d}",
                jalur=route,
                pendidikan="S1",
                status=status,
                alasan_tms={"ijazah": "Ijazah tidak sesuai"} if status == "tms" else None,
            )
        )
    session.commit()
    return row


def scores(session: Session) -> dict[str, tuple[Any, ...]]:
    """Per applicant (last NIK digits): TWK, TIU, TKP, total, SKB, fresh from the database."""
    session.expire_all()
    return {
        r.nik[-2:]: (r.twk, r.tiu, r.tkp, r.skd_total, r.skb_nilai)
        for r in session.scalars(select(Lamaran))
    }


def by_nik(session: Session) -> dict[str, Lamaran]:
    """The applications keyed by the last two digits of the NIK."""
    session.expire_all()
    return {r.nik[-2:]: r for r in session.scalars(select(Lamaran))}


def test_the_rule_numbers_come_from_the_diagram() -> None:
    assert RANGES == {"twk": [0, 150], "tiu": [0, 175], "tkp": [45, 225], "skb": [0, 100]}
    assert (RULES["kali_kuota"], RULES["urutan_seri"]) == (3, ["tkp", "tiu", "twk"])
    assert (RULES["skd_maks"], RULES["skb_maks"]) == (550, 100)


def test_a_valid_skd_file_shows_its_changes_then_stores_them(
    session: Session, formasi: Formasi
) -> None:
    check = check_skd_csv(session, "F-001", csv("skd_valid.csv"), RANGES)
    assert check.ok and check.errors == []
    first = check.changes[0]
    assert (first.line, first.nik, first.nomor_peserta, first.nama) == (
        2,
        nik("01"),
        "F-001-00001",
        "Ani Lestari",
    )
    assert first.old == {"twk": None, "tiu": None, "tkp": None, "skd_total": None}
    assert first.new == {"twk": 100, "tiu": 120, "tkp": 200, "skd_total": 420}
    assert scores(session)["01"] == (None, None, None, None, None)  # a check writes nothing

    applied = apply_skd_csv(session, "F-001", csv("skd_valid.csv"), RANGES)
    session.commit()
    assert applied.applied and applied.summary()["jumlah_baris"] == 8
    assert scores(session)["01"] == (100, 120, 200, 420, None)
    assert scores(session)["08"] == (None, None, None, None, None)  # TMS: not in the file


def test_every_problem_of_a_bad_file_is_reported_with_its_line_and_nothing_is_stored(
    session: Session, formasi: Formasi
) -> None:
    check = apply_skd_csv(session, "F-001", csv("skd_salah.csv"), RANGES)
    session.commit()
    assert not check.ok and not check.applied
    assert check.errors == [
        "baris 3: NIK 3372019999999999 tidak terdaftar pada formasi F-001",
        "baris 4: nilai TWK '9O' bukan bilangan bulat",
        f"baris 5: NIK {nik('01')} sudah ada di baris 2",
        "baris 6: nilai TKP 30 di luar rentang 45–225",
        f"baris 7: NIK {nik('08')} bukan peserta SKD formasi F-001 (status: tms)",
        "baris 8: ada 4 kolom, seharusnya 5",
        "baris 9: NIK '33720101019' harus 16 angka",
        "baris 10: nilai TWK 160 di luar rentang 0–150",
    ]
    assert all(value == (None,) * 5 for value in scores(session).values())  # not even line 2
    summary = impor_skd(ServiceContext(session, None, utcnow()), "F-001", "NIK\n", RANGES)
    assert summary["valid"] is False
    assert summary["kesalahan"] == ["baris 1: kolom wajib tidak ada: TWK, TIU, TKP"]


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        (
            "skd_kolom_salah.csv",
            [
                "baris 1: kolom 'NILAI' tidak dikenal "
                "(NIK, TWK, TIU, TKP, NAMA, NOMOR_PESERTA, TOTAL)",
                "baris 1: kolom TWK muncul dua kali",
                "baris 1: kolom wajib tidak ada: TKP",
            ],
        ),
        ("skd_latin1.csv", ["baris 3: berkas bukan teks UTF-8 (simpan sebagai CSV UTF-8)"]),
        ("kosong.csv", ["baris 1: berkas kosong"]),
    ],
)
def test_a_file_that_cannot_be_read_says_why(
    session: Session, formasi: Formasi, name: str, errors: list[str]
) -> None:
    assert check_skd_csv(session, "F-001", csv(name), RANGES).errors == errors


def test_a_header_without_rows_is_refused(session: Session, formasi: Formasi) -> None:
    check = check_skd_csv(session, "F-001", "NIK,TWK,TIU,TKP\n\n", RANGES)
    assert check.errors == ["baris 2: berkas tidak berisi baris nilai"]


def test_an_excel_file_with_semicolons_bom_and_crlf_is_read(
    session: Session, formasi: Formasi
) -> None:
    check = apply_skd_csv(session, "F-001", csv("skd_excel.csv"), RANGES)
    assert check.ok, check.errors
    assert [c.line for c in check.changes] == [2, 4]  # the blank line 3 is skipped
    assert scores(session)["02"] == (95, 115, 190, 400, None)


def test_a_wrong_total_or_registration_number_is_a_problem(
    session: Session, formasi: Formasi
) -> None:
    text = (
        "NIK,NOMOR_PESERTA,TWK,TIU,TKP,TOTAL\n"
        f"{nik('01')},F-001-00001,100,120,200,421\n"
        f"{nik('02')},F-001-00003,95,115,190,400\n"
    )
    assert check_skd_csv(session, "F-001", text, RANGES).errors == [
        "baris 2: TOTAL 421 tidak sama dengan TWK + TIU + TKP = 420",
        f"baris 3: nomor peserta F-001-00003 bukan milik NIK {nik('02')} (F-001-00002)",
    ]


def test_a_later_file_replaces_scores_and_the_preview_shows_old_and_new(
    session: Session, formasi: Formasi
) -> None:
    apply_skd_csv(session, "F-001", csv("skd_valid.csv"), RANGES)
    hitung_skd(session, "F-001")
    check = apply_skd_csv(session, "F-001", f"NIK,TWK,TIU,TKP\n{nik('07')},70,85,170\n", RANGES)
    [change] = check.changes
    assert (change.old["twk"], change.new["twk"], change.changed) == (65, 70, True)
    row = by_nik(session)["07"]
    assert (row.skd_total, row.skd_lulus) == (325, None)  # the old pass result is cleared
    assert check.warnings == []


def test_missing_scores_are_a_warning_not_an_error(session: Session, formasi: Formasi) -> None:
    check = check_skd_csv(session, "F-001", f"NIK,TWK,TIU,TKP\n{nik('01')},100,120,200\n", RANGES)
    assert check.ok
    assert check.warnings == [
        "7 peserta belum memiliki nilai SKD: F-001-00002, F-001-00003, F-001-00004, "
        "F-001-00005, F-001-00006, F-001-00007, F-001-00009"
    ]


def test_scores_are_imported_only_in_their_stage_and_after_objections_are_answered(
    session: Session, formasi: Formasi
) -> None:
    with pytest.raises(InvalidInput, match="nilai SKB formasi F-001 hanya dapat diimpor pada"):
        check_skb_csv(session, "F-001", csv("skb_valid.csv"), RANGES)
    by_nik(session)["08"].status = "sanggah"
    session.commit()
    assert check_skd_csv(session, "F-001", csv("skd_valid.csv"), RANGES).errors == [
        "baris 1: 1 lamaran TMS masih dalam masa sanggah atau menunggu jawaban sanggah"
    ]


def ranked(session: Session) -> Formasi:
    """F-001 with the SKD file applied, the passing rule evaluated and the SKB shortlist drawn."""
    assert apply_skd_csv(session, "F-001", csv("skd_valid.csv"), RANGES).ok
    hitung_skd(session, "F-001")
    peringkat_skd(session, "F-001", RULES["kali_kuota"], RULES["urutan_seri"])
    session.commit()
    return session.scalars(select(Formasi)).one()


def test_skd_passing_rule_comes_from_the_decision_table(session: Session, formasi: Formasi) -> None:
    ranked(session)
    rows = by_nik(session)
    assert (rows["01"].skd_lulus, rows["01"].skd_alasan) == (True, "Memenuhi nilai ambang batas")
    assert (rows["09"].skd_lulus, rows["09"].skd_alasan) == (
        False,
        "Total nilai SKD di bawah ambang batas 286",
    )
    assert rows["08"].skd_lulus is None  # TMS: never took the SKD


def test_a_running_selection_keeps_the_passing_grades_it_started_with(
    session: Session, formasi: Formasi
) -> None:
    dmn = (ROOT / "workflows" / "skd_kelulusan.dmn").read_text()
    lower = dmn.replace("&lt; 286", "&lt; 250").replace("ambang batas 286", "ambang batas 250")
    deploy(session, [("skd_kelulusan.dmn", lower.encode())], "pemilik1")  # version 2
    session.commit()
    ranked(session)
    assert by_nik(session)["09"].skd_lulus is False  # F-001 was bound to version 1 (286)
    formasi.versi_aturan = {"skd_kelulusan": 2}
    session.commit()
    hitung_skd(session, "F-001")
    assert by_nik(session)["09"].skd_lulus is True  # 280 >= 250 under version 2


def test_at_most_three_times_the_quota_go_to_skb_and_ties_are_broken_by_tkp_then_tiu(
    session: Session, formasi: Formasi
) -> None:
    ranked(session)
    rows = by_nik(session)
    order = sorted(
        (r for r in rows.values() if r.peringkat_skd), key=lambda r: r.peringkat_skd or 0
    )
    # Budi, Citra and Dedi all have 400: Citra has the best TKP (195); Budi and Dedi share
    # TKP 190 and Budi's TIU (115) beats Dedi's (110).
    assert [(r.nik[-2:], r.skd_total, r.masuk_skb) for r in order] == [
        ("01", 420, True),
        ("03", 400, True),
        ("02", 400, True),
        ("04", 400, True),
        ("05", 360, True),
        ("06", 335, True),
        ("07", 320, False),  # passed SKD, but 3 x quota 2 = 6 places
    ]
    assert rows["09"].masuk_skb is False and rows["09"].peringkat_skd is None


def test_skb_file_problems_and_a_valid_file(session: Session, formasi: Formasi) -> None:
    ranked(session).status = "skb"
    session.commit()
    assert check_skb_csv(session, "F-001", csv("skb_salah.csv"), RANGES).errors == [
        f"baris 3: NIK {nik('07')} tidak termasuk peserta SKB formasi F-001",
        "baris 4: nilai SKB 100.5 di luar rentang 0–100",
        "baris 5: nilai SKB '80.1234' bukan angka (paling banyak 3 desimal)",
    ]
    check = apply_skb_csv(session, "F-001", csv("skb_valid.csv"), RANGES)
    assert check.ok
    assert check.warnings == ["1 peserta belum memiliki nilai SKB: F-001-00006"]
    assert scores(session)["05"][4] == 85.5  # "85,5" from a semicolon file


def test_final_score_formula_ranking_tie_break_and_quota(
    session: Session, formasi: Formasi
) -> None:
    ranked(session).status = "skb"
    session.commit()
    assert apply_skb_csv(session, "F-001", csv("skb_valid.csv"), RANGES).ok
    result = nilai_akhir(
        session, "F-001", 40, 60, RULES["skd_maks"], RULES["skb_maks"], RULES["urutan_seri"]
    )
    session.commit()
    # final = SKD / 550 x 40 + SKB / 100 x 60; Eka: 360/550*40 + 85.5/100*60 = 77.4818...
    # Citra and Budi tie at 400/550*40 + 48 = 77.0909...: Citra's TKP (195) beats Budi's (190).
    assert [(r["nomor_peserta"], r["nilai_akhir"], r["lulus"]) for r in result["peringkat"]] == [
        ("F-001-00005", 77.482, True),
        ("F-001-00003", 77.091, True),
        ("F-001-00002", 77.091, False),
        ("F-001-00004", 74.091, False),
        ("F-001-00001", 72.545, False),
    ]
    rows = by_nik(session)
    assert (rows["05"].peringkat_akhir, rows["05"].lulus_akhir) == (1, True)
    assert (rows["06"].nilai_akhir, rows["06"].lulus_akhir) == (None, False)  # no SKB score
    assert rows["07"].lulus_akhir is None  # never in SKB


def test_ranking_refuses_an_unknown_tie_break_key(session: Session, formasi: Formasi) -> None:
    with pytest.raises(InvalidInput, match="urutan seri"):
        peringkat_skd(session, "F-001", 3, ["tkp", "nama"])


def open_formasi(session: Session, kode: str) -> Formasi:
    """A formasi whose registration is open today."""
    today = date.today()
    row = Formasi(
        kode=kode,
        jabatan="Pranata Komputer",
        kuota=1,
        jenis_seleksi="cpns",
        dokumen_wajib=[],
        status="dibuka",
        dibuka=today,
        ditutup=today + timedelta(days=7),
        dibuka_pada=utcnow() - timedelta(days=1),
        ditutup_pada=utcnow() + timedelta(days=7),
        versi_aturan={},
    )
    session.add(row)
    session.commit()
    return row


def test_one_active_application_per_nik_across_formasi(session: Session) -> None:
    open_formasi(session, "F-101")
    open_formasi(session, "F-102")
    ctx = ServiceContext(session, None, utcnow())
    first = daftar_lamaran(ctx, "F-101", nik("01"), "Ani Lestari", "umum", "S1")
    assert first["nomor_peserta"] == "F-101-00001"
    for kode in ("F-101", "F-102"):
        with pytest.raises(
            InvalidInput, match=f"NIK {nik('01')} sudah terdaftar pada formasi F-101"
        ):
            daftar_lamaran(ctx, kode, nik("01"), "Ani Lestari", "umum", "S1")
    assert daftar_lamaran(ctx, "F-101", nik("02"), "Budi", "umum")["nomor_peserta"] == (
        "F-101-00002"
    )
    # A cancelled application frees the NIK for another formasi, not for the same one twice.
    status_lamaran(ctx, "F-101-00001", "batal")
    assert daftar_lamaran(ctx, "F-102", nik("01"), "Ani Lestari", "umum")["nomor_peserta"] == (
        "F-102-00001"
    )
    with pytest.raises(InvalidInput, match="harus 16 angka"):
        daftar_lamaran(ctx, "F-102", "12345", "X", "umum")
    with pytest.raises(InvalidInput, match="jalur 'khusus' tidak dikenal"):
        daftar_lamaran(ctx, "F-102", nik("03"), "X", "khusus")


def test_registration_outside_the_open_period_is_refused(session: Session) -> None:
    row = open_formasi(session, "F-103")
    assert row.ditutup_pada is not None
    ctx = ServiceContext(session, None, row.ditutup_pada + timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="pendaftaran formasi F-103 tidak sedang dibuka"):
        daftar_lamaran(ctx, "F-103", nik("01"), "Ani", "umum")


def test_tms_needs_a_reason_per_rejected_document(session: Session) -> None:
    open_formasi(session, "F-104")
    ctx = ServiceContext(session, None, utcnow())
    number = daftar_lamaran(ctx, "F-104", nik("01"), "Ani", "umum")["nomor_peserta"]
    with pytest.raises(InvalidInput, match="TMS wajib disertai alasan"):
        status_lamaran(ctx, number, "tms", {"ktp": "", "ijazah": None})
    result = status_lamaran(ctx, number, "tms", {"ktp": "", "ijazah": "Tidak terbaca"})
    assert result["alasan"] == {"ijazah": "Tidak terbaca"}
    with pytest.raises(InvalidInput, match="tidak dapat berubah dari 'tms' ke 'usul_nip'"):
        status_lamaran(ctx, number, "usul_nip")


def test_the_migration_creates_exactly_the_recruitment_tables(db_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import Base

    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "formasi" in repr(d) or "lamaran" in repr(d)] == []
