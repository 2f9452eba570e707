"""The task page: its form, per-field messages, completion, context, and friendly errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from engine.errors import StaleTask
from engine.models import TaskModel
from engine.runtime import start_instance
from engine.users import get_user
from tests.conftest import DATA
from tests.web.conftest import AuthActions, open_task


def test_task_page_shows_form_context_and_history(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    auth.login("atasan1")
    page = client.get(f"/tugas/{task.id}").text
    assert "<h1>Setujui permintaan pelatihan</h1>" in page
    assert "<legend>Keputusan" in page and 'value="false"' in page  # approve / reject
    assert '<label for="alasan">Alasan</label>' in page
    assert "Kode pelatihan" in page and "TEK-DATA-02" in page  # the case data, labelled
    assert "Mendukung tugas analisis data layanan." in page  # the employee's motivation
    assert "Dimulai" in page and "Selesai: Ajukan pelatihan" in page  # history
    assert "Traceback" not in page


def test_rejection_without_a_reason_shows_the_fields_message(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    auth.login("atasan1")
    response = client.post(f"/tugas/{task.id}", data={"disetujui": "false", "alasan": ""})
    assert response.status_code == 422
    assert "Perbaiki isian yang ditandai." in response.text
    assert '<ul class="errors" id="alasan-error">' in response.text
    assert "Isian ini wajib diisi." in response.text
    assert 'aria-describedby="alasan-error"' in response.text
    assert re.search(r'<input checked[^>]*value="false"', response.text)  # the choice is kept
    assert open_task(demo, "persetujuan_atasan").completed_at is None


def test_valid_decision_completes_the_task_and_returns_to_the_inbox(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    auth.login("atasan1")
    response = client.post(
        f"/tugas/{task.id}", data={"disetujui": "false", "alasan": "Anggaran tahun ini habis."}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/tugas"
    inbox = client.get("/tugas").text
    assert "Tugas “Setujui permintaan pelatihan” telah diselesaikan." in inbox
    assert 'Tugas saya <span class="count">1</span>' in inbox
    demo.rollback()
    done = demo.get(TaskModel, task.id)
    assert done is not None and done.completed_at is not None
    assert done.completed_by_id == get_user(demo, "atasan1").id
    again = client.get(f"/tugas/{task.id}")
    assert again.status_code == 302
    assert "Tugas ini sudah diselesaikan." in client.get("/tugas").text


def test_a_task_completed_meanwhile_answers_409_and_keeps_nothing(
    client: FlaskClient, auth: AuthActions, demo: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    auth.login("atasan1")

    def lost_race(*args: object, **kwargs: object) -> None:
        raise StaleTask("instance changed meanwhile")

    monkeypatch.setattr("webui.inbox.complete_task", lost_race)
    response = client.post(f"/tugas/{task.id}", data={"disetujui": "true"})
    assert response.status_code == 409
    assert "Isian Anda tidak disimpan" in response.text
    assert "Traceback" not in response.text


def test_task_without_form_takes_plain_names_and_values(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    from engine.deploy import deploy

    deploy(demo, [("cuti.bpmn", (DATA / "cuti.bpmn").read_bytes())], "pemilik1")
    instance = start_instance(demo, "cuti", get_user(demo, "pegawai1"), {}, "CUTI-001")
    demo.commit()
    task = open_task(demo, "isi_permohonan")
    auth.login("pegawai1")
    page = client.get(f"/tugas/{task.id}").text
    assert "Data untuk tugas ini" in page and '<label for="kunci-1">Nama 1</label>' in page
    bad = client.post(f"/tugas/{task.id}", data={"kunci": ["_rahasia"], "nilai": ["x"]})
    assert bad.status_code == 422
    response = client.post(
        f"/tugas/{task.id}", data={"kunci": ["hari", "alasan"], "nilai": ["3", "keluarga"]}
    )
    assert response.status_code == 303
    demo.rollback()
    assert open_task(demo, "persetujuan").instance_id == instance.id


def test_camunda_fields_make_the_form(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    from engine.deploy import deploy

    files = [(name, (DATA / name).read_bytes()) for name in ("nilai.dmn", "camunda_ujian.bpmn")]
    deploy(demo, files, "pemilik1")
    start_instance(demo, "ujian", get_user(demo, "panitia1"), {}, None)
    demo.commit()
    task = open_task(demo, "isi_nilai")
    auth.login("panitia1")
    page = client.get(f"/tugas/{task.id}").text
    assert '<label for="skor">Skor</label>' in page
    response = client.post(f"/tugas/{task.id}", data={"skor": "tujuh"})
    assert response.status_code == 422 and 'id="skor-error"' in response.text
    assert client.post(f"/tugas/{task.id}", data={"skor": "77"}).status_code == 303


def test_unknown_page_is_a_friendly_404(client: FlaskClient) -> None:
    response = client.get("/tidak-ada")
    assert response.status_code == 404
    assert "Tidak ditemukan" in response.text and "Traceback" not in response.text


def test_an_unexpected_error_is_a_friendly_500_without_traceback(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/meledak")
    def explode() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/meledak")
    assert response.status_code == 500
    assert "Terjadi kesalahan" in response.text
    assert "Traceback" not in response.text and "secret internals" not in response.text
    assert "secret internals" in caplog.text  # the operator still sees it in the log


def test_static_css_is_served_from_the_app(client: FlaskClient) -> None:
    response = client.get("/static/jenjang.css")
    assert response.status_code == 200 and "@media" in response.text
    response.close()


def test_catalogues_exist_for_both_languages() -> None:
    root = Path(__file__).resolve().parents[2] / "webui" / "translations"
    for locale in ("id", "en"):
        assert (root / locale / "LC_MESSAGES" / "messages.po").exists()
