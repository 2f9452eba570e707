"""Password rules: long enough, and not built from the account's own (known) name."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from engine.users import user_by_name
from tests.web.conftest import AuthActions
from tests.web.test_admin import new_user_form
from tests.web.test_portal import NIK, register


def test_a_staff_password_containing_the_username_is_refused(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    for password in ("staf1staf1staf1", "Rahasia-STAF1-2026"):
        answer = client.post("/admin/pengguna/baru", data=new_user_form(password=password))
        assert answer.status_code == 422
        assert 'id="password-error"' in answer.text
        assert "Kata sandi tidak boleh memuat nama pengguna." in answer.text
    demo.rollback()
    assert user_by_name(demo, "staf1") is None


def test_an_applicant_password_containing_the_nik_is_refused(
    client: FlaskClient, demo: Session
) -> None:
    page = register(client, password=f"x{NIK}", konfirmasi=f"x{NIK}")
    assert "Kata sandi tidak boleh memuat NIK Anda." in page
    demo.rollback()
    assert user_by_name(demo, NIK) is None
