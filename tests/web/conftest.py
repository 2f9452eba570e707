"""Web fixtures (flaskr style): `app`, `client`, `auth`, and the demo agency in the database.

They sit on the `db_engine` fixture of tests/conftest.py, so every web test runs on SQLite
and, when JENJANG_TEST_DATABASE_URL is set, on PostgreSQL too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.db import session_factory
from engine.demo import seed, seed_instances
from engine.deploy import deploy
from engine.models import TaskModel
from webui.app import create_app

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PASSWORD = "jenjang-demo"


def make_app(db_engine: Engine, tmp_path: Path, **config: Any) -> Flask:
    """An app on the test database; CSRF off unless a test turns it on."""
    settings = {
        "TESTING": True,
        "DB_ENGINE": db_engine,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The web app on an empty, migrated test database."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return make_app(db_engine, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser without cookies."""
    return app.test_client()


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    """A session to arrange data and check what the pages stored."""
    with session_factory(db_engine)() as s:
        yield s


@pytest.fixture
def demo(db: Session) -> Session:
    """workflows/ deployed, the demo agency and its instances in flight (committed)."""
    files = sorted(p for p in WORKFLOWS.iterdir() if p.suffix in (".bpmn", ".dmn"))
    deploy(db, [(str(p), p.read_bytes()) for p in files], "pemilik1")
    seed(db, PASSWORD)
    seed_instances(db)
    db.commit()
    return db


class AuthActions:
    """Log in and out through the real pages."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = "atasan1", password: str = PASSWORD) -> TestResponse:
        """POST the login form."""
        return self._client.post("/masuk", data={"username": username, "password": password})

    def logout(self) -> TestResponse:
        """POST the logout button."""
        return self._client.post("/keluar")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """Login helper for `client`."""
    return AuthActions(client)


def open_task(db: Session, element_id: str) -> TaskModel:
    """The one open task of the demo at this BPMN element."""
    db.rollback()  # a fresh transaction sees what the pages committed
    row = db.scalar(
        select(TaskModel).where(
            TaskModel.element_id == element_id, TaskModel.completed_at.is_(None)
        )
    )
    assert row is not None, element_id
    return row
