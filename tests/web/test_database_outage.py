"""The database briefly unavailable: requests fail with a clear message, and the app recovers.

A throwaway PostgreSQL server of the test's own is stopped under a running app and started
again: while it is down every page answers a short 503 page and every API call a 503 JSON
error (no traceback, nothing kept); once it is back, the very next request works, with no
restart of the app (pooled connections are checked before use: ``engine.db._check_alive``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from engine.db import make_engine, session_factory, upgrade
from engine.passwords import hash_password
from engine.users import add_user
from tests.conftest import deploy_files
from webui.app import create_app

PASSWORD = "kata-sandi-uji"
PAGE_MESSAGE = "Basis data sedang tidak dapat dihubungi. Tidak ada yang disimpan."


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A PostgreSQL server of one test, which the test may stop and start."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        """Its database's SQLAlchemy URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/jenjang_test"

    def ctl(self, *args: str) -> None:
        """Run pg_ctl as the postgres user."""
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -F"
        self.ctl("-l", str(self.data / "log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        """Stop it at once (connected sessions are cut)."""
        self.ctl("-m", "immediate", "-w", "stop")


@pytest.fixture
def server() -> Iterator[Server]:
    """A fresh PostgreSQL server (needs its binaries and root, as in CI)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not found or os.geteuid() != 0 or shutil.which("runuser") is None:
        if os.environ.get("JENJANG_REQUIRE_POSTGRES"):
            pytest.fail("JENJANG_REQUIRE_POSTGRES is set but PostgreSQL cannot be started here")
        pytest.skip("needs PostgreSQL's binaries and root to start a throwaway server")
    data = Path(tempfile.mkdtemp(prefix="jenjang-outage-"))
    shutil.chown(data, "postgres", "postgres")
    pg = Server(Path(found[-1]), data, free_port())
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(pg.bin / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "-N",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pg.start()
    try:
        subprocess.run(
            [
                str(pg.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(pg.port),
                "-U",
                "postgres",
                "jenjang_test",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield pg
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(pg.bin / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def app_on(url: str) -> Iterator[Flask]:
    """The app built as in production, from a database URL (its own engine and pool)."""
    app = create_app(
        {
            "TESTING": False,  # errors are answered as users see them
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
        }
    )
    try:
        yield app
    finally:
        app.extensions["jenjang_db"].kw["bind"].dispose()  # close the pool's connections


def seeded(engine: Engine) -> None:
    """Schema, one process and one employee with a password."""
    upgrade(engine)
    with session_factory(engine)() as s:
        user = add_user(s, "pegawai1", ["pegawai", "staf"])
        user.password_hash = hash_password(PASSWORD)
        s.commit()
        deploy_files(s, "cuti.bpmn")


def assert_unavailable_page(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 503, page[:300]
    assert answer.headers["Retry-After"] == "30"
    assert PAGE_MESSAGE in page
    assert "Traceback" not in page and "psycopg" not in page and "OperationalError" not in page


def assert_unavailable_api(client: FlaskClient, headers: dict[str, str]) -> None:
    answer = client.get("/api/tasks", headers=headers)
    assert answer.status_code == 503
    assert answer.json == {  # type: ignore[comparison-overlap]
        "error": "Basis data sedang tidak dapat dihubungi. Tidak ada yang disimpan. "
        "Coba lagi sebentar lagi.",
        "errors": {},
    }


def test_pages_and_api_answer_503_when_the_database_port_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No server at all (a closed port): the same clear answers, with no PostgreSQL needed."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    with app_on(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none") as app:
        closed_port(app.test_client())


def closed_port(client: FlaskClient) -> None:
    assert client.get("/masuk").status_code == 200  # the login form needs no database
    answer = client.post("/masuk", data={"username": "pegawai1", "password": PASSWORD})
    assert answer.status_code == 503
    assert PAGE_MESSAGE in answer.get_data(as_text=True)
    assert_unavailable_api(client, {"Authorization": "Bearer jjg_x"})
    token = client.post("/api/tokens", json={"username": "pegawai1", "password": PASSWORD})
    assert token.status_code == 503 and token.json["error"]  # type: ignore[index]


def test_the_app_fails_clearly_while_the_database_is_down_and_recovers_by_itself(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    setup = make_engine(server.url)
    seeded(setup)
    setup.dispose()
    with app_on(server.url) as app:
        down_and_back(server, app.test_client(), app.test_client())


def down_and_back(server: Server, browser: FlaskClient, robot: FlaskClient) -> None:
    assert browser.post("/masuk", data={"username": "pegawai1", "password": PASSWORD}).status_code
    assert browser.get("/tugas").status_code == 200
    token = robot.post("/api/tokens", json={"username": "pegawai1", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['token']}"}  # type: ignore[index]
    assert robot.get("/api/tasks", headers=headers).status_code == 200

    server.stop()  # the pool keeps connections that are now dead
    for path in ("/tugas", "/tugas/tim", "/proses"):
        assert_unavailable_page(browser, path)
    assert_unavailable_api(robot, headers)
    started = robot.post("/api/processes/cuti/instances", headers=headers, json={"data": {}})
    assert started.status_code == 503

    server.start()
    # The first request after the database returns works: no restart, no stale connection.
    assert browser.get("/tugas").status_code == 200
    assert robot.get("/api/tasks", headers=headers).status_code == 200
    started = robot.post(
        "/api/processes/cuti/instances", headers=headers, json={"data": {"hari": 2}}
    )
    assert started.status_code == 201, started.json
    # A restart between two requests (nobody noticed the outage): the next request works too.
    server.stop()
    server.start()
    assert browser.get("/tugas").status_code == 200
    assert robot.get("/api/tasks", headers=headers).status_code == 200
    # Nothing was half-written while it was down: only the instance started just now.
    check = make_engine(server.url)
    with check.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM process_instance").scalar() == 1
    check.dispose()
