"""The applicant portal: registration, open formasi, applying, timeline, objections, notices."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.models import TaskModel, utcnow
from engine.passwords import check_password
from engine.recruitment import Lamaran
from engine.runtime import start_instance
from engine.timers import fire_timers
from engine.users import get_user, user_by_name
from tests.helpers import only_task, submit
from tests.web.conftest import AuthActions, make_app, open_task

KODE = "F-900"
JABATAN = "Analis SDM Aparatur Ahli Pertama"
NIK = "3372019999990001"
OTHER_NIK = "3372019999990002"
PASSWORD = "rahasia-pelamar-1"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


def open_formasi(db: Session, kode: str = KODE) -> int:
    """The committee records formasi `kode` (quota 1) and opens it for a week; its instance."""
    panitia = get_user(db, "panitia1")
    data = {
        "formasi_id": kode,
        "jabatan": JABATAN,
        "unit": "BKPSDM",
        "kuota": 1,
        "jenis_seleksi": "cpns",
        "pendidikan_min": "S1",
        "dokumen_wajib": ["Surat lamaran"],
    }
    inst = start_instance(db, "seleksi_formasi", panitia, data, business_key=kode)
    db.commit()
    today = date.today()
    schedule = {"dibuka": today.isoformat(), "ditutup": (today + timedelta(days=7)).isoformat()}
    submit(db, only_task(db, inst.id, "tetapkan_jadwal"), panitia, schedule)
    return inst.id


def register(client: FlaskClient, nik: str = NIK, **changes: str) -> str:
    """POST the registration form; the page's text."""
    form = {
        "nik": nik,
        "nama": "Sari Wulandari",
        "email": "sari@contoh.id",
        "password": PASSWORD,
        "konfirmasi": PASSWORD,
        **changes,
    }
    return client.post("/pelamar/daftar", data=form, follow_redirects=True).text


def apply(client: FlaskClient, auth: AuthActions, nik: str = NIK, kode: str = KODE) -> str:
    """Register, log in and apply to `kode`; the application page's address."""
    register(client, nik)
    auth.login(nik, PASSWORD)
    response = client.post(
        f"/pelamar/formasi/{kode}/lamar", data={"jalur": "umum", "pendidikan": "S1"}
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def documents() -> dict[str, tuple[bytes, str]]:
    """The four documents every application needs, as (content, file name)."""
    return {
        "ktp": (PDF, "ktp.pdf"),
        "ijazah": (PDF, "ijazah.pdf"),
        "transkrip": (PDF, "transkrip.pdf"),
        "pas_foto": (JPEG, "foto.jpg"),
    }


def upload(
    client: FlaskClient, db: Session, nik: str = NIK, **replace: tuple[bytes, str]
) -> TestResponse:
    """The applicant sends the document form of their open upload task; the response."""
    task = open_upload_task(db, nik)
    files = {**documents(), **replace}
    data = {name: (BytesIO(content), filename) for name, (content, filename) in files.items()}
    return client.post(f"/tugas/{task.id}", data=data, content_type="multipart/form-data")


def open_upload_task(db: Session, nik: str = NIK) -> TaskModel:
    """The applicant's open document task."""
    db.rollback()
    user = get_user(db, nik)
    task = db.scalar(
        select(TaskModel).where(
            TaskModel.assignee_id == user.id,
            TaskModel.element_id == "unggah_dokumen",
            TaskModel.completed_at.is_(None),
        )
    )
    assert task is not None
    return task


def lamaran_of(db: Session, nik: str = NIK) -> Lamaran:
    """The application of a NIK, fresh."""
    db.rollback()
    row = db.scalar(select(Lamaran).where(Lamaran.nik == nik))
    assert row is not None
    return row


# -- registration ------------------------------------------------------------------------------


def test_registration_gives_a_message_per_wrong_field(client: FlaskClient, demo: Session) -> None:
    page = register(client, nik="12345", nama="", email="bukan-email", password="pendek")
    assert "NIK harus tepat 16 angka." in page
    assert "Isi nama lengkap sesuai KTP." in page
    assert "Isi alamat email yang benar" in page
    assert "Kata sandi paling sedikit 10 karakter." in page
    assert 'aria-invalid="true"' in page and 'id="nik-error"' in page
    page = register(client, konfirmasi="rahasia-lain-99")
    assert "Konfirmasi tidak sama dengan kata sandi." in page
    assert user_by_name(demo, NIK) is None


def test_registration_creates_an_applicant_who_logs_in_with_the_nik(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    page = register(client)
    assert "Pendaftaran berhasil. Masuk dengan NIK dan kata sandi Anda." in page
    demo.rollback()
    user = user_by_name(demo, NIK)
    assert user is not None and user.role_names == {"pelamar"}
    assert user.full_name == "Sari Wulandari" and user.email == "sari@contoh.id"
    assert user.password_hash and user.password_hash != PASSWORD
    assert check_password(user.password_hash, PASSWORD)
    response = auth.login(NIK, PASSWORD)
    assert response.status_code == 302
    nav = client.get("/pelamar/formasi").text
    assert "Lamaran saya" in nav and "Notifikasi" in nav


def test_a_registered_nik_cannot_register_again(client: FlaskClient, demo: Session) -> None:
    register(client)
    page = register(client, nama="Orang Lain", email="lain@contoh.id")
    assert "NIK ini sudah terdaftar." in page
    demo.rollback()
    assert get_user(demo, NIK).full_name == "Sari Wulandari"


def test_registration_needs_the_csrf_token(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: Session
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    client = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    response = client.post(
        "/pelamar/daftar",
        data={"nik": NIK, "nama": "X", "email": "x@contoh.id", "password": PASSWORD},
    )
    assert response.status_code == 400
    form = client.get("/pelamar/daftar").text
    assert 'name="csrf_token"' in form
    demo.rollback()
    assert user_by_name(demo, NIK) is None


# -- formasi and applying ----------------------------------------------------------------------


def test_open_formasi_show_requirements_and_closing_date(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    register(client)
    auth.login(NIK, PASSWORD)
    page = client.get("/pelamar/formasi").text
    assert JABATAN in page and "F-900" in page
    assert "KTP, Ijazah, Transkrip nilai, Pas foto, Surat lamaran" in page
    assert "Pendidikan minimal" in page and "S1" in page
    closes = date.today() + timedelta(days=7)
    assert f"{closes.day} " in page and str(closes.year) in page
    assert "Pranata Komputer Ahli Pertama" in page  # the demo's formasi is open too
    assert f'action="/pelamar/formasi/{KODE}/lamar"' in page


def test_applying_starts_a_lamaran_and_shows_the_upload_task(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    location = apply(client, auth)
    row = lamaran_of(demo)
    assert location == f"/pelamar/lamaran/{row.id}"
    assert row.user_id == get_user(demo, NIK).id and row.nama == "Sari Wulandari"
    assert row.nomor_peserta == "F-900-00001"
    page = client.get(location).text
    assert "Lamaran Anda terdaftar dengan nomor F-900-00001." in page
    assert "Terdaftar" in page and "Unggah dokumen lamaran" in page
    task = open_upload_task(demo)
    assert f'href="/tugas/{task.id}"' in page
    mine = client.get("/pelamar/lamaran").text
    assert "F-900-00001" in mine and JABATAN in mine


def test_a_second_application_gets_a_clear_message(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    response = client.post(
        "/pelamar/formasi/F-001/lamar",
        data={"jalur": "umum", "pendidikan": "S1"},
        follow_redirects=True,
    )
    assert "Anda tidak dapat melamar" in response.text
    assert "setiap pelamar hanya boleh melamar satu formasi" in response.text
    demo.rollback()
    assert len(demo.scalars(select(Lamaran).where(Lamaran.nik == NIK)).all()) == 1


def test_staff_cannot_use_the_applicant_pages(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("verifikator1", "jenjang-demo")
    assert client.get("/pelamar/lamaran").status_code == 404
    assert client.post("/pelamar/formasi/F-001/lamar", data={}).status_code == 404


def test_another_applicants_application_answers_404(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    theirs = demo.scalar(select(Lamaran).where(Lamaran.nomor_peserta == "F-001-00001"))
    assert theirs is not None  # the demo's pelamar1
    response = client.get(f"/pelamar/lamaran/{theirs.id}")
    assert response.status_code == 404
    assert "Andi Saputra" not in response.text
    assert client.get("/pelamar/lamaran/999999").status_code == 404
    assert "F-001-00001" not in client.get("/pelamar/lamaran").text


# -- the whole way to a notification -----------------------------------------------------------


def verify_tms(client: FlaskClient, auth: AuthActions, db: Session, reason: str) -> None:
    """verifikator1 finds the application TMS through the task page."""
    auth.logout()
    auth.login("verifikator1", "jenjang-demo")
    task = open_task(db, "verifikasi_administrasi")
    response = client.post(
        f"/tugas/{task.id}", data={"memenuhi_syarat": "false", "alasan_ktp": reason}
    )
    assert response.status_code == 303, response.text
    auth.logout()


def announce(db: Session, seleksi: int) -> None:
    """Registration closes at its date; panitia1 announces the administrative results."""
    db.rollback()  # a fresh snapshot: SQLite cannot write from one older than the pages' commits
    assert fire_timers(db, seleksi, utcnow() + timedelta(days=8)) == ["pendaftaran_ditutup"]
    db.commit()
    submit(db, only_task(db, seleksi, "umumkan_administrasi"), get_user(db, "panitia1"), {})


def unread(page: str) -> str:
    """The unread count shown next to Notifikasi in the navigation."""
    found = re.search(r"Notifikasi <span class=\"count\">(.*?)</span></a>", page, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>|belum dibaca", "", found.group(1)).strip()


def test_tms_is_told_only_when_announced_then_the_applicant_objects(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    seleksi = open_formasi(demo)
    location = apply(client, auth)
    assert upload(client, demo).status_code == 303
    verify_tms(client, auth, demo, "KTP tidak terbaca")

    auth.login(NIK, PASSWORD)
    page = client.get(location).text
    assert "Sedang diperiksa" in page and "TMS" not in page  # not announced yet
    assert unread(page) == ""

    announce(demo, seleksi)
    page = client.get(location).text
    assert "Hasil seleksi administrasi" in page
    assert "Tidak memenuhi syarat (TMS)" in page and "KTP tidak terbaca" in page
    assert unread(page) == "2"  # the announcement, and the objection task it opened for them
    notices = client.get("/pelamar/notifikasi").text
    assert "Hasil seleksi administrasi" in notices and "badge-new" in notices
    assert "Tugas baru untuk Anda: Ajukan sanggah" in notices
    assert "KTP tidak terbaca" in notices
    assert unread(client.get("/pelamar/lamaran").text) == ""  # read now
    assert "badge-new" not in client.get("/pelamar/notifikasi").text

    # The objection window is open: the applicant's task is on the application's page.
    objection = open_task(demo, "sanggah_administrasi")
    assert objection.assignee_id == get_user(demo, NIK).id
    assert f'href="/tugas/{objection.id}"' in client.get(location).text
    response = client.post(
        f"/tugas/{objection.id}",
        data={"ajukan_sanggah": "true", "alasan_sanggah": "KTP terbaca jelas di halaman 1."},
    )
    assert response.status_code == 303
    assert lamaran_of(demo).status == "sanggah"

    auth.logout()
    auth.login("panitia1", "jenjang-demo")
    answer = open_task(demo, "jawab_sanggah_administrasi")
    response = client.post(
        f"/tugas/{answer.id}",
        data={"sanggah_diterima": "true", "jawaban_sanggah": "KTP terbaca; dinyatakan MS."},
    )
    assert response.status_code == 303
    auth.logout()
    auth.login(NIK, PASSWORD)
    page = client.get(location).text
    assert "Sanggah diterima" in page and "KTP terbaca; dinyatakan MS." in page
    assert "Memenuhi syarat (MS)" in page
    assert unread(page) == "1"


def test_pages_show_in_english_on_request(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    open_formasi(demo)
    apply(client, auth)
    client.post("/bahasa", data={"lang": "en"})
    page = client.get("/pelamar/lamaran").text
    assert "My applications" in page and "Registration number" in page


def test_applicants_land_in_the_portal_and_staff_in_the_inbox(
    demo: Session, auth: AuthActions
) -> None:
    response = auth.login("pelamar1")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/pelamar/lamaran")
    auth.logout()
    assert auth.login("atasan1").headers["Location"].endswith("/tugas")
