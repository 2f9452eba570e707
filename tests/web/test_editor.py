"""The diagram editor's server side: who may use it, drafts, validation, deploy and import."""

from __future__ import annotations

import json
import re
from html import unescape as html_unescape
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.drafts import DiagramDraft
from engine.models import AuditEntry, DecisionVersion, ProcessVersion
from tests.conftest import CORPUS
from tests.web.conftest import PASSWORD, WORKFLOWS, AuthActions, make_app

CAMUNDA_FILE = CORPUS / "spiffworkflow/tests/SpiffWorkflow/camunda/data/random_fact.bpmn"
PELATIHAN = (WORKFLOWS / "pelatihan.bpmn").read_text(encoding="utf-8")
BROKEN_ASSIGNEE = PELATIHAN.replace(
    '<spiffworkflow:property name="assignee" value="starter"/>',
    '<spiffworkflow:property name="assignee" value="supervisor_of("/>',
    1,
)
RENAMED = PELATIHAN.replace('name="Ajukan pelatihan"', 'name="Ajukan pelatihan (baru)"', 1)


def editor_config(response: TestResponse) -> dict[str, Any]:
    """The JSON the editor page hands to editor.js."""
    html = response.get_data(as_text=True)
    match = re.search(
        r'<script type="application/json" id="editor-config">(.*?)</script>', html, re.S
    )
    assert match, "the page has no editor configuration"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def versions(db: Session, key: str) -> list[int]:
    """The deployed versions of a process (a fresh read)."""
    db.rollback()
    rows = db.scalars(select(ProcessVersion.version).where(ProcessVersion.key == key))
    return sorted(rows)


@pytest.fixture
def owner(client: FlaskClient, auth: AuthActions, demo: Session) -> FlaskClient:
    """The demo's process owner, logged in."""
    auth.login("pemilik1")
    return client


def post_json(client: FlaskClient, url: str, body: dict[str, Any]) -> TestResponse:
    """A JSON POST as editor.js sends it."""
    return client.post(url, json=body)


@pytest.mark.parametrize("username", ["pemilik1", "admin1"])
def test_process_owners_and_admins_open_the_editor(
    client: FlaskClient, auth: AuthActions, demo: Session, username: str
) -> None:
    auth.login(username)
    page = client.get("/editor/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Editor diagram" in html
    assert "/editor/proses/seleksi_formasi" in html
    assert "/editor/keputusan/keputusan_pelatihan" in html


@pytest.mark.parametrize("username", ["atasan1", "pegawai1", "verifikator1", "pelamar1"])
def test_everyone_else_gets_not_found(
    client: FlaskClient, auth: AuthActions, demo: Session, username: str
) -> None:
    auth.login(username)
    assert client.get("/editor/").status_code == 404
    assert client.get("/editor/proses/seleksi_formasi").status_code == 404
    answer = post_json(client, "/editor/validasi", {"file": "pelatihan.bpmn", "xml": PELATIHAN})
    assert answer.status_code == 404
    assert "Editor diagram" not in client.get("/inbox/saya").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_the_login(client: FlaskClient, demo: Session) -> None:
    answer = client.get("/editor/proses/seleksi_formasi")
    assert answer.status_code == 302
    assert "/masuk" in answer.headers["Location"]


def test_the_editor_opens_the_latest_deployed_xml(owner: FlaskClient) -> None:
    page = owner.get("/editor/proses/seleksi_formasi")
    assert page.status_code == 200
    config = editor_config(page)
    assert config["kind"] == "bpmn"
    assert config["file"] == "rekrutmen.bpmn"
    assert '<bpmn:process id="seleksi_formasi"' in config["xml"]
    assert "pelatihan.ajukan_pelatihan" in config["forms"]
    assert "Versi yang di-deploy: v1." in page.get_data(as_text=True)
    assert owner.get("/editor/proses/tidak_ada").status_code == 404


def test_a_saved_draft_is_what_the_editor_opens_next(owner: FlaskClient, db: Session) -> None:
    saved = post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": RENAMED})
    assert saved.status_code == 200
    assert saved.get_json()["saved_by"] == "pemilik1"
    page = owner.get("/editor/proses/pelatihan")
    assert editor_config(page)["xml"] == RENAMED
    assert "Draf disimpan oleh pemilik1" in page.get_data(as_text=True)
    by_name = owner.get("/editor/draf/pelatihan.bpmn").get_data(as_text=True)
    assert "Versi yang di-deploy: v1." in by_name and "Draf disimpan oleh pemilik1" in by_name
    assert owner.get("/editor/draf/tidak_ada.bpmn").status_code == 404
    db.rollback()
    draft = db.scalar(select(DiagramDraft).where(DiagramDraft.file_name == "pelatihan.bpmn"))
    assert draft is not None and draft.key == "pelatihan" and draft.kind == "bpmn"
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "draft_saved")) is not None
    # Saving again replaces the draft of that file: one draft per file name.
    post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": PELATIHAN})
    db.rollback()
    assert len(db.scalars(select(DiagramDraft)).all()) == 1
    assert versions(db, "pelatihan") == [1]


def test_validation_names_the_broken_element(owner: FlaskClient, db: Session) -> None:
    answer = post_json(
        owner, "/editor/validasi", {"file": "pelatihan.bpmn", "xml": BROKEN_ASSIGNEE}
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["valid"] is False
    errors = [p for p in body["problems"] if p["severity"] == "error"]
    assert errors, body
    assert errors[0]["file"] == "pelatihan.bpmn"
    assert errors[0]["element"] == "ajukan_pelatihan"
    assert "assignee expression" in errors[0]["message"]
    assert versions(db, "pelatihan") == [1]  # validation never deploys


def test_a_good_diagram_validates_without_errors(owner: FlaskClient) -> None:
    body = post_json(
        owner, "/editor/validasi", {"file": "pelatihan.bpmn", "xml": RENAMED}
    ).get_json()
    assert body["valid"] is True
    assert [p for p in body["problems"] if p["severity"] == "error"] == []


def test_deploy_creates_the_next_version_only_when_valid(owner: FlaskClient, db: Session) -> None:
    post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": BROKEN_ASSIGNEE})
    refused = post_json(owner, "/editor/deploy", {"file": "pelatihan.bpmn"})
    assert refused.status_code == 422
    assert refused.get_json()["problems"][0]["element"] == "ajukan_pelatihan"
    assert versions(db, "pelatihan") == [1]

    post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": RENAMED})
    deployed = post_json(owner, "/editor/deploy", {"file": "pelatihan.bpmn"})
    assert deployed.status_code == 200
    assert {"kind": "process", "key": "pelatihan", "version": 2, "changed": True} in (
        deployed.get_json()["deployed"]
    )
    assert versions(db, "pelatihan") == [1, 2]
    v2 = db.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.key == "pelatihan")
        .where(ProcessVersion.version == 2)
    )
    assert v2 is not None and v2.deployed_by == "pemilik1"
    assert v2.task_meta["ajukan_pelatihan"]["name"] == "Ajukan pelatihan (baru)"
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "deployed")).all()
    assert any('"version": 2' in a.detail and a.actor == "pemilik1" for a in audit)
    # The deployed draft is gone; deploying it again has nothing to deploy.
    assert db.scalar(select(DiagramDraft)) is None
    again = post_json(owner, "/editor/deploy", {"file": "pelatihan.bpmn"})
    assert again.status_code == 404
    assert "save it first" in again.get_json()["error"]


def test_a_changed_decision_table_deploys_with_the_processes_using_it(
    owner: FlaskClient, db: Session
) -> None:
    page = owner.get("/editor/keputusan/keputusan_pelatihan")
    config = editor_config(page)
    assert config["kind"] == "dmn" and config["file"] == "keputusan_pelatihan.dmn"
    changed = config["xml"].replace('"Kuota penuh"', '"Kuota sudah penuh"')
    assert changed != config["xml"]
    body = {"file": "keputusan_pelatihan.dmn", "xml": changed}
    assert post_json(owner, "/editor/validasi", body).get_json()["valid"] is True
    post_json(owner, "/editor/simpan", body)
    deployed = post_json(owner, "/editor/deploy", {"file": "keputusan_pelatihan.dmn"}).get_json()
    assert {"kind": "decision", "key": "keputusan_pelatihan", "version": 2, "changed": True} in (
        deployed["deployed"]
    )
    # The process that calls the table is pinned to the new table in a new version of its own.
    assert versions(db, "pelatihan") == [1, 2]
    db.rollback()
    assert (
        len(
            db.scalars(
                select(DecisionVersion).where(DecisionVersion.key == "keputusan_pelatihan")
            ).all()
        )
        == 2
    )


def test_a_broken_decision_table_is_refused(owner: FlaskClient) -> None:
    xml = editor_config(owner.get("/editor/keputusan/keputusan_pelatihan"))["xml"]
    broken = xml.replace("<text>&lt; 20</text>", "<text>&lt; (20</text>", 1)
    assert broken != xml
    body = post_json(
        owner, "/editor/validasi", {"file": "keputusan_pelatihan.dmn", "xml": broken}
    ).get_json()
    assert body["valid"] is False
    assert body["problems"][0]["file"] == "keputusan_pelatihan.dmn"


def test_a_new_diagram_has_a_lane_per_role_and_deploys(owner: FlaskClient, db: Session) -> None:
    page = owner.get("/editor/baru?key=cuti_tahunan&name=Cuti+tahunan")
    assert page.status_code == 200
    config = editor_config(page)
    assert config["file"] == "cuti_tahunan.bpmn"
    for lane in ("Pegawai", "Atasan", "Verifikator", "Panitia Seleksi", "PPK", "Admin BKPSDM"):
        assert f'name="{lane}"' in config["xml"]
    post_json(owner, "/editor/simpan", {"file": "cuti_tahunan.bpmn", "xml": config["xml"]})
    deployed = post_json(owner, "/editor/deploy", {"file": "cuti_tahunan.bpmn"}).get_json()
    assert {"kind": "process", "key": "cuti_tahunan", "version": 1, "changed": True} in (
        deployed["deployed"]
    )
    assert versions(db, "cuti_tahunan") == [1]


def test_a_new_diagram_needs_a_fresh_snake_case_key(owner: FlaskClient) -> None:
    bad = owner.get("/editor/baru?key=Cuti Tahunan", follow_redirects=True)
    assert "Diagram baru: Cuti Tahunan: a process key is snake_case" in bad.get_data(as_text=True)
    for key in ("pelatihan", "rekrutmen", "lamaran"):  # a process key, or a file name in use
        taken = owner.get(f"/editor/baru?key={key}", follow_redirects=True)
        assert f"{key} sudah ada" in taken.get_data(as_text=True)


def test_a_camunda_file_is_imported_as_a_draft(owner: FlaskClient, db: Session) -> None:
    assert CAMUNDA_FILE.is_file(), f"the corpus is missing: {CAMUNDA_FILE}"
    answer = owner.post(
        "/editor/impor",
        data={"file": (CAMUNDA_FILE.open("rb"), "random_fact.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/editor/draf/random_fact.bpmn")
    page = owner.get("/editor/draf/random_fact.bpmn")
    config = editor_config(page)
    assert "camunda.org/schema/1.0/bpmn" in config["xml"]
    assert "random_fact.bpmn telah diimpor sebagai draf" in page.get_data(as_text=True)
    body = post_json(
        owner, "/editor/validasi", {"file": "random_fact.bpmn", "xml": config["xml"]}
    ).get_json()
    assert body["valid"] is True, body


def one_line_flash(response: TestResponse) -> str:
    """The error flash of a page, which must be one line."""
    html = response.get_data(as_text=True)
    match = re.search(r'<p class="flash flash-error">(.*?)</p>', html, re.S)
    assert match, "no error message on the page"
    text = html_unescape(match.group(1))
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("catatan.txt", b"<a/>", "catatan.txt: only .bpmn and .dmn files can be opened"),
        ("rusak.bpmn", b"this is not XML", "rusak.bpmn: -: not well-formed XML"),
        ("besar.bpmn", b"<x>" + b" " * (6 * 1024 * 1024) + b"</x>", "larger than 5 MB"),
        ("tabel.dmn", PELATIHAN.encode(), "tabel.dmn: the file is BPMN, not DMN"),
        ("daftar.bpmn", b"<daftar/>", "not a BPMN or DMN document (root element <daftar>)"),
    ],
)
def test_bad_imports_are_refused_with_one_line(
    owner: FlaskClient, db: Session, name: str, data: bytes, reason: str
) -> None:
    answer = owner.post(
        "/editor/impor",
        data={"file": (BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert answer.status_code == 200
    message = one_line_flash(answer)
    assert message.startswith("Impor ditolak: ")
    assert reason in message
    db.rollback()
    assert db.scalar(select(DiagramDraft)) is None


def test_bad_json_gets_a_one_line_error(owner: FlaskClient) -> None:
    not_json = owner.post("/editor/simpan", data="xml", content_type="text/plain")
    assert not_json.status_code == 422
    assert not_json.get_json() == {"error": "the request body is not a JSON object"}
    missing = post_json(owner, "/editor/validasi", {"file": "pelatihan.bpmn"})
    assert missing.get_json() == {"error": "xml: missing"}
    garbage = post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": "<a"})
    assert garbage.status_code == 422
    assert garbage.get_json()["error"].startswith("pelatihan.bpmn: -: not well-formed XML")
    wrong = post_json(owner, "/editor/simpan", {"file": "../../etc/passwd", "xml": PELATIHAN})
    assert wrong.get_json() == {"error": "passwd: only .bpmn and .dmn files can be opened"}


def test_a_draft_can_be_discarded(owner: FlaskClient, db: Session) -> None:
    post_json(owner, "/editor/simpan", {"file": "pelatihan.bpmn", "xml": RENAMED})
    answer = owner.post("/editor/draf/pelatihan.bpmn/hapus", follow_redirects=True)
    assert "Draf pelatihan.bpmn telah dibuang" in answer.get_data(as_text=True)
    db.rollback()
    assert db.scalar(select(DiagramDraft)) is None
    assert editor_config(owner.get("/editor/proses/pelatihan"))["xml"] != RENAMED


def test_posts_need_the_csrf_token(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: Session
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    client = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    login = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    client.post(
        "/masuk", data={"username": "pemilik1", "password": PASSWORD, "csrf_token": token[1]}
    )
    page = client.get("/editor/proses/pelatihan").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert meta
    body = {"file": "pelatihan.bpmn", "xml": RENAMED}
    assert client.post("/editor/simpan", json=body).status_code == 400
    ok = client.post("/editor/simpan", json=body, headers={"X-CSRFToken": meta[1]})
    assert ok.status_code == 200
