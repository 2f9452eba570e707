"""POST /api/messages/{name}: delivered (200), kept (202), refused (403, 400, 422)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.models import PendingMessage
from engine.runtime import start_instance
from engine.users import get_user
from tests.helpers import open_tasks
from tests.web.test_api import Api, api_app, body, colleague

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with the API."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return api_app(db_engine, tmp_path)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    """An API caller."""
    return Api(client)


@pytest.fixture
def waiting(demo: Session) -> int:
    """An instance of tests/data/pesan.bpmn waiting for hasil_seleksi of formasi F-1."""
    deploy(demo, [("pesan.bpmn", (DATA / "pesan.bpmn").read_bytes())], "pemilik1")
    inst = start_instance(demo, "peserta", get_user(demo, "admin1"), {"formasi_id": "F-1"})
    demo.commit()
    return inst.id


def test_an_admin_sends_a_message_that_an_instance_catches(
    api: Api, demo: Session, waiting: int
) -> None:
    api.login("admin1")
    response = api.post(
        "/api/messages/hasil_seleksi",
        json={"correlation": {"formasi_id": "F-1"}, "data": {"lulus": True}},
    )
    assert response.status_code == 200, response.json
    assert body(response) == {"message": "hasil_seleksi", "delivered": 1, "kept_until": None}
    demo.rollback()
    assert [t["element_id"] for t in open_tasks(demo, waiting)] == ["lihat"]


def test_a_message_nothing_waits_for_yet_is_kept_and_says_until_when(
    api: Api, demo: Session, waiting: int
) -> None:
    api.login("admin1")
    response = api.post(
        "/api/messages/hasil_seleksi", json={"correlation": {"formasi_id": "F-2"}, "data": {}}
    )
    assert response.status_code == 202
    assert body(response)["delivered"] == 0 and body(response)["kept_until"].startswith("20")
    demo.rollback()
    assert demo.scalar(select(func.count()).select_from(PendingMessage)) == 1


def test_an_integration_account_may_send_but_other_staff_may_not(
    api: Api, demo: Session, waiting: int
) -> None:
    colleague(demo, "siasn", "integrasi")
    assert api.login("atasan1").post("/api/messages/hasil_seleksi", json={}).status_code == 403
    response = api.login("siasn").post(
        "/api/messages/hasil_seleksi", json={"correlation": {"formasi_id": "F-1"}}
    )
    assert response.status_code == 200


def test_unknown_messages_and_bad_bodies_are_refused_with_the_reason(
    api: Api, demo: Session, waiting: int
) -> None:
    api.login("admin1")
    unknown = api.post("/api/messages/tidak_ada", json={"correlation": {"x": 1}})
    assert unknown.status_code == 422
    assert "no deployed process catches a message of that name" in body(unknown)["error"]
    not_object = api.post("/api/messages/hasil_seleksi", json={"correlation": ["F-1"]})
    assert not_object.status_code == 400
    assert "correlation" in body(not_object)["errors"]
    demo.rollback()
    assert demo.scalar(select(func.count()).select_from(PendingMessage)) == 0
