"""The main journeys through real pages in Chromium, as people see them (Bahasa Indonesia).

An applicant registers, applies and uploads documents; a verifier claims and completes the
check; the applicant sees the announced outcome and files an objection; a supervisor approves
a training request. Steps that are not part of a journey (other applicants' checks, a closing
date passing) are driven through the engine.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from engine.models import Instance, TaskModel, utcnow
from engine.recruitment import Lamaran
from engine.timers import fire_timers
from engine.users import get_user
from tests.browser.conftest import PASSWORD, LiveServer, screenshot
from tests.helpers import submit

NIK = "3372019999990001"
NAMA = "Sari Wulandari"
APPLICANT_PASSWORD = "rahasia-pelamar-1"
FORMASI = "F-001"
JABATAN = "Pranata Komputer Ahli Pertama"
# Small files whose content is what their names say (the forms check the magic bytes).
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32
ENGINE_DOCUMENTS = {
    "ktp": ("ktp.pdf", PDF),
    "ijazah": ("ijazah.pdf", PDF),
    "transkrip": ("transkrip.pdf", PDF),
    "pas_foto": ("foto.jpg", JPEG),
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The applicant's documents on disk, by the label of their upload field."""
    folder = tmp_path / "berkas"
    folder.mkdir()
    found = {}
    for label, name, content in (
        ("KTP", "ktp.pdf", PDF),
        ("Ijazah", "ijazah.pdf", PDF),
        ("Transkrip nilai", "transkrip.pdf", PDF),
        ("Pas foto", "foto.jpg", JPEG),
    ):
        path = folder / name
        path.write_bytes(content)
        found[label] = path
    return found


# -- steps through the pages -------------------------------------------------------------------


def labelled(scope: Page | Locator, text: str) -> Locator:
    """The input whose label starts with `text` (a required field's label ends with ``*``)."""
    return scope.get_by_label(re.compile(rf"^{re.escape(text)}(\s|\*|$)"))


def log_in(page: Page, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Log in on /masuk by the form's labels."""
    page.goto(server.url("/masuk"))
    labelled(page, "Nama pengguna").fill(username)
    labelled(page, "Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_text("Selamat datang")).to_be_visible()


def log_out(page: Page) -> None:
    """The Keluar button in the top bar."""
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_text("Anda telah keluar.")).to_be_visible()


def flash(page: Page, text: str) -> None:
    """A message at the top of the page contains `text`."""
    expect(page.locator(".flashes")).to_contain_text(text)


def register_apply_and_upload(page: Page, server: LiveServer, files: dict[str, Path]) -> str:
    """An applicant registers, logs in with the NIK, applies to F-001 and uploads the
    documents; the application page's address."""
    page.goto(server.url("/masuk"))
    screenshot(page, "login")
    page.get_by_role("link", name="Pendaftaran pelamar").click()
    labelled(page, "NIK").fill(NIK)
    labelled(page, "Nama lengkap").fill(NAMA)
    labelled(page, "Email").fill("sari@contoh.id")
    labelled(page, "Kata sandi").fill(APPLICANT_PASSWORD)
    labelled(page, "Ulangi kata sandi").fill(APPLICANT_PASSWORD)
    page.get_by_role("button", name="Daftar").click()
    flash(page, "Pendaftaran berhasil.")

    log_in(page, server, NIK, APPLICANT_PASSWORD)
    expect(page.get_by_role("heading", name="Lamaran saya")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Formasi").click()
    expect(page.get_by_role("heading", name="Formasi yang dibuka")).to_be_visible()
    screenshot(page, "formasi")
    card = page.get_by_role("region", name=re.compile(FORMASI))
    labelled(card, "Jalur").select_option(label="Umum")
    labelled(card, "Pendidikan Anda").fill("S1")
    card.get_by_role("button", name="Lamar").click()
    flash(page, "Lamaran Anda terdaftar dengan nomor F-001-00003.")
    address = page.url

    page.get_by_role("link", name="Unggah dokumen lamaran").click()
    expect(page.get_by_role("heading", name="Unggah dokumen lamaran")).to_be_visible()
    for label, path in files.items():
        labelled(page, label).set_input_files(path)
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "telah diselesaikan")
    return address


def open_team_task(page: Page, server: LiveServer, task: str, business_key: str) -> None:
    """Claim a task of the team, found by its business key, and open it from Tugas saya."""
    page.get_by_role("navigation").get_by_role("link", name="Tugas tim").click()
    page.get_by_label("Nomor rujukan").fill(business_key)
    page.get_by_role("button", name="Terapkan").click()
    page.get_by_role("button", name=f"Ambil: {task}").click()
    flash(page, "sekarang menjadi tugas Anda")
    page.get_by_role("navigation").get_by_role("link", name="Tugas saya").click()
    page.get_by_label("Nomor rujukan").fill(business_key)
    page.get_by_role("button", name="Terapkan").click()
    page.get_by_role("link", name=f"Buka: {task}").click()
    expect(page.get_by_role("heading", name=task, exact=True)).to_be_visible()
    expect(page.get_by_text("Anda sudah mengambil tugas ini.")).to_be_visible()


def lamaran(server: LiveServer, nik: str = NIK) -> Lamaran:
    """The application of a NIK, as stored now."""
    with server.session() as db:
        row = db.scalar(select(Lamaran).where(Lamaran.nik == nik))
        assert row is not None
        db.expunge(row)
        return row


# -- steps through the engine (not part of the journeys) ---------------------------------------


def open_task_of(server: LiveServer, element: str, business_key: str) -> TaskModel:
    """The open task at `element` of the instance with this business key."""
    with server.session() as db:
        task = db.scalar(
            select(TaskModel).where(
                TaskModel.element_id == element,
                TaskModel.business_key == business_key,
                TaskModel.completed_at.is_(None),
            )
        )
        assert task is not None, (element, business_key)
        db.expunge(task)
        return task


def demo_applicants_upload(server: LiveServer) -> None:
    """The demo's applicants to F-001 (pelamar1, pelamar2) upload their documents."""
    with server.session() as db:
        for username in ("pelamar1", "pelamar2"):
            task = open_task_of(server, "unggah_dokumen", f"{FORMASI}/{username}")
            submit(db, task, get_user(db, username), {}, ENGINE_DOCUMENTS)


def demo_applicants_checked(server: LiveServer) -> None:
    """verifikator1 finds the demo's applicants to F-001 MS."""
    with server.session() as db:
        for username in ("pelamar1", "pelamar2"):
            task = open_task_of(server, "verifikasi_administrasi", f"{FORMASI}/{username}")
            submit(db, task, get_user(db, "verifikator1"), {"memenuhi_syarat": True})


def registration_closes(server: LiveServer) -> None:
    """F-001's closing date passes (the demo closes it in 14 days)."""
    with server.session() as db:
        seleksi = db.scalar(
            select(Instance.id).where(
                Instance.business_key == FORMASI, Instance.state.in_(("running", "waiting"))
            )
        )
        assert seleksi is not None
        assert fire_timers(db, seleksi, utcnow() + timedelta(days=15)) == ["pendaftaran_ditutup"]
        db.commit()


# -- the journeys ------------------------------------------------------------------------------


def test_an_applicant_registers_applies_and_uploads_documents(
    page: Page, live_server: LiveServer, files: dict[str, Path]
) -> None:
    address = register_apply_and_upload(page, live_server, files)

    row = lamaran(live_server)
    assert row.nama == NAMA and row.nomor_peserta == "F-001-00003"
    assert address.endswith(f"/pelamar/lamaran/{row.id}")
    page.goto(address)
    expect(page.get_by_role("heading", name=re.compile(JABATAN))).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("F-001-00003")
    expect(page.get_by_text("Sedang diproses: Verifikasi administrasi")).to_be_visible()
    timeline = page.get_by_role("region", name="Linimasa")
    expect(timeline).to_contain_text("Unggah dokumen lamaran: Terkirim")


def test_a_verifier_claims_and_completes_the_check(page: Page, live_server: LiveServer) -> None:
    demo_applicants_upload(live_server)

    log_in(page, live_server, "verifikator1")
    open_team_task(page, live_server, "Verifikasi administrasi", f"{FORMASI}/pelamar1")
    expect(page.get_by_role("region", name="Data proses")).to_contain_text("ktp.pdf")
    page.get_by_label("Memenuhi Syarat (MS)").check()
    screenshot(page, "task-form")
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "Tugas “Verifikasi administrasi” telah diselesaikan.")

    assert lamaran(live_server, "3372010101990001").status == "ms"
    assert lamaran(live_server, "3372014106980002").status == "terdaftar"


def test_the_applicant_sees_the_outcome_and_files_an_objection(
    page: Page, live_server: LiveServer, files: dict[str, Path]
) -> None:
    address = register_apply_and_upload(page, live_server, files)
    log_out(page)

    # The verifier finds the application TMS, with the reason for the KTP.
    log_in(page, live_server, "verifikator1")
    open_team_task(page, live_server, "Verifikasi administrasi", f"{FORMASI}/{NIK}")
    page.get_by_label("Tidak Memenuhi Syarat (TMS)").check()
    labelled(page, "KTP").fill("KTP tidak terbaca")
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "telah diselesaikan")
    log_out(page)
    assert lamaran(live_server).status == "tms"

    # Not yet announced: the applicant sees that the check is going on, not its outcome.
    log_in(page, live_server, NIK, APPLICANT_PASSWORD)
    page.goto(address)
    expect(page.locator(".facts")).to_contain_text("Sedang diperiksa")
    expect(page.get_by_text("TMS")).to_have_count(0)
    log_out(page)

    # The other applicants are checked and registration closes; the committee announces.
    demo_applicants_upload(live_server)
    demo_applicants_checked(live_server)
    registration_closes(live_server)
    log_in(page, live_server, "panitia1")
    open_team_task(page, live_server, "Umumkan hasil seleksi administrasi", FORMASI)
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "telah diselesaikan")
    log_out(page)

    # The applicant is told (the outcome, and the objection task it opened for them), sees the
    # outcome with its reason, and objects in the window.
    log_in(page, live_server, NIK, APPLICANT_PASSWORD)
    expect(page.get_by_role("navigation").get_by_role("link", name="Notifikasi")).to_contain_text(
        "2"
    )
    page.get_by_role("link", name=re.compile(JABATAN)).click()
    timeline = page.get_by_role("region", name="Linimasa")
    expect(timeline).to_contain_text("Hasil seleksi administrasi")
    expect(timeline).to_contain_text("Tidak memenuhi syarat (TMS)")
    expect(timeline).to_contain_text("KTP tidak terbaca")
    next_step = page.get_by_role("region", name="Langkah Anda berikutnya")
    expect(next_step).to_be_visible()
    screenshot(page, "applicant-timeline")
    next_step.get_by_role("link").click()
    page.get_by_role("group", name="Ajukan sanggah?").get_by_label("Ya").check()
    labelled(page, "Alasan sanggah").fill("KTP terbaca jelas di halaman 1.")
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "telah diselesaikan")

    assert lamaran(live_server).status == "sanggah"
    page.goto(address)
    expect(page.get_by_role("region", name="Linimasa")).to_contain_text(
        "Ajukan sanggah administrasi: Terkirim"
    )


def test_a_supervisor_approves_a_training_request(page: Page, live_server: LiveServer) -> None:
    business_key = "TEK-DATA-02 / pegawai1"
    log_in(page, live_server, "atasan1")
    expect(page.get_by_role("heading", name="Tugas saya")).to_be_visible()
    row = page.get_by_role("row", name=business_key)
    expect(row).to_be_visible()
    screenshot(page, "inbox")
    row.get_by_role("link", name=re.compile("^Buka")).click()
    expect(page.locator(".facts")).to_contain_text(business_key)
    expect(page.get_by_role("region", name="Data proses")).to_contain_text(
        "Mendukung tugas analisis data layanan."
    )
    page.get_by_label("Setujui").check()
    page.get_by_role("button", name="Selesaikan tugas").click()
    flash(page, "telah diselesaikan")
    expect(page.get_by_role("row", name=business_key)).to_have_count(0)

    with live_server.session() as db:
        done = db.scalar(
            select(TaskModel).where(
                TaskModel.business_key == business_key,
                TaskModel.completed_at.is_not(None),
                TaskModel.completed_by_id == get_user(db, "atasan1").id,
            )
        )
        assert done is not None
