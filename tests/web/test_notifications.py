"""The notifications page for everyone, the unread count, reading, the email preference."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.notifications import Notification, wants_email
from engine.users import get_user
from tests.web.conftest import AuthActions


def unread(page: str) -> str:
    """The unread count beside Notifikasi in the navigation ('' when none)."""
    found = re.search(r"Notifikasi <span class=\"count\">(.*?)</span></a>", page, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>|belum dibaca", "", found.group(1)).strip()


def notice_of(db: Session, username: str) -> Notification:
    db.rollback()
    row = db.scalar(select(Notification).where(Notification.user_id == get_user(db, username).id))
    assert row is not None
    return row


def test_staff_see_a_new_task_notice_and_opening_the_page_reads_it(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    assert unread(client.get("/tugas").text) == "1"

    page = client.get("/notifikasi").text

    assert "Tugas baru untuk Anda: Setujui permintaan pelatihan" in page
    assert "badge-new" in page and "Untuk Anda" in page
    assert unread(page) == ""
    assert unread(client.get("/tugas").text) == ""
    again = client.get("/notifikasi").text
    assert "Setujui permintaan pelatihan" in again and "badge-new" not in again
    assert notice_of(demo, "atasan1").read_at is not None


def test_a_notice_shows_its_task_and_counts_as_read(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    notice = notice_of(demo, "mentor1")
    auth.login("mentor1")
    assert unread(client.get("/tugas").text) == "1"

    page = client.get(f"/notifikasi/{notice.id}").text

    assert "Tugas baru untuk Anda: Tanggapi permintaan mentoring" in page
    assert f'href="/tugas/{notice.task_id}">Buka tugasnya</a>' in page
    assert unread(page) == ""


def test_nobody_sees_or_reads_another_persons_notice(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    notice = notice_of(demo, "atasan1")
    auth.login("mentor1")
    assert client.get(f"/notifikasi/{notice.id}").status_code == 404
    assert client.get("/notifikasi/999999").status_code == 404
    assert "Setujui permintaan pelatihan" not in client.get("/notifikasi").text
    assert notice_of(demo, "atasan1").read_at is None
    auth.logout()
    response = client.get("/notifikasi")
    assert response.status_code == 302 and "/masuk" in response.headers["Location"]


def test_tasks_waiting_for_a_role_are_shown_to_its_members_until_seen(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("panitia1")
    assert unread(client.get("/tugas").text) == "1"
    page = client.get("/notifikasi").text
    assert "Menunggu peran Anda" in page and "Buka pendaftaran" in page
    assert "peran panitia_seleksi" in page and "badge-new" in page
    assert unread(page) == ""
    assert "badge-new" not in client.get("/notifikasi").text
    auth.logout()
    auth.login("verifikator1")
    page = client.get("/notifikasi").text
    assert "Buka pendaftaran" not in page and "Belum ada notifikasi." in page


def test_a_person_chooses_in_app_only_and_a_wrong_choice_is_explained(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    page = client.get("/akun/notifikasi").text
    assert "Email dikirim ke atasan1@surakarta.go.id." in page
    assert re.search(r'value="email"\s+checked', page)

    wrong = client.post("/akun/notifikasi", data={"kirim": "merpati"})
    assert wrong.status_code == 422 and "Pilih cara Anda ingin diberi tahu." in wrong.text
    response = client.post("/akun/notifikasi", data={"kirim": "aplikasi"})
    assert response.status_code == 303
    demo.rollback()
    assert not wants_email(demo, get_user(demo, "atasan1").id)
    page = client.get("/akun/notifikasi").text
    assert "Pengaturan notifikasi Anda telah disimpan." in page
    assert re.search(r'value="aplikasi"\s+checked', page)


def test_applicants_read_their_notices_in_the_portal(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pelamar1")
    response = client.get("/notifikasi")
    assert response.status_code == 302
    assert response.headers["Location"] == "/pelamar/notifikasi"
    page = client.get("/pelamar/notifikasi").text
    assert page.count("Notifikasi <span") == 1  # one entry in the navigation
    assert "Lewat email atau di aplikasi saja?" in page


def test_the_page_speaks_english_on_request(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    client.post("/bahasa", data={"lang": "en"})
    page = client.get("/notifikasi").text
    assert "New task for you: Setujui permintaan pelatihan" in page and "For you" in page
    assert "By email and in the app" in client.get("/akun/notifikasi").text
