"""The API's process versions: deploy and validate files, list versions, read a version's XML."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.models import ProcessVersion
from tests.conftest import DATA
from tests.web.test_api import Api, api_app
from tests.web.test_openapi import operation_of
from webui.openapi import document

CUTI = (DATA / "cuti.bpmn").read_bytes()
BROKEN = CUTI.replace(b"sisa = 12 - hari", b"import os")


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with the API."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return api_app(db_engine, tmp_path)


def upload(api: Api, path: str, *files: tuple[str, bytes]) -> TestResponse:
    """POST files as multipart/form-data."""
    data: dict[str, Any] = {"files": [(io.BytesIO(content), name) for name, content in files]}
    return api.post(path, data=data, content_type="multipart/form-data")


def checked(response: TestResponse, method: str, path: str) -> TestResponse:
    """The response, after checking it against the OpenAPI document."""
    operation_of(document(), response, method, path)
    return response


def versions_stored(db: Session) -> int:
    """How many process versions are stored."""
    db.rollback()
    return db.scalar(select(func.count()).select_from(ProcessVersion)) or 0


def test_process_owner_deploys_files_and_an_unchanged_file_makes_no_version(
    client: FlaskClient, demo: Session
) -> None:
    api = Api(client).login("pemilik1")

    first = checked(upload(api, "/api/processes", ("cuti.bpmn", CUTI)), "post", "/api/processes")
    assert first.status_code == 201
    assert first.json["deployed"] == [  # type: ignore[index]
        {"kind": "process", "key": "cuti", "version": 1, "changed": True}
    ]
    again = checked(upload(api, "/api/processes", ("cuti.bpmn", CUTI)), "post", "/api/processes")
    assert again.status_code == 200
    assert again.json["deployed"][0]["changed"] is False  # type: ignore[index]


def test_invalid_files_answer_422_with_every_problem_and_store_nothing(
    client: FlaskClient, demo: Session
) -> None:
    api = Api(client).login("admin1")
    before = versions_stored(demo)

    answer = checked(
        upload(api, "/api/processes", ("cuti.bpmn", BROKEN), ("rusak.bpmn", b"<bpmn")),
        "post",
        "/api/processes",
    )

    assert answer.status_code == 422
    problems = answer.json["problems"]  # type: ignore[index]
    assert {(p["file"], p["severity"]) for p in problems} >= {("rusak.bpmn", "error")}
    assert all(set(p) == {"file", "element", "message", "severity"} for p in problems)
    assert answer.json["errors"]["files"]  # the one-line form  # type: ignore[index]
    assert versions_stored(demo) == before
    broken_only = checked(
        upload(api, "/api/processes", ("cuti.bpmn", BROKEN)), "post", "/api/processes"
    )
    found = broken_only.json["problems"]  # type: ignore[index]
    assert [(p["file"], p["element"], p["severity"]) for p in found] == [
        ("cuti.bpmn", "hitung", "error")
    ]
    assert "import" in found[0]["message"]
    assert broken_only.json["errors"]["files"] == [  # type: ignore[index]
        f"cuti.bpmn: hitung: {found[0]['message']}"
    ]


def test_validate_checks_without_deploying(client: FlaskClient, demo: Session) -> None:
    api = Api(client).login("pemilik1")
    before = versions_stored(demo)
    path = "/api/processes/validate"

    valid = checked(upload(api, path, ("cuti.bpmn", CUTI)), "post", path)
    invalid = checked(upload(api, path, ("cuti.bpmn", BROKEN)), "post", path)

    assert valid.status_code == 200
    assert valid.json["valid"] is True  # type: ignore[index]
    assert invalid.status_code == 422
    assert invalid.json["problems"][0]["element"] == "hitung"  # type: ignore[index]
    assert versions_stored(demo) == before


def test_only_process_owners_and_admins_deploy_and_bad_requests_are_400(
    client: FlaskClient, demo: Session
) -> None:
    staff = Api(client).login("pegawai1")
    denied = checked(upload(staff, "/api/processes", ("cuti.bpmn", CUTI)), "post", "/api/processes")
    assert denied.status_code == 403
    path = "/api/processes/validate"
    assert checked(upload(staff, path, ("c.bpmn", CUTI)), "post", path).status_code == 403
    versions = "/api/processes/pelatihan/versions"
    assert checked(staff.get(versions), "get", versions).status_code == 403

    owner = Api(client).login("pemilik1")
    not_multipart = checked(owner.post("/api/processes", json={}), "post", "/api/processes")
    assert not_multipart.status_code == 400
    assert not_multipart.json["errors"]["files"] == [  # type: ignore[index]
        "Kirim berkas BPMN dan DMN sebagai multipart/form-data."
    ]
    empty = checked(upload(owner, "/api/processes"), "post", "/api/processes")
    assert empty.status_code == 400
    anonymous = Api(client)
    assert checked(upload(anonymous, path, ("c.bpmn", CUTI)), "post", path).status_code == 401


def test_versions_and_a_versions_xml(client: FlaskClient, demo: Session) -> None:
    api = Api(client).login("pemilik1")
    upload(api, "/api/processes", ("cuti.bpmn", CUTI))
    upload(api, "/api/processes", ("cuti.bpmn", CUTI.replace(b"Setujui cuti", b"Setujui")))

    path = "/api/processes/cuti/versions"
    listed = checked(api.get(path), "get", path)
    assert [v["version"] for v in listed.json["versions"]] == [2, 1]  # type: ignore[index]
    assert listed.json["versions"][0]["deployed_by"] == "pemilik1"  # type: ignore[index]
    unknown = "/api/processes/nope/versions"
    assert checked(api.get(unknown), "get", unknown).status_code == 404

    xml = api.get("/api/processes/cuti/versions/1/xml")
    assert xml.status_code == 200
    assert xml.mimetype == "application/xml"
    assert b'name="Setujui cuti"' in xml.data
    as_json = "/api/processes/cuti/versions/2/xml"
    answer = checked(api.get(as_json, headers={"Accept": "application/json"}), "get", as_json)
    assert answer.json["version"] == 2  # type: ignore[index]
    assert 'name="Setujui"' in answer.json["xml"]  # type: ignore[index]
    missing = "/api/processes/cuti/versions/9/xml"
    assert checked(api.get(missing), "get", missing).status_code == 404
