"""The HR admin's pages: staff accounts (list, create, edit, deactivate) and org units."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEntry, OrgUnit, User
from engine.users import get_user, user_by_name
from tests.web.conftest import AuthActions

NEW_PASSWORD = "rahasia-baru-123"


def new_user_form(**changes: Any) -> dict[str, Any]:
    """A valid create form for a new staff member; `changes` override fields."""
    data: dict[str, Any] = {
        "username": "staf1",
        "full_name": "Lina Kurnia, S.E.",
        "email": "lina@example.go.id",
        "roles": ["pegawai", "verifikator"],
        "unit": "bkpsdm",
        "supervisor": "admin1",
        "password": NEW_PASSWORD,
    }
    data.update(changes)
    return data


def edit_form(db: Session, username: str, **changes: Any) -> dict[str, Any]:
    """The edit form as the page fills it for this user; `changes` override fields."""
    db.rollback()
    user = get_user(db, username)
    data: dict[str, Any] = {
        "roles": sorted(user.role_names),
        "unit": user.unit.code if user.unit else "",
        "supervisor": user.supervisor.username if user.supervisor else "",
        "active": "y" if user.active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def audit_actions(db: Session) -> list[tuple[str, dict[str, Any]]]:
    """The audit trail's (action, detail) pairs, oldest first."""
    db.rollback()
    rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return [(r.action, json.loads(r.detail)) for r in rows]


def test_admin_creates_a_staff_user_who_can_log_in(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    response = client.post("/admin/pengguna/baru", data=new_user_form())
    assert response.status_code == 303
    listing = client.get(response.headers["Location"])
    assert "Lina Kurnia" in listing.text and "verifikator" in listing.text
    demo.rollback()
    user = get_user(demo, "staf1")
    assert user.role_names == {"pegawai", "verifikator"}
    assert user.unit is not None and user.unit.code == "bkpsdm"
    assert user.supervisor is not None and user.supervisor.username == "admin1"
    assert user.password_hash and NEW_PASSWORD not in user.password_hash
    assert any(a == "user_created" and d["user"] == "staf1" for a, d in audit_actions(demo))
    auth.logout()
    login = auth.login("staf1", NEW_PASSWORD)
    assert login.status_code == 302 and login.headers["Location"].endswith("/tugas")
    inbox = client.get("/tugas")
    assert inbox.status_code == 200 and "Tugas saya" in inbox.text


def test_a_new_user_can_get_a_new_unit(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    form = new_user_form(unit="__baru__", unit_code="dishub", unit_name="Dinas Perhubungan")
    assert client.post("/admin/pengguna/baru", data=form).status_code == 303
    demo.rollback()
    user = get_user(demo, "staf1")
    assert user.unit is not None and user.unit.name == "Dinas Perhubungan"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "pegawai1"}, "username", "Nama pengguna ini sudah dipakai."),
        ({"username": "Staf Satu"}, "username", "huruf kecil"),
        ({"password": "pendek"}, "password", "Kata sandi minimal 10 karakter."),
        ({"roles": ["pegawai", "raja"]}, "roles", "Pilih peran dari daftar."),
        ({"roles": ["pelamar"]}, "roles", "Pilih peran dari daftar."),
        ({"roles": []}, "roles", "Pilih sekurang-kurangnya satu peran."),
        ({"supervisor": "siapa"}, "supervisor", "Pilih pegawai aktif dari daftar."),
        ({"unit": "__baru__", "unit_code": "bkpsdm"}, "unit_code", "sudah ada"),
    ],
)
def test_bad_input_for_a_new_user_is_refused_beside_its_field(
    client: FlaskClient,
    auth: AuthActions,
    demo: Session,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    auth.login("admin1")
    response = client.post("/admin/pengguna/baru", data=new_user_form(**changes))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    demo.rollback()
    assert user_by_name(demo, "staf1") is None
    assert get_user(demo, "pegawai1").full_name == "Budi Santoso, S.Kom."
    assert not any(a == "user_created" for a, _d in audit_actions(demo))


def test_several_problems_are_all_shown(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    form = new_user_form(username="pegawai1", password="x", roles=["raja"])
    response = client.post("/admin/pengguna/baru", data=form)
    assert response.status_code == 422
    for field in ("username", "password", "roles"):
        assert f'id="{field}-error"' in response.text


def test_admin_edits_roles_and_supervisor(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    pegawai2 = get_user(demo, "pegawai2")
    form = edit_form(demo, "pegawai2", roles=["pegawai", "mentor"], supervisor="mentor1")
    response = client.post(f"/admin/pengguna/{pegawai2.id}", data=form)
    assert response.status_code == 303
    demo.rollback()
    user = get_user(demo, "pegawai2")
    assert user.role_names == {"pegawai", "mentor"}
    assert user.supervisor is not None and user.supervisor.username == "mentor1"
    updates = [d for a, d in audit_actions(demo) if a == "user_updated"]
    assert updates[-1]["user"] == "pegawai2"
    assert updates[-1]["supervisor"] == ["atasan1", "mentor1"]
    page = client.get(f"/admin/pengguna/{pegawai2.id}")
    assert page.status_code == 200 and "Siti Rahayu" in page.text


@pytest.mark.parametrize(
    ("username", "changes", "field", "message"),
    [
        ("pegawai1", {"supervisor": "pegawai1"}, "supervisor", "atasan bagi dirinya sendiri"),
        # atasan1 supervises pegawai1: pegawai1 cannot become atasan1's supervisor.
        ("atasan1", {"supervisor": "pegawai1"}, "supervisor", "melapor kepada pengguna ini"),
        ("pegawai1", {"roles": ["raja"]}, "roles", "Pilih peran dari daftar."),
        ("admin1", {"active": ""}, "active", "Anda tidak dapat menonaktifkan akun Anda sendiri."),
        ("admin1", {"roles": ["pegawai"]}, "roles", "peran admin Anda sendiri"),
    ],
)
def test_bad_edits_are_refused_and_store_nothing(
    client: FlaskClient,
    auth: AuthActions,
    demo: Session,
    username: str,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    auth.login("admin1")
    before = get_user(demo, username)
    before_state = (before.role_names, before.supervisor_id, before.active)
    form = edit_form(demo, username, **changes)
    response = client.post(f"/admin/pengguna/{before.id}", data=form)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    demo.rollback()
    after = get_user(demo, username)
    assert (after.role_names, after.supervisor_id, after.active) == before_state
    assert not any(a == "user_updated" for a, _d in audit_actions(demo))


def test_a_deactivated_user_cannot_log_in(
    client: FlaskClient, auth: AuthActions, demo: Session, app: Any
) -> None:
    other = app.test_client()
    assert AuthActions(other).login("pegawai3").status_code == 302
    auth.login("admin1")
    pegawai3 = get_user(demo, "pegawai3")
    form = edit_form(demo, "pegawai3", active="")
    assert client.post(f"/admin/pengguna/{pegawai3.id}", data=form).status_code == 303
    demo.rollback()
    assert get_user(demo, "pegawai3").active is False
    assert other.get("/tugas").status_code == 302  # the open session ended
    assert AuthActions(app.test_client()).login("pegawai3").status_code == 401
    listing = client.get("/admin/pengguna?q=pegawai3")
    assert "Nonaktif" in listing.text


def test_the_user_list_searches_and_pages(
    client: FlaskClient, auth: AuthActions, demo: Session, app: Any
) -> None:
    auth.login("admin1")
    found = client.get("/admin/pengguna?q=budi")
    assert "pegawai1" in found.text and "pegawai2" not in found.text
    everyone = client.get("/admin/pengguna")
    assert "Budi Santoso" in everyone.text and "Andi Saputra" not in everyone.text  # no applicants
    app.config["ADMIN_PAGE_SIZE"] = 3
    first, second = client.get("/admin/pengguna"), client.get("/admin/pengguna?hal=2")
    assert "Halaman 1 dari" in first.text and "Halaman 2 dari" in second.text


def test_admin_creates_an_org_unit(client: FlaskClient, auth: AuthActions, demo: Session) -> None:
    auth.login("admin1")
    response = client.post("/admin/unit", data={"unit_code": "dishub", "unit_name": "Dishub"})
    assert response.status_code == 303
    assert "Dishub" in client.get("/admin/unit").text
    taken = client.post("/admin/unit", data={"unit_code": "dishub", "unit_name": "Lagi"})
    assert taken.status_code == 422 and 'id="unit_code-error"' in taken.text
    demo.rollback()
    assert len(demo.scalars(select(OrgUnit).where(OrgUnit.code == "dishub")).all()) == 1


def test_admin_sees_the_nav_entry_and_others_do_not(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("admin1")
    assert 'href="/admin/pengguna"' in client.get("/tugas").text
    auth.logout()
    auth.login("pegawai1")
    assert 'href="/admin/pengguna"' not in client.get("/tugas").text


def test_everyone_else_gets_404_on_every_admin_page(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    target = demo.scalar(select(User.id).where(User.username == "pegawai2"))
    auth.login("pegawai1")
    pages = ["/admin/pengguna", "/admin/pengguna/baru", f"/admin/pengguna/{target}", "/admin/unit"]
    for url in pages:
        assert client.get(url).status_code == 404, url
    for url in pages[1:]:
        assert client.post(url, data=new_user_form(supervisor="pegawai1")).status_code == 404
    demo.rollback()
    assert user_by_name(demo, "staf1") is None
    assert get_user(demo, "pegawai2").supervisor_id is not None
