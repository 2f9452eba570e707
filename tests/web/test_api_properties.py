"""The JSON API and the task pages fed random and hostile values (hypothesis).

Each call answers 2xx, or a 4xx whose body carries a message (``error``) — never a 500 — and a
task page that shows submitted values back escapes them. The demo agency is set up once per
test; the examples of a test share it, so a valid random submission that completes a task
only makes later examples meet a completed task (an answer that must be clear too).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.models import TaskModel
from forms import registry
from tests.strategies import MARKER, hostile_text, json_data_for, json_value
from tests.web.conftest import AuthActions, make_app
from tests.web.test_api import Api

API = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROCESSES = ["pelatihan", "mentoring", "kenaikan_pangkat", "cuti_tidak_ada"]


@pytest.fixture
def app(db_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app as in production: CSRF on, errors handled (not propagated)."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=False)
    app.config["TESTING"] = False  # a bug is answered with a 500 page, as users would see it
    return app


def clear(answer: TestResponse) -> None:
    """A success, or a refusal with a message; never a server error."""
    assert answer.status_code < 500, answer.data[:500]
    if answer.status_code >= 400:
        body = answer.get_json(silent=True)
        assert isinstance(body, dict), answer.data[:300]
        assert isinstance(body.get("error"), str) and body["error"].strip(), body
        assert "Traceback" not in answer.get_data(as_text=True)


def open_tasks(db: Session) -> list[TaskModel]:
    """The demo's open tasks."""
    db.rollback()
    return list(db.scalars(select(TaskModel).where(TaskModel.completed_at.is_(None))))


def fields(form_key: str | None) -> list[str]:
    """The fields of a task's registered form (none for the plain form)."""
    cls = registry.form_class(form_key)
    return registry._field_names(cls) if cls is not None else []


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_completing_tasks_with_hostile_json_is_refused_clearly(
    client: FlaskClient, demo: Session
) -> None:
    api = Api(client).login("admin1")  # an admin may act on every task: no 403 hides a bug
    tasks = [(t.id, t.form_key) for t in open_tasks(demo)]
    assert len(tasks) >= 5

    @API
    @given(
        task=st.sampled_from(tasks),
        body=st.data(),
        shape=st.sampled_from(["data", "raw", "files"]),
    )
    def run(task: tuple[int, str | None], body: st.DataObject, shape: str) -> None:
        task_id, form_key = task
        if shape == "data":
            payload: Any = {"data": body.draw(json_data_for(fields(form_key)))}
        elif shape == "files":
            payload = {"files": body.draw(json_value)}
        else:
            payload = body.draw(json_value)
        clear(api.post(f"/api/tasks/{task_id}/complete", json=payload))

    run()
    clear(api.post("/api/tasks/999999/complete", json={"data": {}}))


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_starting_instances_with_hostile_json_is_refused_clearly(
    client: FlaskClient, demo: Session
) -> None:
    callers = {name: Api(client).login(name) for name in ("pegawai1", "admin1")}

    @API
    @given(
        who=st.sampled_from(sorted(callers)),
        key=st.one_of(st.sampled_from(PROCESSES), hostile_text.filter(bool)),
        data=json_value,
        business_key=json_value,
    )
    def run(who: str, key: str, data: Any, business_key: Any) -> None:
        path = f"/api/processes/{quote(key, safe='')}/instances"
        clear(callers[who].post(path, json={"data": data, "business_key": business_key}))

    run()


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_token_requests_with_hostile_json_are_refused_clearly(
    client: FlaskClient, demo: Session
) -> None:
    @API
    @given(
        body=st.one_of(
            json_value, st.fixed_dictionaries({"username": json_value, "password": json_value})
        )
    )
    def run(body: Any) -> None:
        answer = client.post("/api/tokens", json=body)
        clear(answer)
        assert answer.status_code in (400, 401, 422, 429), answer.data[:300]

    run()

    @API
    @given(raw=st.binary(max_size=300))
    def raw_bytes(raw: bytes) -> None:
        clear(client.post("/api/tokens", data=raw, content_type="application/json"))

    raw_bytes()


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_messages_with_hostile_names_and_json_are_refused_clearly(
    client: FlaskClient, demo: Session
) -> None:
    api = Api(client).login("admin1")

    @API
    @given(
        name=st.one_of(st.just("pertimbangan_teknis_bkn"), hostile_text.filter(bool)),
        correlation=json_value,
        data=json_value,
    )
    def run(name: str, correlation: Any, data: Any) -> None:
        path = f"/api/messages/{quote(name, safe='')}"
        clear(api.post(path, json={"correlation": correlation, "data": data}))

    run()


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_a_task_page_shows_hostile_values_back_escaped(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    tasks = [(t.id, t.form_key) for t in open_tasks(demo) if fields(t.form_key)]
    assert tasks

    @API
    @given(task=st.sampled_from(tasks), values=st.data())
    def run(task: tuple[int, str | None], values: st.DataObject) -> None:
        task_id, form_key = task
        names = fields(form_key)
        form = {
            name: values.draw(st.one_of(st.just(MARKER), hostile_text), label=name)
            for name in names
        }
        form[names[0]] = MARKER  # at least one value to show back
        form = {k: v.replace("\x00", "") for k, v in form.items()}
        answer = client.post(f"/tugas/{task_id}", data=form)
        assert answer.status_code in (200, 302, 303, 404, 409, 422), answer.status_code
        page = answer.get_data(as_text=True)
        assert MARKER not in page
        assert "Traceback" not in page

    run()
