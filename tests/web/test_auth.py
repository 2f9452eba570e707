"""Logging in and out, the failed-login throttle, CSRF and the session cookie."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import clock
from engine.models import User
from engine.passwords import hash_password
from tests.web.conftest import AuthActions, make_app


def test_login_page_is_in_indonesian_with_labelled_inputs(client: FlaskClient) -> None:
    page = client.get("/masuk")
    assert page.status_code == 200
    assert '<html lang="id">' in page.text
    assert '<label for="username">Nama pengguna</label>' in page.text
    assert '<label for="password">Kata sandi</label>' in page.text


def test_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get("/tugas")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/masuk?next=")


def test_right_password_opens_the_inbox(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    response = auth.login("atasan1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tugas"
    page = client.get("/tugas")
    assert "Selamat datang, Dra. Sri Wahyuni, M.Si." in page.text
    assert "Tugas saya" in page.text


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(
    client: FlaskClient, demo: Session
) -> None:
    data = {"username": "atasan1", "password": "jenjang-demo"}
    response = client.post("/masuk?next=/tugas/tim", data=data)
    assert response.headers["Location"] == "/tugas/tim"
    client.post("/keluar")
    response = client.post("/masuk?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/tugas"


@pytest.mark.parametrize("username", ["atasan1", "tidak_ada"])
def test_wrong_password_or_unknown_user_gets_one_message(
    client: FlaskClient, auth: AuthActions, demo: Session, username: str
) -> None:
    response = auth.login(username, "salah")
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in response.text
    assert client.get("/tugas").status_code == 302


def test_inactive_user_cannot_log_in(auth: AuthActions, demo: Session) -> None:
    demo.query(User).filter_by(username="pegawai1").update({"active": False})
    demo.commit()
    assert auth.login("pegawai1").status_code == 401


def test_repeated_failures_lock_the_username_for_a_while(
    app: Flask, client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    start = clock.utcnow()
    with clock.at(start):
        for _ in range(limit):
            assert auth.login("atasan1", "salah").status_code == 401
        refused = auth.login("atasan1")  # even the right password
        assert refused.status_code == 429
        assert "Terlalu banyak percobaan masuk yang gagal" in refused.text
        assert "15 menit" in refused.text
        assert auth.login("ATASAN1").status_code == 429  # the same name in capitals
        assert auth.login("pegawai1").status_code == 302  # other names are not affected
        auth.logout()
    with clock.at(start + app.config["LOGIN_LOCKOUT"] - timedelta(seconds=1)):
        assert auth.login("atasan1").status_code == 429
    with clock.at(start + app.config["LOGIN_LOCKOUT"] + timedelta(seconds=1)):
        assert auth.login("atasan1").status_code == 302


def test_failures_spread_beyond_the_window_do_not_lock(
    app: Flask, auth: AuthActions, demo: Session
) -> None:
    start = clock.utcnow()
    window = app.config["LOGIN_FAILURE_WINDOW"]
    for i in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        with clock.at(start + i * (window / 2 + timedelta(seconds=1))):
            assert auth.login("atasan1", "salah").status_code == 401


def test_logout_ends_the_session(client: FlaskClient, auth: AuthActions, demo: Session) -> None:
    auth.login("atasan1")
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/masuk"
    assert "Anda telah keluar." in client.get("/masuk").text
    assert client.get("/tugas").status_code == 302


def test_logout_is_not_a_get(client: FlaskClient, auth: AuthActions, demo: Session) -> None:
    auth.login("atasan1")
    assert client.get("/keluar").status_code == 405
    assert client.get("/tugas").status_code == 200


def test_a_changed_password_ends_older_sessions(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("atasan1")
    demo.query(User).filter_by(username="atasan1").update(
        {"password_hash": hash_password("baru-sekali")}
    )
    demo.commit()
    assert client.get("/tugas").status_code == 302


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_posts_without_a_csrf_token_are_refused(
    db_engine: Engine, tmp_path: Path, demo: Session
) -> None:
    app = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    data = {"username": "atasan1", "password": "jenjang-demo"}
    refused = client.post("/masuk", data=data)
    assert refused.status_code == 400
    assert "Formulir kedaluwarsa" in refused.text
    assert "Traceback" not in refused.text
    token = _token(client.get("/masuk").text)
    assert client.post("/masuk", data={**data, "csrf_token": token}).status_code == 302
    inbox = client.get("/tugas").text
    task = next(r for r in ("/tugas/7", "/tugas/10") if r in inbox)
    assert client.post(f"{task}/ambil").status_code == 400  # logged in, still needs the token
    assert client.post("/keluar").status_code == 400


def test_session_cookie_is_httponly_lax_and_secure_by_default(
    db_engine: Engine, tmp_path: Path, demo: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JENJANG_SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    from webui.app import create_app

    app_default = create_app({"TESTING": True, "DB_ENGINE": db_engine, "WTF_CSRF_ENABLED": False})
    assert app_default.config["SESSION_COOKIE_SECURE"] is True
    assert app_default.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app_default.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("JENJANG_SESSION_COOKIE_SECURE", "0")
    plain = create_app({"TESTING": True, "DB_ENGINE": db_engine, "WTF_CSRF_ENABLED": False})
    response = plain.test_client().post(
        "/masuk", data={"username": "atasan1", "password": "jenjang-demo"}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secret_key_is_generated_once_and_kept(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webui.app import create_app

    monkeypatch.delenv("JENJANG_SECRET_KEY", raising=False)
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "inst"))
    first = create_app({"DB_ENGINE": db_engine}).config["SECRET_KEY"]
    second = create_app({"DB_ENGINE": db_engine}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("JENJANG_SECRET_KEY", "from-env")
    assert create_app({"DB_ENGINE": db_engine}).config["SECRET_KEY"] == "from-env"
