"""The inbox: Tugas saya and Tugas tim per role, claim and unclaim, filters, 404 for others."""

from __future__ import annotations

import io
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from engine.models import TaskModel, utcnow
from engine.users import add_user
from tests.web.conftest import AuthActions, open_task

PDF = b"%PDF-1.4\n%demo\n"


def rows(html: str) -> str:
    """The task table's body (the filters list task names too)."""
    start = html.find("<tbody>")
    return html[start : html.find("</tbody>")] if start >= 0 else ""


def test_atasan_sees_the_tasks_assigned_to_her_in_my_tasks(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    mine = client.get("/tugas").text
    assert "Setujui permintaan pelatihan" in mine
    assert "Usulkan kenaikan pangkat" in mine
    assert "Pendaftaran Pelatihan" in mine  # the process by name
    assert "2 tugas" in mine
    assert 'Tugas saya <span class="count">2</span>' in mine
    assert 'Tugas tim <span class="count">0</span>' in mine
    team = client.get("/tugas/tim").text
    assert "Tidak ada tugas di sini." in team


def test_pegawai_and_verifikator_start_with_empty_inboxes(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    for user in ("pegawai1", "verifikator1"):
        auth.login(user)
        assert "Tidak ada tugas di sini." in client.get("/tugas").text
        assert "Tidak ada tugas di sini." in client.get("/tugas/tim").text
        auth.logout()


def test_a_proposal_with_documents_reaches_the_verifikator_team(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    proposal = open_task(demo, "usulkan_kenaikan")
    auth.login("atasan1")
    page = client.get(f"/tugas/{proposal.id}").text
    assert 'enctype="multipart/form-data"' in page
    files = {
        name: (io.BytesIO(PDF), f"{name}.pdf")
        for name in ("sk_pangkat_terakhir", "skp_tahun_lalu", "skp_dua_tahun_lalu")
    }
    response = client.post(
        f"/tugas/{proposal.id}",
        data={**files, "catatan": "Berkas lengkap."},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text
    auth.logout()

    auth.login("verifikator1")
    assert "Tidak ada tugas di sini." in client.get("/tugas").text
    team = client.get("/tugas/tim").text
    assert "Verifikasi berkas usulan" in team
    assert 'Tugas tim <span class="count">1</span>' in team
    check = open_task(demo, "verifikasi_berkas")
    page = client.get(f"/tugas/{check.id}").text
    assert "sk_pangkat_terakhir.pdf" in page  # the earlier decision shows the documents by name
    assert "Berkas lengkap." in page


def test_claim_moves_a_team_task_to_my_tasks_and_unclaim_gives_it_back(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "buka_pendaftaran")
    auth.login("panitia1")
    assert "Buka pendaftaran" in client.get("/tugas/tim").text
    claimed = client.post(f"/tugas/{task.id}/ambil")
    assert claimed.status_code == 303
    assert claimed.headers["Location"] == "/tugas"
    mine = client.get("/tugas").text
    assert "Tugas “Buka pendaftaran” sekarang menjadi tugas Anda." in mine
    assert "Buka pendaftaran" in mine
    assert "Hendra Wijaya" in mine  # claimed by
    assert "Buka pendaftaran" not in rows(client.get("/tugas/tim").text)
    assert open_task(demo, "buka_pendaftaran").claimed_by_id is not None

    released = client.post(f"/tugas/{task.id}/lepas", data={"next": "/tugas/tim"})
    assert released.headers["Location"] == "/tugas/tim"
    assert "dikembalikan ke tugas tim" in client.get("/tugas/tim").text
    assert open_task(demo, "buka_pendaftaran").claimed_by_id is None


def test_a_task_claimed_by_a_colleague_is_not_shown(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    colleague = add_user(demo, "panitia2", ["panitia_seleksi"])
    colleague.password_hash = demo.get(type(colleague), 1).password_hash  # type: ignore[union-attr]
    demo.commit()
    task = open_task(demo, "buka_pendaftaran")
    auth.login("panitia1")
    client.post(f"/tugas/{task.id}/ambil")
    auth.logout()
    auth.login("panitia2")
    assert "Buka pendaftaran" not in rows(client.get("/tugas/tim").text)
    assert client.get(f"/tugas/{task.id}").status_code == 404
    assert client.post(f"/tugas/{task.id}/ambil").status_code == 404


def test_someone_elses_task_answers_404(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")  # assigned to atasan1
    auth.login("pegawai2")
    for response in (
        client.get(f"/tugas/{task.id}"),
        client.post(f"/tugas/{task.id}", data={"disetujui": "true"}),
        client.post(f"/tugas/{task.id}/ambil"),
        client.post(f"/tugas/{task.id}/lepas"),
        client.get("/tugas/999999"),
    ):
        assert response.status_code == 404
        assert "Tidak ditemukan" in response.text
    assert open_task(demo, "persetujuan_atasan").completed_at is None


def test_filters_search_sort_and_pages(
    app: Flask, client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    demo.query(TaskModel).filter_by(element_id="usulkan_kenaikan").update(
        {"due_at": utcnow() - timedelta(days=1), "business_key": "KP-2026-007"}
    )
    demo.commit()
    auth.login("atasan1")
    page = rows(client.get("/tugas?proses=pelatihan").text)
    assert "Setujui permintaan pelatihan" in page and "Usulkan kenaikan pangkat" not in page
    page = rows(client.get("/tugas?tugas=usulkan_kenaikan").text)
    assert "Usulkan kenaikan pangkat" in page and "Setujui permintaan pelatihan" not in page
    page = client.get("/tugas?q=2026-007").text
    assert "KP-2026-007" in page and "1 tugas" in page
    assert "Tidak ada tugas yang cocok" in client.get("/tugas?q=100%25").text
    overdue = rows(client.get("/tugas?tenggat=overdue").text)
    assert "Usulkan kenaikan pangkat" in overdue and "Terlambat</span>" in overdue
    assert "Setujui permintaan pelatihan" not in overdue
    newest = rows(client.get("/tugas?urut=-due").text)
    assert newest.index("Setujui permintaan") < newest.index("Usulkan kenaikan")
    soonest = rows(client.get("/tugas?urut=due").text)
    assert soonest.index("Usulkan kenaikan") < soonest.index("Setujui permintaan")

    app.config["INBOX_PAGE_SIZE"] = 1
    first = client.get("/tugas").text
    assert "Halaman 1 dari 2" in first and 'rel="next"' in first
    second = client.get("/tugas?hal=2").text
    assert "Halaman 2 dari 2" in second and 'rel="prev"' in second
    assert client.get("/tugas?hal=99&urut=nonsense&tenggat=x").status_code == 200


def test_language_switch_shows_english(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    response = client.post("/bahasa", data={"lang": "en", "next": "/tugas/tim"})
    assert response.headers["Location"] == "/tugas/tim"
    page = client.get("/tugas").text
    assert '<html lang="en">' in page
    assert "My tasks" in page and "Team tasks" in page and "Tugas saya" not in page
    task = open_task(demo, "persetujuan_atasan")
    form = client.get(f"/tugas/{task.id}").text
    assert "Decision" in form and "Approve" in form  # the task form follows the language
    client.post("/bahasa", data={"lang": "id", "next": "https://evil.example/"})
    assert "Tugas saya" in client.get("/tugas").text


def test_a_big_queue_is_counted_up_to_the_cap_and_its_choices_come_from_the_diagrams(
    app: Flask, client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    from pathlib import Path

    from engine.deploy import deploy
    from engine.runtime import start_instance
    from engine.users import get_user
    from tests.web.test_api import Api

    cuti = Path(__file__).resolve().parents[1] / "data" / "cuti.bpmn"
    deploy(demo, [(cuti.name, cuti.read_bytes())], "pemilik1")
    for n in range(4):  # four requests waiting for role pegawai (isi_permohonan)
        start_instance(demo, "cuti", get_user(demo, "admin1"), {"hari": n + 1})
    demo.commit()
    app.config["INBOX_COUNT_CAP"] = 3
    auth.login("pegawai1")
    page = client.get("/tugas/tim")
    assert page.status_code == 200
    assert '<span class="count">3+</span>' in page.text
    assert "Lebih dari 3 tugas: persempit dengan penyaring atau pencarian." in page.text
    # The task filter lists the role's tasks from the deployed diagrams.
    assert 'value="isi_permohonan"' in page.text
    filtered = client.get("/tugas/tim?tugas=isi_permohonan")
    assert "Lebih dari 3 tugas" in filtered.text
    app.config["INBOX_COUNT_CAP"] = 10
    assert "4 tugas" in client.get("/tugas/tim").text
    app.config["INBOX_COUNT_CAP"] = 2
    listed = Api(client).login("pegawai1").get("/api/tasks?tab=tim")
    assert listed.status_code == 200, listed.json
    assert (listed.json["total"], listed.json["total_capped"]) == (2, True)  # type: ignore[index]
