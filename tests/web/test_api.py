"""The JSON API: tokens, who sees which tasks and instances, claim, complete, start, errors."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.committee import add_member
from engine.models import Instance, TaskModel, User, utcnow
from engine.tokens import ApiToken
from engine.users import add_user, get_user
from tests.web.conftest import PASSWORD, AuthActions, make_app, open_task
from webui.api import bp

PDF = b"%PDF-1.4\n%demo\n"
JPEG = b"\xff\xd8\xff\xe0demo"


def api_app(db_engine: Engine, tmp_path: Path, **config: Any) -> Flask:
    """The web app with the API registered (until create_app registers it), CSRF on."""
    app = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True, **config)
    if "api" not in app.blueprints:
        app.register_blueprint(bp)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(bp)
    return app


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with the API, on an empty, migrated test database."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return api_app(db_engine, tmp_path)


class Api:
    """Calls the API as one user at a time, with a token from POST /api/tokens."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.headers: dict[str, str] = {}

    def login(self, username: str, password: str = PASSWORD) -> Api:
        """Get a token and send it with every later call."""
        response = self.client.post(
            "/api/tokens", json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.json
        self.headers = {"Authorization": f"Bearer {response.json['token']}"}  # type: ignore[index]
        return self

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET with the token."""
        return self.client.get(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        """POST with the token."""
        return self.client.post(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def tasks(self, query: str = "") -> list[tuple[str, str]]:
        """(element id, business key) of each task listed."""
        response = self.get(f"/api/tasks{query}")
        assert response.status_code == 200, response.json
        return [(t["element_id"], t["business_key"]) for t in response.json["tasks"]]  # type: ignore[index]


@pytest.fixture
def api(client: FlaskClient) -> Api:
    """An API caller on `client`."""
    return Api(client)


def body(response: TestResponse) -> dict[str, Any]:
    """The JSON object of an answer."""
    found = response.get_json()
    assert isinstance(found, dict), response.data
    return found


def colleague(db: Session, name: str, role: str) -> User:
    """Another user with the demo password."""
    user = add_user(db, name, [role])
    user.password_hash = get_user(db, "admin1").password_hash
    db.commit()
    return user


# --- tokens -------------------------------------------------------------------------------


def test_a_token_is_issued_for_the_right_password_and_only_its_digest_is_kept(
    client: FlaskClient, demo: Session
) -> None:
    response = client.post("/api/tokens", json={"username": "atasan1", "password": PASSWORD})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    issued = body(response)
    assert issued["token_type"] == "Bearer" and issued["username"] == "atasan1"
    assert issued["expires_in"] == 12 * 3600
    demo.rollback()
    row = demo.scalar(select(ApiToken))
    assert row is not None
    assert row.token_sha256 == hashlib.sha256(issued["token"].encode()).hexdigest()
    assert issued["token"] not in {row.token_sha256, str(row.id)}
    assert row.expires_at - row.created_at == timedelta(hours=12)
    listed = client.get("/api/tasks", headers={"Authorization": f"Bearer {issued['token']}"})
    assert listed.status_code == 200
    demo.rollback()
    assert demo.scalar(select(ApiToken.last_used_at)) is not None


def test_token_lifetime_comes_from_the_config(
    app: Flask, client: FlaskClient, demo: Session
) -> None:
    app.config["API_TOKEN_LIFETIME"] = timedelta(minutes=5)
    response = client.post("/api/tokens", json={"username": "atasan1", "password": PASSWORD})
    assert body(response)["expires_in"] == 300


def test_wrong_password_unknown_user_and_missing_fields_are_refused(
    client: FlaskClient, demo: Session
) -> None:
    for username in ("atasan1", "nobody"):
        response = client.post("/api/tokens", json={"username": username, "password": "wrong"})
        assert response.status_code == 401
        assert body(response)["error"] == "Nama pengguna atau kata sandi salah."
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    missing = client.post("/api/tokens", json={"username": "atasan1"})
    assert missing.status_code == 422
    assert body(missing)["errors"] == {"password": ["Isian ini wajib diisi."]}
    assert client.post("/api/tokens", data="username=atasan1").status_code == 400
    demo.rollback()
    assert demo.scalar(select(ApiToken)) is None


def test_repeated_failures_lock_the_username_like_the_login_page(
    client: FlaskClient, demo: Session
) -> None:
    for _attempt in range(5):
        wrong = client.post("/api/tokens", json={"username": "atasan1", "password": "x"})
        assert wrong.status_code == 401
    locked = client.post("/api/tokens", json={"username": "Atasan1", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Terlalu banyak" in body(locked)["error"]
    other = client.post("/api/tokens", json={"username": "verifikator1", "password": PASSWORD})
    assert other.status_code == 201


def test_missing_invalid_or_expired_tokens_are_401(
    client: FlaskClient, auth: AuthActions, api: Api, demo: Session
) -> None:
    missing = client.get("/api/tasks")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="jenjang"'
    assert body(missing) == {"error": "Silakan masuk untuk melihat halaman ini.", "errors": {}}
    invalid = client.get("/api/tasks", headers={"Authorization": "Bearer jjg_nonsense"})
    assert invalid.status_code == 401
    assert 'error="invalid_token"' in invalid.headers["WWW-Authenticate"]
    api.login("atasan1")
    assert api.get("/api/tasks").status_code == 200
    demo.rollback()
    demo.execute(ApiToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    demo.commit()
    assert api.get("/api/tasks").status_code == 401
    auth.login("atasan1")  # a session cookie is not a token: the API ignores it (no CSRF needed)
    assert client.get("/api/tasks").status_code == 401


def test_a_deactivated_users_token_stops_working(api: Api, demo: Session) -> None:
    api.login("atasan1")
    get_user(demo, "atasan1").active = False
    demo.commit()
    assert api.get("/api/tasks").status_code == 401


# --- tasks --------------------------------------------------------------------------------


def test_each_user_sees_only_the_tasks_they_may_act_on(api: Api, demo: Session) -> None:
    assert sorted(api.login("atasan1").tasks()) == [
        ("persetujuan_atasan", "TEK-DATA-02 / pegawai1"),
        ("usulkan_kenaikan", "pegawai1 → III/c"),
    ]
    assert api.login("verifikator1").tasks() == []
    assert api.login("pelamar1").tasks() == [("unggah_dokumen", "F-001/pelamar1")]
    everything = api.login("admin1").tasks("?per_page=100")
    assert len(everything) == demo.query(TaskModel).filter(TaskModel.completed_at.is_(None)).count()


def test_filters_search_sort_and_pages(api: Api, demo: Session) -> None:
    demo.query(TaskModel).filter_by(element_id="usulkan_kenaikan").update(
        {"due_at": utcnow() - timedelta(days=1), "business_key": "KP-2026-007"}
    )
    demo.query(TaskModel).filter_by(element_id="persetujuan_atasan").update(
        {"due_at": utcnow() + timedelta(days=3)}
    )
    demo.commit()
    api.login("atasan1")
    assert [e for e, _k in api.tasks("?process=pelatihan")] == ["persetujuan_atasan"]
    assert [e for e, _k in api.tasks("?task=usulkan_kenaikan")] == ["usulkan_kenaikan"]
    assert api.tasks("?q=2026-007") == [("usulkan_kenaikan", "KP-2026-007")]
    assert api.tasks("?q=100%25") == []
    assert [e for e, _k in api.tasks("?due=overdue")] == ["usulkan_kenaikan"]
    assert [e for e, _k in api.tasks("?due=today")] == ["usulkan_kenaikan"]
    assert len(api.tasks("?due=week")) == 2
    assert api.tasks("?due=none") == []
    assert [e for e, _k in api.tasks("?sort=due")] == ["usulkan_kenaikan", "persetujuan_atasan"]
    assert [e for e, _k in api.tasks("?sort=-due")] == ["persetujuan_atasan", "usulkan_kenaikan"]
    first = body(api.get("/api/tasks?per_page=1"))
    second = body(api.get("/api/tasks?per_page=1&page=2"))
    assert (first["total"], first["pages"], first["page"], first["per_page"]) == (2, 2, 1, 1)
    assert first["tasks"][0]["id"] != second["tasks"][0]["id"]
    assert body(api.get("/api/tasks?page=3"))["tasks"] == []
    bad = api.get("/api/tasks?due=someday&sort=x&page=0&per_page=1000&scope=everyone")
    assert bad.status_code == 400
    assert set(body(bad)["errors"]) == {"due", "sort", "page", "per_page", "scope"}
    assert body(bad)["errors"]["due"] == ["Pilihan tidak valid."]


def test_scope_mine_and_team_follow_the_inbox_tabs(api: Api, demo: Session) -> None:
    task = open_task(demo, "buka_pendaftaran")
    api.login("panitia1")
    assert api.tasks("?scope=team") == [("buka_pendaftaran", "JPT 2026")]
    assert api.tasks("?scope=mine") == []
    claimed = api.post(f"/api/tasks/{task.id}/claim")
    assert claimed.status_code == 200
    assert body(claimed)["task"]["claimed_by"] == "panitia1"
    assert api.tasks("?scope=team") == []
    assert api.tasks("?scope=mine") == [("buka_pendaftaran", "JPT 2026")]
    released = api.post(f"/api/tasks/{task.id}/unclaim")
    assert released.status_code == 200 and body(released)["task"]["claimed_by"] is None
    assert api.tasks("?scope=team") == [("buka_pendaftaran", "JPT 2026")]


def test_a_claim_after_someone_elses_is_409(client: FlaskClient, demo: Session) -> None:
    colleague(demo, "panitia2", "panitia_seleksi")
    for kode in ("F-001", "F-002"):  # the demo seats panitia1 on both committees
        add_member(demo, get_user(demo, "admin1"), kode, "panitia2")
    demo.commit()
    task = open_task(demo, "buka_pendaftaran")
    first, second = Api(client).login("panitia1"), Api(client).login("panitia2")
    assert first.post(f"/api/tasks/{task.id}/claim").status_code == 200
    assert first.post(f"/api/tasks/{task.id}/claim").status_code == 200  # claiming again is fine
    taken = second.post(f"/api/tasks/{task.id}/claim")
    assert taken.status_code == 409
    assert body(taken)["error"] == "Tugas ini sudah diambil orang lain."
    assert second.post(f"/api/tasks/{task.id}/complete", json={"data": {}}).status_code == 409
    assert second.tasks() == []  # nor is it listed for the colleague any more
    assert open_task(demo, "buka_pendaftaran").claimed_by_id == get_user(demo, "panitia1").id


def test_someone_elses_task_is_404_and_untouched(api: Api, demo: Session) -> None:
    task = open_task(demo, "persetujuan_atasan")  # assigned to atasan1
    api.login("pegawai2")
    for response in (
        api.post(f"/api/tasks/{task.id}/claim"),
        api.post(f"/api/tasks/{task.id}/unclaim"),
        api.post(f"/api/tasks/{task.id}/complete", json={"data": {"disetujui": True}}),
        api.post("/api/tasks/999999/claim"),
    ):
        assert response.status_code == 404
        assert body(response) == {"error": "Tidak ditemukan", "errors": {}}
    assert open_task(demo, "persetujuan_atasan").completed_at is None


def test_invalid_data_is_422_with_messages_per_field_in_the_asked_language(
    api: Api, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    api.login("atasan1")
    path = f"/api/tasks/{task.id}/complete"
    indonesian = api.post(path, json={"data": {"disetujui": False, "alasan": ""}})
    assert indonesian.status_code == 422
    assert body(indonesian) == {
        "error": "Perbaiki isian yang ditandai.",
        "errors": {"alasan": ["Isian ini wajib diisi."]},
    }
    english = api.post(
        path,
        json={"data": {"disetujui": False, "alasan": ""}},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    assert english.status_code == 422
    assert body(english) == {
        "error": "Please correct the marked fields.",
        "errors": {"alasan": ["This field is required."]},
    }
    assert api.post(path, data="not json", content_type="application/json").status_code == 400
    assert api.post(path, json=[1, 2]).status_code == 400
    assert api.post(path, json={"data": "disetujui"}).status_code == 400
    assert open_task(demo, "persetujuan_atasan").completed_at is None


def test_valid_data_completes_the_task_and_the_instance_moves_on(api: Api, demo: Session) -> None:
    task = open_task(demo, "persetujuan_atasan")
    api.login("atasan1")
    path = f"/api/tasks/{task.id}/complete"
    done = api.post(path, json={"data": {"disetujui": False, "alasan": "Anggaran habis."}})
    assert done.status_code == 200, done.json
    answer = body(done)
    assert answer["task"]["completed_by"] == "atasan1" and answer["task"]["outcome"] == "completed"
    assert answer["task"]["id"] == task.id and answer["task"]["completed_at"] is not None
    assert answer["instance"]["id"] == task.instance_id
    assert task.id not in [t["id"] for t in answer["instance"]["open_tasks"]]
    assert "history" not in answer["instance"]  # the completion answer stays small
    seen = body(api.get(f"/api/instances/{task.instance_id}"))
    completed = [h for h in seen["history"] if h["task_id"] == task.id]
    assert completed[-1]["detail"]["data"] == {"disetujui": False, "alasan": "Anggaran habis."}
    demo.rollback()
    row = demo.get(TaskModel, task.id)
    assert row is not None and row.completed_by_id == get_user(demo, "atasan1").id
    again = api.post(path, json={"data": {"disetujui": True}})
    assert again.status_code == 409
    assert body(again)["error"] == "Tugas ini sudah diselesaikan."


def test_documents_travel_as_base64_and_reach_the_verifikator(
    client: FlaskClient, demo: Session
) -> None:
    task = open_task(demo, "unggah_dokumen")  # pelamar1's
    files = {
        name: {"filename": f"{name}.pdf", "content_base64": base64.b64encode(PDF).decode()}
        for name in ("ktp", "ijazah", "transkrip")
    }
    pelamar = Api(client).login("pelamar1")
    path = f"/api/tasks/{task.id}/complete"
    incomplete = pelamar.post(path, json={"files": files})
    assert incomplete.status_code == 422 and set(body(incomplete)["errors"]) == {"pas_foto"}
    broken = {**files, "pas_foto": {"filename": "foto.jpg", "content_base64": "%%%"}}
    assert pelamar.post(path, json={"files": broken}).status_code == 400
    photo = {"filename": "foto.jpg", "content_base64": base64.b64encode(JPEG).decode()}
    done = pelamar.post(path, json={"files": {**files, "pas_foto": photo}})
    assert done.status_code == 200, done.json
    assert Api(client).login("verifikator1").tasks() == [
        ("verifikasi_administrasi", "F-001/pelamar1")
    ]


# --- instances and processes --------------------------------------------------------------


def test_pegawai_starts_a_training_request(client: FlaskClient, demo: Session) -> None:
    pegawai = Api(client).login("pegawai1")
    started = pegawai.post(
        "/api/processes/pelatihan/instances",
        json={"data": {"pegawai": "pegawai1"}, "business_key": "API-001"},
    )
    assert started.status_code == 201, started.json
    instance = body(started)
    assert started.headers["Location"] == f"/api/instances/{instance['id']}"
    assert (instance["process"], instance["started_by"], instance["business_key"]) == (
        "pelatihan",
        "pegawai1",
        "API-001",
    )
    assert [t["element_id"] for t in instance["open_tasks"]] == ["ajukan_pelatihan"]
    assert pegawai.get(f"/api/instances/{instance['id']}").status_code == 200
    assert Api(client).login("pegawai2").get(f"/api/instances/{instance['id']}").status_code == 404
    unknown = pegawai.post("/api/processes/tidak_ada/instances", json={})
    assert unknown.status_code == 404
    bad = pegawai.post("/api/processes/pelatihan/instances", json={"data": {"_x": 1}})
    assert bad.status_code == 422 and "data" in body(bad)["errors"]
    demo.rollback()
    assert demo.scalar(select(Instance).where(Instance.business_key == "API-001")) is not None


def test_only_participants_may_start_a_process(client: FlaskClient, demo: Session) -> None:
    applicant = Api(client).login("pelamar1")
    refused = applicant.post(
        "/api/processes/seleksi_formasi/instances", json={"data": {"formasi_id": "F-999"}}
    )
    assert refused.status_code == 403
    assert applicant.post("/api/processes/pelatihan/instances", json={}).status_code == 403
    demo.rollback()
    assert (
        demo.scalar(
            select(Instance)
            .where(Instance.process_key == "seleksi_formasi")
            .where(Instance.business_key == "F-999")
        )
        is None
    )


def test_instances_are_shown_to_starter_task_holders_and_admins_only(
    client: FlaskClient, demo: Session
) -> None:
    def lamaran(applicant: str) -> int:
        found = demo.scalar(
            select(Instance.id).where(Instance.business_key == f"F-001/{applicant}")
        )
        assert found is not None
        return found

    training = open_task(demo, "persetujuan_atasan").instance_id
    pelamar = Api(client).login("pelamar1")
    own = pelamar.get(f"/api/instances/{lamaran('pelamar1')}")
    assert own.status_code == 200 and body(own)["started_by"] == "pelamar1"
    for instance_id in (lamaran("pelamar2"), training, 999999):
        hidden = pelamar.get(f"/api/instances/{instance_id}")
        assert hidden.status_code == 404
        assert body(hidden) == {"error": "Tidak ditemukan", "errors": {}}
    assert Api(client).login("atasan1").get(f"/api/instances/{training}").status_code == 200
    assert (
        Api(client).login("admin1").get(f"/api/instances/{lamaran('pelamar2')}").status_code == 200
    )


def test_processes_are_listed_with_their_versions(api: Api, demo: Session) -> None:
    listed = body(api.login("pegawai1").get("/api/processes"))
    by_key = {p["key"]: p for p in listed["processes"]}
    assert {"pelatihan", "lamaran", "kenaikan_pangkat", "mentoring"} <= set(by_key)
    assert by_key["pelatihan"]["versions"] == [1] and by_key["pelatihan"]["version"] == 1
    assert by_key["pelatihan"]["active_instances"] == 1
    assert "keputusan_pelatihan" in {d["key"] for d in listed["decisions"]}


def test_unexpected_errors_are_json_without_internals(
    api: Api, demo: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("webui.api.list_processes", explode)
    response = api.login("pegawai1").get("/api/processes")
    assert response.status_code == 500
    assert body(response) == {"error": "Terjadi kesalahan", "errors": {}}
    assert "secret internals" in caplog.text


def test_starting_a_process_for_someone_else_needs_the_right_to(api: Api, demo: Session) -> None:
    api.login("pegawai1")
    other = api.post("/api/processes/pelatihan/instances", json={"data": {"pegawai": "pegawai2"}})
    assert other.status_code == 403
    own = api.post(
        "/api/processes/pelatihan/instances", json={"data": {"pegawai": "pegawai1", "kode": ""}}
    )
    assert own.status_code == 201, own.json


def test_a_client_logs_out_by_revoking_its_token(api: Api, demo: Session) -> None:
    api.login("atasan1")
    assert api.get("/api/tasks").status_code == 200
    revoked = api.client.delete("/api/tokens/current", headers=api.headers)
    assert revoked.status_code == 204
    assert api.get("/api/tasks").status_code == 401
    assert api.client.delete("/api/tokens/current", headers=api.headers).status_code == 401
