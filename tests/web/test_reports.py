"""Report pages, their JSON and exports, the public announcement page, and who sees what."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.hr import Employee, JpCredit
from engine.models import TaskModel, User, utcnow
from engine.recruitment import Lamaran, get_formasi
from engine.users import get_user
from tests.web.conftest import AuthActions
from tests.web.test_api import Api

NIK1 = "3372010101990001"  # pelamar1 (Andi Saputra) in the demo


def login(client: FlaskClient, username: str) -> None:
    """Log in through the page with the demo's password."""
    response = AuthActions(client).login(username)
    assert response.status_code == 302, username


def finish_formasi(db: Session, kode: str = "F-001") -> list[Lamaran]:
    """Make a demo formasi final with scores, as the selection would leave it."""
    db.rollback()
    formasi = get_formasi(db, kode)
    rows = list(db.scalars(select(Lamaran).where(Lamaran.formasi_id == formasi.id)))
    assert len(rows) >= 2
    for n, row in enumerate(rows):
        row.status, row.twk, row.tiu, row.tkp = "ms", 100 + n, 110, 170
        row.skd_total, row.skd_lulus, row.masuk_skb = 380 + n, True, True
        row.skb_nilai, row.nilai_akhir = 80.5, 70.125 + n
        row.peringkat_akhir, row.lulus_akhir = len(rows) - n, n == len(rows) - 1
    formasi.status = "selesai"
    db.commit()
    return rows


def test_the_funnel_page_shows_counts_and_a_chart_to_hr(client: FlaskClient, demo: Session) -> None:
    login(client, "admin1")
    page = client.get("/laporan/rekrutmen")
    assert page.status_code == 200
    assert "Corong rekrutmen" in page.text and "<svg" in page.text
    registered = demo.scalar(select(Lamaran.id).limit(1))
    assert registered is not None
    assert NIK1 not in page.text  # aggregate figures only


def test_exports_carry_the_page_numbers_in_csv_and_excel(
    client: FlaskClient, demo: Session
) -> None:
    login(client, "admin1")
    api_total = len(demo.scalars(select(Lamaran.id)).all())
    response = client.get("/laporan/rekrutmen?format=csv&tabel=funnel")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Tahap", "Lamaran", "Persen dari pendaftar"]
    assert rows[1][1] == str(api_total)
    book = load_workbook(io.BytesIO(client.get("/laporan/rekrutmen?format=xlsx").data))
    assert book.sheetnames == ["funnel", "per_formasi", "per_education"]
    assert book["funnel"]["B2"].value == api_total
    per_formasi = list(book["per_formasi"].iter_rows(values_only=True))
    assert per_formasi[0][-1] == "% Lulus akhir"
    assert sum(row[2] for row in per_formasi[1:]) == api_total
    assert client.get("/laporan/rekrutmen?format=pdf").status_code == 422
    assert client.get("/laporan/rekrutmen?format=csv&tabel=nope").status_code == 422


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(
    client: FlaskClient, demo: Session
) -> None:
    demo.rollback()
    task = demo.scalar(select(TaskModel).where(TaskModel.completed_at.is_(None)).limit(1))
    assert task is not None
    task.business_key = '=HYPERLINK("http://x")'
    task.due_at = utcnow() - timedelta(days=2)
    demo.commit()
    login(client, "admin1")
    text = client.get("/laporan/waktu?format=csv&tabel=slowest_open").get_data(as_text=True)
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    book = load_workbook(io.BytesIO(client.get("/laporan/waktu?format=xlsx").data))
    values = [c.value for row in book["slowest_open"].iter_rows() for c in row]
    assert '\'=HYPERLINK("http://x")' in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)


def test_training_report_reads_the_configured_target_and_shows_units(
    client: FlaskClient, demo: Session
) -> None:
    demo.rollback()
    pegawai = get_user(demo, "pegawai1")
    demo.add(JpCredit(user_id=pegawai.id, tahun=utcnow().year, jp=7))
    demo.commit()
    login(client, "admin1")
    page = client.get("/laporan/pelatihan")
    assert page.status_code == 200 and "Target tahunan: 20 JP." in page.text
    book = load_workbook(io.BytesIO(client.get("/laporan/pelatihan?format=xlsx").data))
    sheet = book["jp_by_employee"]
    found = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    name = pegawai.full_name or pegawai.username
    assert found[name][2] >= 7 and found[name][3] == 20
    assert client.get("/laporan/pelatihan?tahun=abc").status_code == 422


def test_a_supervisor_sees_only_the_hr_reports_of_their_unit(
    client: FlaskClient, demo: Session
) -> None:
    login(client, "atasan1")
    page = client.get("/laporan/pelatihan")
    assert page.status_code == 200 and "Hanya unit Anda" in page.text
    demo.rollback()
    atasan = get_user(demo, "atasan1")
    others = demo.scalars(
        select(User.full_name)
        .join(Employee, Employee.user_id == User.id)
        .where(User.unit_id != atasan.unit_id)
    ).all()
    assert all(name not in page.text for name in others if name)
    assert client.get("/laporan/rekrutmen").status_code == 404
    assert client.get("/laporan/waktu").status_code == 404


@pytest.mark.parametrize(
    ("username", "allowed"),
    [
        ("admin1", {"rekrutmen", "waktu", "heatmap", "pelatihan", "kinerja"}),
        ("pemilik1", {"rekrutmen", "waktu", "heatmap"}),
        ("atasan1", {"pelatihan", "kinerja"}),
        ("pegawai1", set()),
        ("pelamar1", set()),
        ("verifikator1", set()),
    ],
)
def test_who_may_see_which_report(
    client: FlaskClient, demo: Session, username: str, allowed: set[str]
) -> None:
    login(client, username)
    for report in ("rekrutmen", "waktu", "heatmap", "pelatihan", "kinerja"):
        status = client.get(f"/laporan/{report}").status_code
        assert status == (200 if report in allowed else 404), (username, report, status)
    assert client.get("/laporan/").status_code == (200 if allowed else 404)
    token = Api(client).login(username)
    for path, report in (("funnel", "rekrutmen"), ("training", "pelatihan")):
        status = token.get(f"/api/reports/{path}").status_code
        assert status == (200 if report in allowed else 404), (username, path)


def test_reports_need_a_login(client: FlaskClient, demo: Session) -> None:
    assert client.get("/laporan/rekrutmen").status_code == 302
    assert client.get("/api/reports/funnel").status_code == 401


def test_the_json_api_answers_the_same_numbers_as_the_export(
    client: FlaskClient, demo: Session
) -> None:
    api = Api(client).login("admin1")
    body: Any = api.get("/api/reports/funnel").get_json()
    assert body["laporan"] == "rekrutmen"
    total = body["data"]["keseluruhan"]["jumlah"]["terdaftar"]
    assert total == len(demo.scalars(select(Lamaran.id)).all())
    times: Any = api.get("/api/reports/task-times").get_json()
    assert {"waktu", "terlama", "terlambat"} <= set(times["data"])
    heat: Any = api.get("/api/reports/heatmap").get_json()
    assert heat["data"]["peta"]["bpmn"].startswith("<")
    assert api.get("/api/reports/heatmap?versi=999999").status_code == 422
    assert api.get("/api/reports/performance?tahun=1800").status_code == 422
    assert api.get("/api/reports/performance").status_code == 200


def test_the_heatmap_page_gives_figures_per_element(client: FlaskClient, demo: Session) -> None:
    login(client, "pemilik1")
    page = client.get("/laporan/heatmap")
    assert page.status_code == 200
    assert "bpmn-navigated-viewer" in page.text or "make vendor" in page.text
    assert 'id="t-heatmap"' in page.text


def test_publishing_makes_a_public_page_with_a_recomputable_checksum(
    client: FlaskClient, demo: Session
) -> None:
    rows = finish_formasi(demo)
    login(client, "admin1")
    response = client.post("/laporan/rekrutmen/umumkan", data={"formasi": "F-001"})
    assert response.status_code == 303
    public = client.application.test_client()  # nobody logged in
    page = public.get("/pengumuman/hasil?formasi=F-001")
    assert page.status_code == 200
    download = public.get("/pengumuman/hasil.csv?formasi=F-001")
    digest = hashlib.sha256(download.data).hexdigest()
    assert digest in page.text and download.headers["X-Content-SHA256"] == digest
    assert "skd_kelulusan v" in page.text
    for row in rows:
        assert row.nomor_peserta in page.text
        assert row.nik not in page.text and row.nama not in page.text
        assert row.nik not in download.get_data(as_text=True)
    assert "F-001" in public.get("/pengumuman/").text


def test_the_public_page_shows_nothing_before_publication(
    client: FlaskClient, demo: Session
) -> None:
    assert client.get("/pengumuman/hasil?formasi=F-001").status_code == 404
    assert client.get("/pengumuman/hasil.csv?formasi=F-001").status_code == 404
    assert client.get("/pengumuman/hasil").status_code == 404


def test_only_final_results_may_be_published_and_only_by_hr(
    client: FlaskClient, demo: Session
) -> None:
    login(client, "admin1")
    refused = client.post("/laporan/rekrutmen/umumkan", data={"formasi": "F-001"})
    assert refused.status_code == 422 and "belum final" in refused.text
    assert client.post("/laporan/rekrutmen/umumkan", data={}).status_code == 422
    finish_formasi(demo)
    owner = client.application.test_client()
    login(owner, "pemilik1")
    assert owner.post("/laporan/rekrutmen/umumkan", data={"formasi": "F-001"}).status_code == 403


def test_the_performance_page_draws_the_talent_grid_with_the_demo_assessments(
    client: FlaskClient, demo: Session
) -> None:
    login(client, "admin1")
    year = utcnow().year - 1
    page = client.get(f"/laporan/kinerja?tahun={year}")
    assert page.status_code == 200
    assert f"Kotak talenta (9-box), {year}" in page.text
    assert "Kelompok rencana suksesi (kotak 7 sampai 9)" in page.text
    # pegawai1 (Sangat Baik, potensi tinggi) is in box 9 and in the succession pool.
    pool = client.get(f"/laporan/kinerja?tahun={year}&format=csv&tabel=talent_pool")
    assert pool.status_code == 200, pool.text[:200]
    assert "tinggi,9" in pool.text


def test_the_performance_page_still_shows_without_its_decisions_deployed(
    client: FlaskClient, db: Session
) -> None:
    from engine.demo import seed
    from tests.web.conftest import PASSWORD

    seed(db, PASSWORD)
    db.commit()
    login(client, "admin1")
    page = client.get("/laporan/kinerja")
    assert page.status_code == 200
    assert "memerlukan tabel keputusan kelayakan_kenaikan_pangkat" in page.text
    assert "memerlukan tabel keputusan kotak_talenta" in page.text
