"""Who may see what: every GET route that takes an id × every demo role × someone else's ids.

The routes come from `app.url_map`, so a new one is checked as soon as it exists: a GET route
with a URL argument needs a row in FINDERS (how to find ids in the demo, who may see them and
what must not show to anyone else) or in NO_DATA, else its test fails. Anyone not allowed gets
403 or 404 and none of the data; the owner (or whoever the rules allow) gets 200 and the data.
Every form POST without a CSRF token is refused, and the API without a bearer token is 401.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from engine.documents import Document
from engine.models import Instance, TaskModel
from engine.recruitment import Lamaran
from engine.users import get_user
from tests.web.conftest import PASSWORD, make_app

USERS = (
    "pelamar1",
    "verifikator1",
    "panitia1",
    "ppk1",
    "pegawai1",
    "atasan1",
    "mentor1",
    "admin1",
    "pemilik1",
)
NIK1, NIK2 = "3372010101990001", "3372014106980002"  # pelamar1 (Andi), pelamar2 (Nur Aini)
MOTIVATION = "Mendukung tugas analisis data layanan."  # pegawai1's training request
NIP1 = "198807152014031002"  # pegawai1's record
KTP_MARK = b"% KTP Andi Saputra " + NIK1.encode()
PDF = b"%PDF-1.7\n" + KTP_MARK + b"\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


@dataclass(frozen=True)
class Case:
    """One resource: its URL arguments, who may see it, and what nobody else may see of it.

    `subject` is the person the data is about: their own name shows in their own menu, so the
    secrets are not looked for in the pages they get.
    """

    args: dict[str, Any]
    allowed: frozenset[str]
    secrets: tuple[str, ...]
    subject: str


def _instance(db: Session, process: str, business_key: str) -> Instance:
    found = db.scalar(
        select(Instance).where(
            Instance.process_key == process, Instance.business_key == business_key
        )
    )
    assert found is not None, (process, business_key)
    return found


def _task(db: Session, element: str, instance: Instance) -> TaskModel:
    found = db.scalar(
        select(TaskModel).where(
            TaskModel.element_id == element,
            TaskModel.instance_id == instance.id,
            TaskModel.completed_at.is_(None),
        )
    )
    assert found is not None, element
    return found


def _lamaran(db: Session, nik: str) -> Lamaran:
    found = db.scalar(select(Lamaran).where(Lamaran.nik == nik))
    assert found is not None, nik
    return found


def task_cases(db: Session) -> list[Case]:
    """A verifier's check of pelamar1, atasan1's approval for pegawai1, pelamar2's own task."""
    andi = _instance(db, "lamaran", "F-001/pelamar1")
    nur = _instance(db, "lamaran", "F-001/pelamar2")
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    return [
        Case(
            {"task_id": _task(db, "verifikasi_administrasi", andi).id},
            frozenset({"verifikator1", "admin1"}),
            (NIK1, "Andi Saputra"),
            "pelamar1",
        ),
        Case(
            {"task_id": _task(db, "persetujuan_atasan", training).id},
            frozenset({"atasan1", "admin1"}),
            (MOTIVATION,),
            "pegawai1",
        ),
        Case(
            {"task_id": _task(db, "unggah_dokumen", nur).id},
            frozenset({"admin1"}),
            (NIK2, "Nur Aini"),
            "pelamar2",
        ),
    ]


def document_cases(db: Session) -> list[Case]:
    """pelamar1's KTP: theirs, the verifiers' (their task) and the admin's."""
    andi = _instance(db, "lamaran", "F-001/pelamar1")
    ktp = db.scalar(
        select(Document).where(Document.instance_id == andi.id, Document.field == "ktp")
    )
    assert ktp is not None
    allowed = frozenset({"pelamar1", "verifikator1", "admin1"})
    return [Case({"document_id": ktp.id}, allowed, (KTP_MARK.decode(),), "pelamar1")]


def application_cases(db: Session) -> list[Case]:
    """An application is its applicant's alone (staff see it through their tasks)."""
    andi, nur = _lamaran(db, NIK1), _lamaran(db, NIK2)
    return [
        Case({"lamaran_id": andi.id}, frozenset({"pelamar1"}), (andi.nomor_peserta,), "pelamar1"),
        Case({"lamaran_id": nur.id}, frozenset(), (nur.nomor_peserta, "Nur Aini"), "pelamar2"),
    ]


def api_instance_cases(db: Session) -> list[Case]:
    """An instance: its starter, who has a task in it, and the admin."""
    nur = _instance(db, "lamaran", "F-001/pelamar2")
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    return [
        Case({"instance_id": nur.id}, frozenset({"admin1"}), (NIK2, "Nur Aini"), "pelamar2"),
        Case(
            {"instance_id": training.id},
            frozenset({"pegawai1", "atasan1", "admin1"}),
            (MOTIVATION,),
            "pegawai1",
        ),
    ]


def employee_request_cases(db: Session) -> list[Case]:
    """An employee's request is theirs alone."""
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    secret = training.business_key or ""
    return [Case({"instance_id": training.id}, frozenset({"pegawai1"}), (secret,), "pegawai1")]


def employee_member_cases(db: Session) -> list[Case]:
    """An employee's record, for their direct supervisor."""
    return [Case({"username": "pegawai1"}, frozenset({"atasan1"}), (NIP1,), "pegawai1")]


def admin_user_cases(db: Session) -> list[Case]:
    """A staff account's edit page is for the HR admin alone."""
    user = get_user(db, "pegawai1")
    return [Case({"user_id": user.id}, frozenset({"admin1"}), ("Budi Santoso",), "pegawai1")]


def notification_cases(db: Session) -> list[Case]:
    """A notice is its recipient's alone: atasan1's new task (pegawai1's training request)."""
    from engine.notifications import Notification

    notice = db.scalar(
        select(Notification).where(Notification.user_id == get_user(db, "atasan1").id)
    )
    assert notice is not None
    return [
        Case(
            {"notification_id": notice.id},
            frozenset({"atasan1"}),
            ("Setujui permintaan pelatihan",),
            "pegawai1",
        )
    ]


def editor_process_cases(db: Session) -> list[Case]:
    """A process's diagram opens in the editor for process owners and admins alone."""
    editors = frozenset({"admin1", "pemilik1"})
    return [Case({"key": "pelatihan"}, editors, ("ajukan_pelatihan",), "")]


def editor_decision_cases(db: Session) -> list[Case]:
    """A decision table opens in the editor for process owners and admins alone."""
    editors = frozenset({"admin1", "pemilik1"})
    return [Case({"key": "keputusan_pelatihan"}, editors, ("Aturan_3_jp",), "")]


def editor_draft_cases(db: Session) -> list[Case]:
    """A saved draft opens for process owners and admins alone."""
    from engine.drafts import deployed, save_draft

    xml = deployed(db, "bpmn", "mentoring").xml
    save_draft(db, "pemilik1", "mentoring.bpmn", xml)
    db.commit()
    editors = frozenset({"admin1", "pemilik1"})
    return [Case({"file_name": "mentoring.bpmn"}, editors, ("pilih_mentor",), "")]


OWNERS = frozenset({"admin1", "pemilik1"})


def process_cases(db: Session) -> list[Case]:
    """A process's versions and version pages list its instances: owners and admins alone."""
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    return [Case({"key": "pelatihan"}, OWNERS, (training.business_key or "",), "")]


def process_version_cases(db: Session) -> list[Case]:
    """One version of a process, with the instances on it."""
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    args = {"key": "pelatihan", "number": 1}
    return [Case(args, OWNERS, (training.business_key or "",), "")]


def process_xml_cases(db: Session) -> list[Case]:
    """A version's XML (page and API): owners and admins alone."""
    return [Case({"key": "pelatihan", "number": 1}, OWNERS, ('id="ajukan_pelatihan"',), "")]


def process_diff_cases(db: Session) -> list[Case]:
    """The diff of two versions (a second version of pelatihan is deployed for it)."""
    from engine.deploy import deploy

    path = Path(__file__).resolve().parents[2] / "workflows" / "pelatihan.bpmn"
    changed = path.read_bytes().replace(b'name="Ajukan pelatihan"', b'name="Ajukan pelatihan!"')
    deploy(db, [("pelatihan.bpmn", changed)], "pemilik1")
    db.commit()
    args = {"key": "pelatihan", "dari": 1, "ke": 2}
    return [Case(args, OWNERS, ("Ajukan pelatihan!",), "")]


def process_migration_cases(db: Session) -> list[Case]:
    """The page that moves instances between versions."""
    return [Case({"key": "pelatihan"}, OWNERS, ('id="source"',), "")]


def process_instance_cases(db: Session) -> list[Case]:
    """The instance view: admins, process owners, the starter and who has a task in it."""
    nur = _instance(db, "lamaran", "F-001/pelamar2")
    training = _instance(db, "pelatihan", "TEK-DATA-02 / pegawai1")
    return [
        Case({"instance_id": nur.id}, OWNERS, ("F-001/pelamar2",), "pelamar2"),
        Case(
            {"instance_id": training.id},
            OWNERS | {"pegawai1", "atasan1"},
            (training.business_key or "",),
            "pegawai1",
        ),
    ]


def api_versions_cases(db: Session) -> list[Case]:
    """A process's versions through the API: owners and admins alone."""
    return [Case({"key": "pelatihan"}, OWNERS, ('"active_instances"',), "")]


Finder = Callable[[Session], list[Case]]
FINDERS: dict[str, Finder] = {
    "inbox.task": task_cases,
    "documents.download": document_cases,
    "portal.application": application_cases,
    "api.instance": api_instance_cases,
    "employee.request_detail": employee_request_cases,
    "employee.member": employee_member_cases,
    "admin.edit_user": admin_user_cases,
    "notifications.notice": notification_cases,
    "editor.open_process": editor_process_cases,
    "editor.open_decision": editor_decision_cases,
    "editor.open_draft": editor_draft_cases,
    "processes.versions": process_cases,
    "processes.version": process_version_cases,
    "processes.version_file": process_xml_cases,
    "processes.diff": process_diff_cases,
    "processes.migrate": process_migration_cases,
    "processes.instance": process_instance_cases,
    "api.process_versions": api_versions_cases,
    "api.process_version_xml": process_xml_cases,
}
NO_DATA = {"static"}  # GET routes whose argument names no one's data


def url_map() -> list[Rule]:
    """The app's routes (an app on an in-memory database, only to read its url_map)."""
    app = create_app_for_routes()
    return list(app.url_map.iter_rules())


def create_app_for_routes() -> Flask:
    """The app as deployed, to list its routes."""
    from webui.app import create_app

    return create_app({"SECRET_KEY": "routes", "DATABASE_URL": "sqlite://", "TESTING": True})


RULES = url_map()
GET_WITH_IDS = sorted({r.endpoint for r in RULES if "GET" in (r.methods or ()) and r.arguments})
FORM_POSTS = [r for r in RULES if "POST" in (r.methods or ()) and not r.endpoint.startswith("api.")]
API_RULES = [r for r in RULES if r.endpoint.startswith("api.")]


def dummy_url(rule: Rule) -> str:
    """The rule's path with a made-up value for each argument."""
    path = rule.rule
    for name in rule.arguments:
        number = "id" in name or f"<int:{name}>" in path
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", "1" if number else "x", path)
    return path


def log_in(client: FlaskClient, username: str) -> None:
    """Log in through the page (the demo's password)."""
    response = client.post("/masuk", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, username


def api_token(client: FlaskClient, username: str) -> str:
    """A bearer token for the user."""
    response = client.post("/api/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, username
    token: str = response.json["token"]  # type: ignore[index]
    return token


@pytest.fixture
def world(app: Flask, demo: Session) -> Session:
    """The demo, and pelamar1 uploaded their documents (a stored KTP, a verifier's check)."""
    client = app.test_client()
    log_in(client, "pelamar1")
    user = get_user(demo, "pelamar1")
    demo.rollback()
    task = demo.scalar(
        select(TaskModel).where(
            TaskModel.element_id == "unggah_dokumen",
            TaskModel.assignee_id == user.id,
            TaskModel.completed_at.is_(None),
        )
    )
    assert task is not None
    files = {
        "ktp": (io.BytesIO(PDF), "ktp.pdf"),
        "ijazah": (io.BytesIO(PDF), "ijazah.pdf"),
        "transkrip": (io.BytesIO(PDF), "transkrip.pdf"),
        "pas_foto": (io.BytesIO(JPEG), "foto.jpg"),
    }
    response = client.post(f"/tugas/{task.id}", data=files, content_type="multipart/form-data")
    assert response.status_code == 303, response.text
    demo.rollback()
    return demo


def test_every_get_route_with_an_id_has_a_row_in_the_table() -> None:
    """A new route with an id cannot go unchecked: it must say how to find its ids."""
    missing = [e for e in GET_WITH_IDS if e not in FINDERS and e not in NO_DATA]
    assert not missing, f"add these endpoints to FINDERS in {Path(__file__).name}: {missing}"
    assert not set(FINDERS) - set(GET_WITH_IDS), "FINDERS names an endpoint that is gone"


@pytest.mark.parametrize("endpoint", [e for e in GET_WITH_IDS if e not in NO_DATA])
def test_only_who_may_see_a_resource_gets_it(app: Flask, world: Session, endpoint: str) -> None:
    """Each demo user × each case: 200 with the data if allowed, else 403/404 without it."""
    assert endpoint in FINDERS, f"no row in FINDERS for {endpoint}: add one"
    cases = FINDERS[endpoint](world)
    assert cases, endpoint
    with app.test_request_context():
        from flask import url_for

        urls = [(case, url_for(endpoint, **case.args)) for case in cases]
    problems = []
    for username in USERS:
        client = app.test_client()
        headers = {}
        if endpoint.startswith("api."):
            headers["Authorization"] = f"Bearer {api_token(client, username)}"
        else:
            log_in(client, username)
        for case, url in urls:
            response = client.get(url, headers=headers)
            body = response.get_data(as_text=True)
            if username in case.allowed:
                if response.status_code != 200:
                    problems.append(f"{username} {url}: {response.status_code}, expected 200")
                elif case.secrets and not any(s in body for s in case.secrets):
                    problems.append(f"{username} {url}: 200 without the data (check the case)")
                continue
            if response.status_code not in (403, 404):
                problems.append(f"{username} {url}: {response.status_code}, expected 403/404")
            if username != case.subject:
                shown = [s for s in case.secrets if s in body]
                if shown:
                    problems.append(f"{username} {url}: shows {shown}")
    assert not problems, "\n".join(problems)


def test_every_form_post_without_a_csrf_token_is_refused(
    db_engine: Engine, demo: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CSRF on, a logged-in admin's POST without the token is a 400 for every form route."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/masuk").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/masuk", data={"username": "admin1", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302
    assert FORM_POSTS
    for rule in FORM_POSTS:
        response = client.post(dummy_url(rule), data={"username": "admin1"})
        assert response.status_code == 400, rule.rule
        assert "Formulir kedaluwarsa" in response.text or response.status_code == 400
    assert client.get("/tugas").status_code == 200  # still logged in: the logout was refused


def test_the_api_without_a_token_is_401(client: FlaskClient, demo: Session) -> None:
    """Every API route but the token and OpenAPI ones needs a bearer token."""
    public = {"api.create_token", "api.openapi_document"}
    checked = 0
    for rule in API_RULES:
        if rule.endpoint in public:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(dummy_url(rule), method=method, json={})
            assert response.status_code == 401, (method, rule.rule)
            assert response.json is not None and "error" in response.json
            bad = client.open(
                dummy_url(rule), method=method, json={}, headers={"Authorization": "Bearer x"}
            )
            assert bad.status_code == 401, (method, rule.rule)
            checked += 1
    assert checked >= 5
