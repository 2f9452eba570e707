"""Employee pages: my record, the training catalogue, asking for a mentor, my requests, my team."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.models import Instance, TaskModel
from engine.runtime import complete_task
from engine.users import get_user
from tests.web.conftest import AuthActions, make_app

TRAINING = "TEK-ARSIP-01"  # upcoming in the demo catalogue; nobody has asked for it yet


def instances_of(db: Session, process: str, starter: str) -> list[Instance]:
    """The instances of a process started by a user (what the pages committed)."""
    db.rollback()
    user = get_user(db, starter)
    return list(
        db.scalars(
            select(Instance).where(
                Instance.process_key == process, Instance.started_by_id == user.id
            )
        )
    )


def open_tasks_of(db: Session, username: str, process: str) -> list[TaskModel]:
    """The open tasks assigned to a user in one process."""
    user = get_user(db, username)
    return list(
        db.scalars(
            select(TaskModel).where(
                TaskModel.assignee_id == user.id,
                TaskModel.process_key == process,
                TaskModel.completed_at.is_(None),
            )
        )
    )


def request_training(client: FlaskClient, kode: str = TRAINING) -> str:
    """POST the catalogue's request button; the page it lands on."""
    response = client.post(
        f"/pegawai/pelatihan/{kode}/minta",
        data={"motivasi": "Arsip bidang kami mulai digital."},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_record_shows_rank_and_jp_against_the_target(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai2")
    page = client.get("/pegawai").get_data(as_text=True)
    assert "199102202019032005" in page  # NIP
    assert "III/a" in page
    assert "Analis Keuangan" in page
    assert "24 dari 20 JP" in page  # the demo credits pegawai2 with 24 JP this year
    assert 'max="20"' in page


def test_the_jp_target_comes_from_configuration(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: Session
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    app: Flask = make_app(db_engine, tmp_path, JP_TARGET_TAHUNAN=40)
    client = app.test_client()
    AuthActions(client).login("pegawai2")
    page = client.get("/pegawai").get_data(as_text=True)
    assert "24 dari 40 JP" in page
    assert "16 JP lagi" in page


def test_record_lists_predicates_and_an_active_sanction(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai3")
    page = client.get("/pegawai").get_data(as_text=True)
    assert f"{date.today().year - 1}" in page and "Baik" in page
    assert "Teguran lisan" in page


def test_catalogue_lists_upcoming_trainings_with_seats_and_cost(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    page = client.get("/pegawai/pelatihan").get_data(as_text=True)
    assert "Pengelolaan Arsip Digital" in page
    assert "30 dari 30" in page  # seats left of the quota
    assert "Rp 2.500.000" in page
    # pegawai1's demo request for TEK-DATA-02 is still open: no second button for it
    assert "/pegawai/pelatihan/TEK-DATA-02/minta" not in page
    assert f"/pegawai/pelatihan/{TRAINING}/minta" in page


def test_requesting_a_training_starts_pelatihan_and_asks_the_supervisor(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    page = request_training(client)
    assert "telah dikirim" in page
    found = [
        i for i in instances_of(demo, "pelatihan", "pegawai1") if TRAINING in (i.business_key or "")
    ]
    assert [i.business_key for i in found] == [f"{TRAINING} / pegawai1"]
    tasks = open_tasks_of(demo, "atasan1", "pelatihan")
    assert f"{TRAINING} / pegawai1" in {t.business_key for t in tasks}


def test_a_second_request_for_the_same_training_is_refused(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    request_training(client)
    page = request_training(client)
    assert "sudah punya permintaan yang masih berjalan" in page
    found = [
        i for i in instances_of(demo, "pelatihan", "pegawai1") if TRAINING in (i.business_key or "")
    ]
    assert len(found) == 1


def test_a_request_needs_a_motivation(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    response = client.post(f"/pegawai/pelatihan/{TRAINING}/minta", data={"motivasi": " "})
    assert response.status_code == 303
    found = [
        i for i in instances_of(demo, "pelatihan", "pegawai1") if TRAINING in (i.business_key or "")
    ]
    assert found == []


def test_asking_for_a_mentor_starts_mentoring_and_asks_the_mentor(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    form = client.get("/pegawai/mentor").get_data(as_text=True)
    assert 'value="mentor1"' in form
    response = client.post(
        "/pegawai/mentor",
        data={"mentor": "mentor1", "topik": "Arsitektur aplikasi"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    found = instances_of(demo, "mentoring", "pegawai1")
    assert [i.business_key for i in found] == ["pegawai1 / mentor mentor1"]
    tasks = open_tasks_of(demo, "mentor1", "mentoring")
    assert found[0].id in {t.instance_id for t in tasks}


def test_asking_for_someone_who_is_no_mentor_is_refused(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    response = client.post("/pegawai/mentor", data={"mentor": "pegawai2", "topik": "Apa saja"})
    assert response.status_code == 422
    assert "Pilih mentor dari daftar" in response.get_data(as_text=True)
    assert instances_of(demo, "mentoring", "pegawai1") == []


def test_my_requests_lists_my_own_only(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    page = client.get("/pegawai/permintaan").get_data(as_text=True)
    assert "TEK-DATA-02 / pegawai1" in page
    assert "Setujui permintaan pelatihan" in page  # its current step
    assert "pegawai3 / mentor mentor1" not in page
    assert "SKP" not in page  # pegawai2's appraisal


def test_a_request_page_shows_its_history(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    (mine,) = instances_of(demo, "pelatihan", "pegawai1")
    auth.login("pegawai1")
    page = client.get(f"/pegawai/permintaan/{mine.id}").get_data(as_text=True)
    assert "Riwayat" in page
    assert "Ajukan pelatihan" in page


def test_someone_elses_request_is_not_found(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    (theirs,) = instances_of(demo, "mentoring", "pegawai3")
    auth.login("pegawai1")
    assert client.get(f"/pegawai/permintaan/{theirs.id}").status_code == 404
    assert client.get("/pegawai/permintaan/999999").status_code == 404


def test_the_supervisor_sees_the_team(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    page = client.get("/pegawai/tim").get_data(as_text=True)
    for name in ("Budi Santoso", "Siti Rahayu", "Agus Prasetyo"):
        assert name in page
    assert "Sangat Baik" in page  # pegawai1's last predicate
    assert "24 dari 20 JP" in page
    record = client.get("/pegawai/tim/pegawai2").get_data(as_text=True)
    assert "199102202019032005" in record


def test_the_team_pages_are_not_found_for_others(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    assert client.get("/pegawai/tim").status_code == 404
    assert client.get("/pegawai/tim/pegawai2").status_code == 404
    auth.logout()
    auth.login("atasan1")
    assert client.get("/pegawai/tim/mentor1").status_code == 404  # another unit's employee


def test_navigation_shows_the_employee_and_team_entries(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    page = client.get("/pegawai").get_data(as_text=True)
    assert 'href="/pegawai/tim"' in page and 'href="/pegawai/pelatihan"' in page
    auth.logout()
    auth.login("pegawai1")
    page = client.get("/pegawai").get_data(as_text=True)
    assert 'href="/pegawai/tim"' not in page


def test_applicants_do_not_see_employee_pages(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pelamar1")
    assert client.get("/pegawai").status_code == 404
    assert client.get("/pegawai/pelatihan").status_code == 404


def test_an_ended_request_shows_how_it_ended(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    request_training(client)
    demo.rollback()
    (task,) = [
        t
        for t in open_tasks_of(demo, "atasan1", "pelatihan")
        if t.business_key == f"{TRAINING} / pegawai1"
    ]
    complete_task(
        demo,
        task.id,
        get_user(demo, "atasan1"),
        {"disetujui": False, "alasan": "Anggaran bidang habis."},
    )
    demo.commit()
    page = client.get("/pegawai/permintaan").get_data(as_text=True)
    assert "Ditolak atasan" in page  # the end event it reached
    assert "Selesai" in page


def test_a_request_hr_started_for_an_employee_is_on_their_requests_page(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    from engine.runtime import start_instance

    hr = get_user(demo, "admin1")
    started = start_instance(
        demo, "pelatihan", hr, {"pegawai": "pegawai2", "kode": TRAINING}, f"{TRAINING} / pegawai2"
    )
    demo.commit()
    assert started.subject_id == get_user(demo, "pegawai2").id
    auth.login("pegawai2")
    listed = client.get("/pegawai/permintaan")
    assert f"/pegawai/permintaan/{started.id}" in listed.text
    assert client.get(f"/pegawai/permintaan/{started.id}").status_code == 200
    auth.logout()
    auth.login("pegawai1")
    assert f"/pegawai/permintaan/{started.id}" not in client.get("/pegawai/permintaan").text
    assert client.get(f"/pegawai/permintaan/{started.id}").status_code == 404
