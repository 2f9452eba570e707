"""The shipped DMN decision tables (workflows/*.dmn), each rule checked at its boundaries."""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy.orm import Session

from engine.decisions import decide
from engine.deploy import deploy
from webui.cli import main

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
DMN_NS = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
ENTRY = "dmn:inputEntry/dmn:text"
DECISIONS = [
    "bobot_nilai_akhir",
    "kelayakan_kenaikan_pangkat",
    "keputusan_pelatihan",
    "predikat_kinerja",
    "skd_kelulusan",
]


def _files() -> list[tuple[str, bytes]]:
    return [(f"{key}.dmn", (WORKFLOWS / f"{key}.dmn").read_bytes()) for key in DECISIONS]


@pytest.fixture
def deployed(session: Session) -> Session:
    """A session on a database holding all five decisions."""
    deploy(session, _files(), "pemilik1")
    session.commit()
    return session


def test_all_decisions_deploy_as_first_versions(session: Session) -> None:
    result = deploy(session, _files(), "pemilik1")
    session.commit()
    assert sorted(str(item) for item in result.items) == [f"deployed {k} v1" for k in DECISIONS]


# --- skd_kelulusan -----------------------------------------------------------------------

LULUS = "Memenuhi nilai ambang batas"

SKD_UMUM = [
    # twk, tiu, tkp, lulus, alasan
    (65, 80, 166, True, LULUS),
    (64, 80, 166, False, "Nilai TWK di bawah ambang batas 65"),
    (65, 79, 166, False, "Nilai TIU di bawah ambang batas 80"),
    (65, 80, 165, False, "Nilai TKP di bawah ambang batas 166"),
    (64, 79, 165, False, "Nilai TWK di bawah ambang batas 65"),  # the first failure is named
    (150, 175, 225, True, LULUS),
]

SKD_KHUSUS = [
    # twk, tiu, tkp (total = sum), lulus, alasan
    (60, 85, 166, True, LULUS),  # total 311, TIU 85; TWK below the general 65 does not matter
    (59, 85, 166, False, "Total nilai SKD di bawah ambang batas 311"),  # total 310
    (61, 84, 166, False, "Nilai TIU di bawah ambang batas 85"),  # total 311
    (59, 84, 167, False, "Total nilai SKD di bawah ambang batas 311"),  # both fail: total first
]

SKD_DISABILITAS = [
    (60, 60, 166, True, LULUS),  # total 286, TIU 60
    (59, 60, 166, False, "Total nilai SKD di bawah ambang batas 286"),  # total 285
    (61, 59, 166, False, "Nilai TIU di bawah ambang batas 60"),  # total 286
]

SKD_CASES = [
    *(pytest.param("umum", *case, id=f"umum-{case[:3]}") for case in SKD_UMUM),
    *(
        pytest.param(jalur, *case, id=f"{jalur}-{case[:3]}")
        for jalur in ("cumlaude", "diaspora")
        for case in SKD_KHUSUS
    ),
    *(pytest.param("disabilitas", *case, id=f"disabilitas-{case[:3]}") for case in SKD_DISABILITAS),
    pytest.param("reguler", 150, 175, 225, False, "Jalur seleksi tidak dikenal", id="unknown"),
]


@pytest.mark.parametrize(("jalur", "twk", "tiu", "tkp", "lulus", "alasan"), SKD_CASES)
def test_skd_passing_grade_per_track(
    deployed: Session, jalur: str, twk: int, tiu: int, tkp: int, lulus: bool, alasan: str
) -> None:
    data = {"jalur": jalur, "twk": twk, "tiu": tiu, "tkp": tkp}
    assert decide(deployed, "skd_kelulusan", data) == {"lulus": lulus, "alasan": alasan}


# --- bobot_nilai_akhir -------------------------------------------------------------------


@pytest.mark.parametrize("jenis", ["cpns", "pppk"])
def test_final_score_weights_are_40_skd_60_skb(deployed: Session, jenis: str) -> None:
    result = decide(deployed, "bobot_nilai_akhir", {"jenis_seleksi": jenis})
    assert result == {"bobot_skd": 40, "bobot_skb": 60}


@pytest.mark.parametrize("jenis", ["honorer", "CPNS", ""])
def test_unknown_selection_kind_gets_no_weights(deployed: Session, jenis: str) -> None:
    assert decide(deployed, "bobot_nilai_akhir", {"jenis_seleksi": jenis}) == {}


# --- kelayakan_kenaikan_pangkat ----------------------------------------------------------

REGULER: dict[str, Any] = {
    "jenis": "reguler",
    "masa_kerja_golongan_tahun": 4,
    "predikat_tahun_lalu": "Baik",
    "predikat_dua_tahun_lalu": "Baik",
    "hukuman_disiplin": False,
    "perlu_ujian_dinas": False,
    "lulus_ujian_dinas": False,
}
PRESTASI = {
    **REGULER,
    "jenis": "prestasi",
    "masa_kerja_golongan_tahun": 0.5,
    "predikat_tahun_lalu": "Sangat Baik",
    "predikat_dua_tahun_lalu": "Kurang",
}
IJAZAH = {**REGULER, "jenis": "penyesuaian_ijazah", "masa_kerja_golongan_tahun": 1}

HUKDIS = "Sedang/pernah dijatuhi hukuman disiplin"
LAYAK_REGULER = "Memenuhi syarat kenaikan pangkat reguler"
LAYAK_PRESTASI = "Memenuhi syarat kenaikan pangkat prestasi"
LAYAK_IJAZAH = "Memenuhi syarat kenaikan pangkat penyesuaian ijazah"

PANGKAT_CASES = [
    # base, changes, layak, alasan
    pytest.param(REGULER, {}, True, LAYAK_REGULER, id="reguler-4-tahun"),
    pytest.param(
        REGULER,
        {"masa_kerja_golongan_tahun": 3.9},
        False,
        "Masa kerja dalam golongan kurang dari 4 tahun",
        id="reguler-3.9-tahun",
    ),
    pytest.param(
        REGULER,
        {"predikat_tahun_lalu": "Sangat Baik", "predikat_dua_tahun_lalu": "Sangat Baik"},
        True,
        LAYAK_REGULER,
        id="reguler-sangat-baik",
    ),
    pytest.param(
        REGULER,
        {"predikat_tahun_lalu": "Butuh Perbaikan"},
        False,
        "Predikat kinerja tahun lalu di bawah Baik",
        id="reguler-predikat-tahun-lalu",
    ),
    pytest.param(
        REGULER,
        {"predikat_dua_tahun_lalu": "Kurang"},
        False,
        "Predikat kinerja dua tahun lalu di bawah Baik",
        id="reguler-predikat-dua-tahun-lalu",
    ),
    pytest.param(REGULER, {"hukuman_disiplin": True}, False, HUKDIS, id="reguler-hukdis"),
    pytest.param(
        REGULER,
        {"perlu_ujian_dinas": True, "lulus_ujian_dinas": False},
        False,
        "Belum lulus ujian dinas",
        id="reguler-ujian-belum-lulus",
    ),
    pytest.param(
        REGULER,
        {"perlu_ujian_dinas": True, "lulus_ujian_dinas": None},
        False,
        "Belum lulus ujian dinas",
        id="reguler-ujian-tanpa-nilai",
    ),
    pytest.param(
        REGULER,
        {"perlu_ujian_dinas": True, "lulus_ujian_dinas": True},
        True,
        LAYAK_REGULER,
        id="reguler-ujian-lulus",
    ),
    pytest.param(
        REGULER,
        {"masa_kerja_golongan_tahun": 2, "hukuman_disiplin": True},
        False,
        "Masa kerja dalam golongan kurang dari 4 tahun",
        id="reguler-first-failure-named",
    ),
    pytest.param(PRESTASI, {}, True, LAYAK_PRESTASI, id="prestasi-sangat-baik"),
    pytest.param(
        PRESTASI,
        {"predikat_tahun_lalu": "Baik"},
        False,
        "Predikat kinerja tahun lalu bukan Sangat Baik",
        id="prestasi-baik",
    ),
    pytest.param(
        PRESTASI, {"masa_kerja_golongan_tahun": 0}, True, LAYAK_PRESTASI, id="prestasi-0-tahun"
    ),
    pytest.param(PRESTASI, {"hukuman_disiplin": True}, False, HUKDIS, id="prestasi-hukdis"),
    pytest.param(IJAZAH, {}, True, LAYAK_IJAZAH, id="ijazah-1-tahun"),
    pytest.param(
        IJAZAH,
        {"masa_kerja_golongan_tahun": 0.9},
        False,
        "Masa kerja dalam golongan kurang dari 1 tahun",
        id="ijazah-0.9-tahun",
    ),
    pytest.param(IJAZAH, {"hukuman_disiplin": True}, False, HUKDIS, id="ijazah-hukdis"),
    pytest.param(
        REGULER,
        {"jenis": "pilihan"},
        False,
        "Jenis kenaikan pangkat tidak dikenal",
        id="jenis-tidak-dikenal",
    ),
]


@pytest.mark.parametrize(("base", "changes", "layak", "alasan"), PANGKAT_CASES)
def test_promotion_eligibility_names_the_failed_requirement(
    deployed: Session, base: dict[str, Any], changes: dict[str, Any], layak: bool, alasan: str
) -> None:
    result = decide(deployed, "kelayakan_kenaikan_pangkat", {**base, **changes})
    assert result == {"layak": layak, "alasan": alasan}


# --- predikat_kinerja --------------------------------------------------------------------

RATINGS = ["diatas", "sesuai", "dibawah"]
PREDIKAT_CASES = [
    # hasil_kerja, perilaku, predikat
    ("diatas", "diatas", "Sangat Baik"),
    ("diatas", "sesuai", "Baik"),
    ("sesuai", "sesuai", "Baik"),
    ("sesuai", "diatas", "Baik"),
    ("dibawah", "diatas", "Butuh Perbaikan"),
    ("dibawah", "sesuai", "Butuh Perbaikan"),
    ("diatas", "dibawah", "Kurang"),
    ("sesuai", "dibawah", "Kurang"),
    ("dibawah", "dibawah", "Sangat Kurang"),
]


@pytest.mark.parametrize(("hasil_kerja", "perilaku", "predikat"), PREDIKAT_CASES)
def test_performance_predicate_per_permenpanrb_6_2022(
    deployed: Session, hasil_kerja: str, perilaku: str, predikat: str
) -> None:
    data = {"hasil_kerja": hasil_kerja, "perilaku": perilaku}
    assert decide(deployed, "predikat_kinerja", data) == {"predikat": predikat}


def test_performance_cases_cover_every_combination() -> None:
    assert sorted((h, p) for h, p, _ in PREDIKAT_CASES) == sorted(
        itertools.product(RATINGS, RATINGS)
    )


def test_performance_table_has_exactly_one_rule_per_combination() -> None:
    # SpiffWorkflow stops at the first match of a UNIQUE table instead of checking that no
    # other rule matches, so the uniqueness is checked on the table itself.
    root = ElementTree.parse(WORKFLOWS / "predikat_kinerja.dmn").getroot()
    table = root.find("dmn:decision/dmn:decisionTable", DMN_NS)
    assert table is not None and table.get("hitPolicy") == "UNIQUE"
    combinations = [
        tuple(ast.literal_eval(entry.text or "") for entry in rule.iterfind(ENTRY, DMN_NS))
        for rule in table.iterfind("dmn:rule", DMN_NS)
    ]
    assert sorted(combinations) == sorted(itertools.product(RATINGS, RATINGS))


def test_unknown_rating_gets_no_predicate(deployed: Session) -> None:
    data = {"hasil_kerja": "luar biasa", "perilaku": "sesuai"}
    assert decide(deployed, "predikat_kinerja", data) == {}


# --- keputusan_pelatihan -----------------------------------------------------------------

PRIORITAS = "Prioritas: JP tahun ini di bawah 20"
TERSEDIA = "Kuota dan anggaran tersedia"
TERBATAS = "Kuota terbatas, prioritas bagi pegawai di bawah 20 JP"

PELATIHAN_CASES = [
    # jp_tahun_ini, sisa_kuota, sisa_anggaran, biaya, keputusan, alasan
    pytest.param(25, 10, 500_000, 500_000, "terima", TERSEDIA, id="anggaran-pas"),
    pytest.param(25, 10, 499_999, 500_000, "tolak", "Anggaran tidak mencukupi", id="kurang-1"),
    pytest.param(10, 10, 499_999, 500_000, "tolak", "Anggaran tidak mencukupi", id="kurang-prio"),
    pytest.param(0, 0, 0, 0, "daftar_tunggu", "Kuota penuh", id="gratis-kuota-0"),
    pytest.param(10, 0, 900_000, 500_000, "daftar_tunggu", "Kuota penuh", id="kuota-0"),
    pytest.param(10, -1, 900_000, 500_000, "daftar_tunggu", "Kuota penuh", id="kuota-minus"),
    pytest.param(25, 0, 100_000, 500_000, "tolak", "Anggaran tidak mencukupi", id="keduanya"),
    pytest.param(19, 10, 900_000, 500_000, "terima", PRIORITAS, id="jp-19"),
    pytest.param(20, 10, 900_000, 500_000, "terima", TERSEDIA, id="jp-20"),
    pytest.param(19.5, 1, 900_000, 500_000, "terima", PRIORITAS, id="jp-19.5-kuota-1"),
    pytest.param(19, 2, 900_000, 500_000, "terima", PRIORITAS, id="jp-19-kuota-2"),
    pytest.param(20, 2, 900_000, 500_000, "daftar_tunggu", TERBATAS, id="jp-20-kuota-2"),
    pytest.param(40, 1, 900_000, 500_000, "daftar_tunggu", TERBATAS, id="jp-40-kuota-1"),
    pytest.param(20, 3, 900_000, 500_000, "terima", TERSEDIA, id="jp-20-kuota-3"),
    pytest.param(30, 5, 0, 0, "terima", TERSEDIA, id="gratis"),
]


@pytest.mark.parametrize(
    ("jp_tahun_ini", "sisa_kuota", "sisa_anggaran", "biaya", "keputusan", "alasan"),
    PELATIHAN_CASES,
)
def test_training_enrolment_decision(
    deployed: Session,
    jp_tahun_ini: float,
    sisa_kuota: int,
    sisa_anggaran: int,
    biaya: int,
    keputusan: str,
    alasan: str,
) -> None:
    data = {
        "jp_tahun_ini": jp_tahun_ini,
        "sisa_kuota": sisa_kuota,
        "sisa_anggaran": sisa_anggaran,
        "biaya": biaya,
    }
    assert decide(deployed, "keputusan_pelatihan", data) == {
        "keputusan": keputusan,
        "alasan": alasan,
    }


# --- through the CLI ---------------------------------------------------------------------


def _jenjang(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """Run `jenjang` in-process against the test database: (exit status, stdout, stderr)."""
    monkeypatch.setenv("JENJANG_DATABASE_URL", url)
    capsys.readouterr()
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_decides_skd(
    deployed: Session,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = json.dumps({"jalur": "umum", "twk": 64, "tiu": 100, "tkp": 180})
    code, out, err = _jenjang(
        db_url, capsys, monkeypatch, "decide", "skd_kelulusan", "--data", data
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {"lulus": False, "alasan": "Nilai TWK di bawah ambang batas 65"}


def test_cli_reports_a_missing_score_in_one_line(
    deployed: Session,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = json.dumps({"jalur": "umum", "twk": 70, "tiu": 100})
    code, out, err = _jenjang(
        db_url, capsys, monkeypatch, "decide", "skd_kelulusan", "--data", data
    )
    assert (code, out) == (2, "")
    assert err.startswith("jenjang: decision 'skd_kelulusan': ") and err.count("\n") == 1
    assert "tkp" in err
