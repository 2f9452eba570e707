"""Two users completing the same task at once through the JSON API (PostgreSQL).

tests/test_races.py races the engine a thousand times; this races the whole request path
(token check, form validation, the step, the commit after the answer is built): exactly one
of the two requests answers 200, the other a 409 with a message, every time.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.models import AuditEntry, TaskModel
from engine.passwords import hash_password
from engine.runtime import start_instance
from tests.conftest import deploy_files, make_user
from tests.web.conftest import make_app

RACES = 300
PASSWORD = "kata-sandi-uji"
USERS = ("staf1", "staf2")


@pytest.mark.postgres
@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_two_api_requests_completing_one_task_have_exactly_one_winner(
    db_engine: Engine, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    deploy_files(session, "four_tasks.bpmn")
    for name in USERS:
        make_user(session, name, "staf").password_hash = hash_password(PASSWORD)
    admin = make_user(session, "admin1", "admin")
    ids = [start_instance(session, "four_tasks", admin, {"skip": False}).id for _ in range(RACES)]
    session.commit()
    first = dict(
        session.execute(
            select(TaskModel.instance_id, TaskModel.id).where(TaskModel.instance_id.in_(ids))
        ).all()
    )
    tasks = [first[i] for i in ids]
    app: Flask = make_app(db_engine, tmp_path)
    app.config["TESTING"] = False  # a crash is a 500, as users would get it
    tokens = {}
    for name in USERS:
        answer = app.test_client().post(
            "/api/tokens", json={"username": name, "password": PASSWORD}
        )
        tokens[name] = {"Authorization": f"Bearer {answer.json['token']}"}  # type: ignore[index]

    barrier = threading.Barrier(len(USERS))
    answers: dict[str, list[tuple[int, str]]] = {name: [] for name in USERS}

    def racer(name: str) -> None:
        client = app.test_client()
        for task_id in tasks:
            barrier.wait(timeout=30)
            answer = client.post(
                f"/api/tasks/{task_id}/complete", headers=tokens[name], json={"data": {}}
            )
            body = answer.get_json(silent=True) or {}
            answers[name].append((answer.status_code, str(body.get("error", ""))))

    threads = [threading.Thread(target=racer, args=(name,), daemon=True) for name in USERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    for n in range(RACES):
        pair = [answers[name][n] for name in USERS]
        codes = tuple(sorted(code for code, _ in pair))
        assert codes == (200, 409), (tasks[n], pair)
        assert all(message for code, message in pair if code == 409), pair
    session.rollback()
    done = session.scalar(
        select(func.count()).where(AuditEntry.action == "completed", AuditEntry.task_id.in_(tasks))
    )
    assert done == RACES
