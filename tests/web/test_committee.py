"""Committees per formasi, the inbox sort by last change, and JSON errors under /api/."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from engine.committee import add_member, committee_of, remove_member
from engine.demo import demo_instances
from engine.errors import InvalidInput, NotAllowed
from engine.models import Instance, TaskModel, utcnow
from engine.runtime import claim_task, start_instance
from engine.users import get_user
from tests.web.conftest import AuthActions, make_app
from tests.web.test_api import Api, body, colleague


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with the API and CSRF off (the pages are logged into through their forms)."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return make_app(db_engine, tmp_path)


def _task(db: Session, kode: str) -> TaskModel:
    db.rollback()
    row = db.scalar(
        select(TaskModel).where(
            TaskModel.element_id == "tetapkan_jadwal",
            TaskModel.business_key == kode,
            TaskModel.completed_at.is_(None),
        )
    )
    assert row is not None, kode
    return row


def _selection(db: Session, kode: str) -> None:
    """A new selection waiting for its schedule (a committee task, tetapkan_jadwal)."""
    [(key, starter, data, _steps)] = [i for i in demo_instances(date.today())[:1]]
    start_instance(db, key, get_user(db, starter), {**data, "formasi_id": kode}, kode)


@pytest.fixture
def seated(demo: Session) -> Session:
    """F-101 and F-102 wait for a schedule; panitia2 sits on F-101 and panitia1 on F-102."""
    colleague(demo, "panitia2", "panitia_seleksi")
    colleague(demo, "panitia3", "panitia_seleksi")
    _selection(demo, "F-101")
    _selection(demo, "F-102")
    add_member(demo, get_user(demo, "admin1"), "F-101", "panitia2")
    add_member(demo, get_user(demo, "admin1"), "F-102", "panitia1")
    demo.commit()
    return demo


def _committee(tasks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [t for t in tasks if t[0] == "tetapkan_jadwal"]


def test_the_demo_seats_panitia1_on_both_formasi(demo: Session) -> None:
    assert committee_of(demo, "F-001") == ["panitia1"]
    assert committee_of(demo, "F-002") == ["panitia1"]


def test_a_member_sees_and_claims_only_their_formasi_in_the_api(
    client: FlaskClient, seated: Session
) -> None:
    member = Api(client).login("panitia2")
    listed = member.tasks()
    assert ("tetapkan_jadwal", "F-101") in listed
    assert ("tetapkan_jadwal", "F-102") not in listed
    assert _committee(member.tasks("?scope=team")) == [("tetapkan_jadwal", "F-101")]
    other = _task(seated, "F-102")
    assert member.post(f"/api/tasks/{other.id}/claim").status_code == 404
    assert member.post(f"/api/tasks/{other.id}/complete", json={"data": {}}).status_code == 404
    assert member.post(f"/api/tasks/{_task(seated, 'F-101').id}/claim").status_code == 200
    assert _task(seated, "F-102").claimed_by_id is None


def test_a_member_sees_only_their_formasi_on_the_inbox_page(
    client: FlaskClient, auth: AuthActions, seated: Session
) -> None:
    auth.login("panitia2")
    page = client.get("/tugas/tim").get_data(as_text=True)
    assert "F-101" in page and "F-102" not in page
    other = _task(seated, "F-102")
    assert client.post(f"/tugas/{other.id}/ambil").status_code == 404
    assert client.get(f"/tugas/{other.id}").status_code == 404
    assert _task(seated, "F-102").claimed_by_id is None


def test_the_engine_refuses_a_claim_from_outside_the_committee(seated: Session) -> None:
    with pytest.raises(NotAllowed):
        claim_task(seated, _task(seated, "F-102").id, get_user(seated, "panitia2"))
    seated.rollback()
    assert claim_task(seated, _task(seated, "F-102").id, get_user(seated, "admin1"))


def test_a_formasi_without_members_is_open_to_every_panitia(
    client: FlaskClient, seated: Session
) -> None:
    outsider = Api(client).login("panitia3")
    assert _committee(outsider.tasks("?scope=team")) == []  # both committees are filled
    assert remove_member(seated, get_user(seated, "admin1"), "F-102", "panitia1")
    seated.commit()
    assert committee_of(seated, "F-102") == []
    assert _committee(outsider.tasks("?scope=team")) == [("tetapkan_jadwal", "F-102")]
    assert _committee(Api(client).login("panitia2").tasks("?scope=team")) == [
        ("tetapkan_jadwal", "F-101"),
        ("tetapkan_jadwal", "F-102"),
    ]
    task = _task(seated, "F-102")
    assert outsider.post(f"/api/tasks/{task.id}/claim").status_code == 200


def test_only_panitia_may_sit_and_only_an_admin_seats_them(seated: Session) -> None:
    admin = get_user(seated, "admin1")
    with pytest.raises(InvalidInput, match="panitia_seleksi"):
        add_member(seated, admin, "F-101", "pegawai1")
    with pytest.raises(NotAllowed):
        add_member(seated, get_user(seated, "panitia1"), "F-102", "panitia2")
    assert add_member(seated, admin, "F-101", "panitia2") is False  # already seated
    assert remove_member(seated, admin, "F-102", "panitia2") is False  # was not on it


def test_seating_is_audited(seated: Session) -> None:
    from engine.models import AuditEntry

    actions = seated.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("panitia_%"))
    ).all()
    assert actions.count("panitia_ditambah") == 4  # two demo seats and the fixture's two


def test_sort_updated_puts_the_last_changed_instance_first(
    client: FlaskClient, auth: AuthActions, seated: Session
) -> None:
    demo = seated
    add_member(demo, get_user(demo, "admin1"), "F-101", "panitia1")
    demo.commit()
    f002 = _task(demo, "F-102")
    demo.execute(
        update(Instance)
        .where(Instance.id == f002.instance_id)
        .values(updated_at=utcnow() + timedelta(days=1))
    )
    demo.commit()
    api = Api(client).login("panitia1")
    assert api.tasks("?sort=updated&scope=team")[0] == ("tetapkan_jadwal", "F-102")
    assert api.get("/api/tasks?sort=sideways").status_code == 400
    auth.login("panitia1")
    page = client.get("/tugas/tim?urut=updated").get_data(as_text=True)
    assert page.index("F-102") < page.index("F-101")
    spec = client.get("/api/openapi.json").get_json()
    sorts = [p for p in spec["paths"]["/api/tasks"]["get"]["parameters"] if p["name"] == "sort"]
    assert "updated" in sorts[0]["schema"]["enum"]


def test_unknown_api_paths_and_wrong_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/api/no-such-thing")
    assert missing.status_code == 404 and missing.is_json
    assert body(missing)["error"] == "Tidak ditemukan" or body(missing)["error"]
    wrong = client.delete("/api/tokens")
    assert wrong.status_code == 405 and wrong.is_json
    assert "POST" in wrong.headers["Allow"]
    page = client.get("/no-such-page")
    assert page.status_code == 404 and not page.is_json


def test_the_cli_seats_and_unseats_and_refuses_a_non_panitia(
    demo: Session, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_cli import Cli

    cli = Cli(db_url, capsys)
    colleague(demo, "panitia2", "panitia_seleksi")
    out = cli("formasi", "panitia", "F-001", "panitia2", "--as", "admin1").stdout
    assert "panitia2 added to the committee of F-001" in out
    assert "committee of F-001: panitia1, panitia2" in out
    demo.rollback()
    assert committee_of(demo, "F-001") == ["panitia1", "panitia2"]
    out = cli("formasi", "panitia", "F-001", "panitia2", "--hapus", "--as", "admin1").stdout
    assert "panitia2 removed from the committee of F-001" in out
    refused = cli("formasi", "panitia", "F-001", "pegawai1", "--as", "admin1", ok=False)
    assert refused.returncode == 2 and "panitia_seleksi" in refused.stderr
    not_admin = cli("formasi", "panitia", "F-002", "panitia2", "--as", "panitia1", ok=False)
    assert not_admin.returncode == 2
    demo.rollback()
    assert committee_of(demo, "F-001") == ["panitia1"]
    assert committee_of(demo, "F-002") == ["panitia1"]


def test_the_hr_admin_seats_and_unseats_members_on_the_committee_page(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    colleague(demo, "panitia2", "panitia_seleksi")
    auth.login("admin1")
    page = client.get("/admin/panitia")
    assert page.status_code == 200
    assert "F-001" in page.text and "panitia2" in page.text
    added = client.post("/admin/panitia/F-001", data={"username": "panitia2", "action": "tambah"})
    assert added.status_code == 303
    assert "panitia2 kini menjadi panitia formasi F-001." in client.get("/admin/panitia").text
    demo.rollback()
    assert committee_of(demo, "F-001") == ["panitia1", "panitia2"]
    client.post("/admin/panitia/F-001", data={"username": "panitia1", "action": "hapus"})
    demo.rollback()
    assert committee_of(demo, "F-001") == ["panitia2"]


def test_the_committee_page_refuses_non_panitia_and_hides_from_other_staff(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    client.post("/admin/panitia/F-001", data={"username": "atasan1", "action": "tambah"})
    page = client.get("/admin/panitia")
    assert "Tidak diubah: atasan1 tidak memegang peran panitia_seleksi" in page.text
    demo.rollback()
    assert committee_of(demo, "F-001") == ["panitia1"]
    auth.logout()
    auth.login("panitia1")
    assert client.get("/admin/panitia").status_code == 404
    refused = client.post("/admin/panitia/F-001", data={"username": "panitia1", "action": "hapus"})
    assert refused.status_code == 404
