"""Bulk work on the task page: "Simpan & tugas berikutnya", and score files previewed first."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Instance, TaskModel, utcnow
from engine.recruitment import Lamaran
from engine.timers import fire_timers
from engine.users import get_user
from tests.helpers import submit
from tests.web.conftest import AuthActions, open_task

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
NIK1, NIK2 = "3372010101990001", "3372014106980002"  # pelamar1, pelamar2 (F-001)


def open_tasks_at(db: Session, element_id: str) -> list[TaskModel]:
    """The demo's open tasks at a BPMN element, oldest first."""
    db.rollback()
    return list(
        db.scalars(
            select(TaskModel)
            .where(TaskModel.element_id == element_id, TaskModel.completed_at.is_(None))
            .order_by(TaskModel.id)
        )
    )


def upload_documents(db: Session, username: str) -> None:
    """An applicant of the demo uploads the four basic documents."""
    user = get_user(db, username)
    [task] = [t for t in open_tasks_at(db, "unggah_dokumen") if t.assignee_id == user.id]
    files = {
        "ktp": ("ktp.pdf", PDF),
        "ijazah": ("ijazah.pdf", PDF),
        "transkrip": ("transkrip.pdf", PDF),
        "pas_foto": ("foto.jpg", JPEG),
    }
    submit(db, task, user, {}, files)


@pytest.fixture
def checks(demo: Session) -> list[TaskModel]:
    """pelamar1 and pelamar2 (F-001) uploaded their documents: two checks for the verifier."""
    upload_documents(demo, "pelamar1")
    upload_documents(demo, "pelamar2")
    found = open_tasks_at(demo, "verifikasi_administrasi")
    assert len(found) == 2
    return found


def test_save_and_next_goes_to_the_next_check_and_claims_it(
    client: FlaskClient, auth: AuthActions, demo: Session, checks: list[TaskModel]
) -> None:
    first, second = checks
    auth.login("verifikator1")
    page = client.get(f"/tugas/{first.id}").text
    assert 'name="lanjut"' in page and "Simpan & tugas berikutnya" in page
    response = client.post(f"/tugas/{first.id}", data={"memenuhi_syarat": "true", "lanjut": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/tugas/{second.id}"
    demo.rollback()
    assert demo.get(TaskModel, first.id).completed_at is not None  # type: ignore[union-attr]
    claimed = demo.get(TaskModel, second.id)
    assert claimed is not None and claimed.claimed_by_id == get_user(demo, "verifikator1").id

    response = client.post(
        f"/tugas/{second.id}",
        data={"memenuhi_syarat": "true", "lanjut": "1"},
        follow_redirects=True,
    )
    assert response.request.path == "/tugas"
    assert "Tidak ada lagi tugas “Verifikasi administrasi” yang terbuka." in response.text
    assert open_tasks_at(demo, "verifikasi_administrasi") == []


def test_save_and_next_skips_a_task_someone_else_claimed(
    client: FlaskClient, auth: AuthActions, demo: Session, checks: list[TaskModel]
) -> None:
    first, second = checks
    demo.get(TaskModel, second.id).claimed_by_id = get_user(demo, "admin1").id  # type: ignore[union-attr]
    demo.commit()
    auth.login("verifikator1")
    response = client.post(f"/tugas/{first.id}", data={"memenuhi_syarat": "true", "lanjut": "1"})
    assert response.headers["Location"] == "/tugas"


@pytest.fixture
def skd_task(demo: Session, checks: list[TaskModel]) -> TaskModel:
    """Both F-001 applicants are MS, registration closed and announced: SKD scores are due."""
    verifier = get_user(demo, "verifikator1")
    for task in checks:
        submit(demo, task, verifier, {"memenuhi_syarat": True})
    formasi = demo.scalar(
        select(Instance).where(
            Instance.process_key == "seleksi_formasi", Instance.business_key == "F-001"
        )
    )
    assert formasi is not None
    fire_timers(demo, formasi.id, utcnow() + timedelta(days=15))
    demo.commit()
    [announce] = [t for t in open_tasks_at(demo, "umumkan_administrasi")]
    submit(demo, announce, get_user(demo, "panitia1"), {})
    return open_task(demo, "unggah_nilai_skd")


def post_file(client: FlaskClient, task: TaskModel, content: bytes) -> str:
    """Upload a score file on the task page; the answer's text."""
    data = {"berkas_skd": (io.BytesIO(content), "skd.csv")}
    response = client.post(f"/tugas/{task.id}", data=data, content_type="multipart/form-data")
    return response.text


def scores(db: Session) -> dict[str, int | None]:
    """SKD totals by NIK, as stored."""
    db.rollback()
    return {r.nik: r.skd_total for r in db.scalars(select(Lamaran).order_by(Lamaran.nik))}


def test_a_score_file_with_errors_shows_every_error_by_line_and_stores_nothing(
    client: FlaskClient, auth: AuthActions, demo: Session, skd_task: TaskModel
) -> None:
    auth.login("panitia1")
    assert "Periksa berkas" in client.get(f"/tugas/{skd_task.id}").text
    bad = f"NIK,TWK,TIU,TKP\n{NIK1},100,120,200\n{NIK2},100,120,900\n1234,1,1,50\n".encode()
    page = post_file(client, skd_task, bad)
    assert "<td>3</td><td>nilai TKP 900 di luar rentang 45–225</td>" in page
    assert "<td>4</td><td>NIK &#39;1234&#39; harus 16 angka</td>" in page
    assert 'name="terapkan"' not in page  # no Terapkan while there are errors
    assert open_task(demo, "unggah_nilai_skd").completed_at is None
    assert set(scores(demo).values()) == {None}


def test_a_valid_score_file_is_previewed_then_applied_with_terapkan(
    client: FlaskClient, auth: AuthActions, demo: Session, skd_task: TaskModel
) -> None:
    auth.login("panitia1")
    good = f"NIK,NAMA,TWK,TIU,TKP\n{NIK1},Andi,100,120,200\n{NIK2},Nur,95,115,190\n".encode()
    page = post_file(client, skd_task, good)
    assert "Andi Saputra" in page and "— → <strong>420</strong>" in page
    assert "— → <strong>400</strong>" in page
    assert open_task(demo, "unggah_nilai_skd").id == skd_task.id  # still open: only a preview
    assert set(scores(demo).values()) == {None}
    token = re.search(r'name="terapkan" value="([^"]+)"', page)
    assert token is not None

    response = client.post(f"/tugas/{skd_task.id}", data={"terapkan": token.group(1)})
    assert response.status_code == 303
    assert scores(demo) == {NIK1: 420, NIK2: 400, "3372011203970003": None}


def test_terapkan_with_a_forged_file_only_shows_the_preview_again(
    client: FlaskClient, auth: AuthActions, demo: Session, skd_task: TaskModel
) -> None:
    auth.login("panitia1")
    response = client.post(f"/tugas/{skd_task.id}", data={"terapkan": "forged.token"})
    assert response.status_code == 422
    assert open_task(demo, "unggah_nilai_skd").id == skd_task.id
