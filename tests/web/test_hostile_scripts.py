"""Script tasks that try to escape the sandbox, uploaded through the API as a process owner.

tests/test_sandbox.py checks the sandbox itself; here each known escape arrives the way an
attacker with a process owner's account would send it: a BPMN file with one script task,
``POST /api/processes``, then ``POST /api/processes/{key}/instances``. Each is refused at
deploy (422, one line naming the script task) or stopped when it runs (the instance is in
error with the reason kept); none completes, and the server keeps answering.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from engine.db import session_factory
from engine.passwords import hash_password
from engine.users import add_user
from tests.web.conftest import make_app

PASSWORD = "kata-sandi-uji"

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="d_{key}" targetNamespace="http://jenjang.test/{key}">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="mulai"/>
    <bpmn:sequenceFlow id="f1" sourceRef="mulai" targetRef="skrip"/>
    <bpmn:scriptTask id="skrip" name="Skrip"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="skrip" targetRef="selesai"/>
    <bpmn:endEvent id="selesai"/>
  </bpmn:process>
</bpmn:definitions>
"""

# Refused before anything runs: imports, dunder walks, getattr, eval in disguise, format
# strings reaching attributes, introspection builtins.
REFUSED_OR_STOPPED = [
    "import os",
    "from subprocess import run",
    "y = __import__('os').system('id')",
    "y = ().__class__.__base__.__subclasses__()",
    "y = [c for c in ().__class__.__mro__[1].__subclasses__() if c.__name__ == 'Popen']",
    "y = (lambda: 0).__globals__",
    "y = getattr([], '__class__')",
    "g = getattr\ny = g([], '__cl' + 'ass__')",
    "e = eval\ny = e('1 + 1')",
    "y = exec('import os')",
    "y = compile('1', 'x', 'eval')",
    "y = '{0.__globals__}'.format(lambda: 0)",
    "f = '{0.__class__}'.format\ny = f(1)",
    "y = '{a.__class__}'.format_map({'a': 1})",
    "y = __builtins__",
    "y = vars()",
    "y = globals()",
    "y = locals()",
    "y = dir()",
    "y = open('/etc/passwd').read()",
    "y = type('X', (), {})",
    "y = breakpoint()",
    "def f():\n    yield 1\ny = f().gi_frame.f_back",
    "class A:\n    pass",
    "y = _x",
]
# Legal Python that is stopped while it runs: endless loops, huge allocations.
STOPPED_WHEN_RUN = [
    ("while True:\n    pass", "time limit"),
    (
        "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
        "time limit",
    ),
    ("y = 'a' * 10**10", "too large"),
    ("y = [0] * 10**10", "too large"),
    ("s = 'ab'\nwhile True:\n    s += s", "too large"),
    ("y = 10**10**10", "too large"),
    ("def f():\n    return f()\ny = f()", "recursion"),
]


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with one admin who also owns processes."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    with session_factory(db_engine)() as s:
        user = add_user(s, "pemilik", ["pemilik_proses", "admin"])
        user.password_hash = hash_password(PASSWORD)
        s.commit()
    app = make_app(db_engine, tmp_path)
    app.config["TESTING"] = False  # an escape that crashes a request shows as a 500
    return app


@pytest.fixture
def headers(client: FlaskClient) -> dict[str, str]:
    """The owner's bearer token."""
    answer = client.post("/api/tokens", json={"username": "pemilik", "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.json['token']}"}  # type: ignore[index]


def upload(client: FlaskClient, headers: dict[str, str], key: str, script: str) -> object:
    """Deploy a one-script process."""
    xml = DIAGRAM.format(key=key, script=escape(script)).encode()
    boundary, body = encode_multipart({"files": FileStorage(io.BytesIO(xml), f"{key}.bpmn")})
    return client.post(
        "/api/processes",
        headers=headers,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def server_answers(client: FlaskClient, headers: dict[str, str]) -> None:
    """The server is unharmed: a plain request still works, quickly."""
    start = time.monotonic()
    assert client.get("/api/processes", headers=headers).status_code == 200
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_sandbox_escapes_in_an_uploaded_diagram_are_refused_or_stopped(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    """Most are refused at deploy; a name merely passed around (``g = getattr``) compiles but
    names nothing in the sandbox, so the script stops with an error when it runs."""
    refused, started = 0, 0
    for n, script in enumerate(REFUSED_OR_STOPPED):
        key = f"kabur_{n}"
        answer = upload(client, headers, key, script)
        if answer.status_code == 422:  # type: ignore[attr-defined]
            refused += 1
            lines = answer.json["errors"]["files"]  # type: ignore[attr-defined]
            assert lines[0].startswith(f"{key}.bpmn: skrip: script does not compile"), lines
            assert all("\n" not in line for line in lines)
            continue
        assert answer.status_code == 201, (script, answer.json)  # type: ignore[attr-defined]
        started += 1
        run = client.post(f"/api/processes/{key}/instances", headers=headers, json={})
        assert run.status_code in (201, 409, 422), run.json
        stopped(client, headers, started)
    server_answers(client, headers)
    assert (refused, started) == (20, 5)  # getattr, eval and str.format passed around: at run


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("script", "reason"), STOPPED_WHEN_RUN)
def test_runaway_scripts_are_stopped_and_the_instance_keeps_the_reason(
    client: FlaskClient, headers: dict[str, str], script: str, reason: str
) -> None:
    assert upload(client, headers, "boros", script).status_code == 201  # type: ignore[attr-defined]
    start = time.monotonic()
    answer = client.post("/api/processes/boros/instances", headers=headers, json={"data": {}})
    assert time.monotonic() - start < 5
    assert answer.status_code in (201, 409, 422), answer.json
    error = stopped(client, headers, 1)
    assert reason in error, error
    server_answers(client, headers)


def stopped(client: FlaskClient, headers: dict[str, str], instance_id: int) -> str:
    """The instance is in error at its script task; the reason, in lower case."""
    found = client.get(f"/api/instances/{instance_id}", headers=headers).json
    assert found["state"] == "error", found  # type: ignore[index]
    assert found["error"]["element"] == "skrip"  # type: ignore[index]
    message: str = found["error"]["message"]  # type: ignore[index]
    assert message and "\n" not in message and "Traceback" not in message
    return message.lower()
