"""The process pages (/proses): list, versions, diff, migration; the instance view and actions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.models import AuditEntry, Instance, TaskModel
from engine.runtime import complete_task, start_instance
from engine.users import add_user, get_user
from tests.conftest import DATA
from tests.web.conftest import WORKFLOWS, AuthActions, make_app, open_task

MOTIVATION = "Mendukung tugas analisis data layanan."  # pegawai1's training request
PELATIHAN = (WORKFLOWS / "pelatihan.bpmn").read_text()
PELATIHAN_V2 = PELATIHAN.replace(
    'name="Setujui permintaan pelatihan"', 'name="Setujui permintaan pelatihan (atasan)"'
)


def deploy_v2(db: Session) -> None:
    """Version 2 of pelatihan: the supervisor's task is renamed."""
    deploy(db, [("pelatihan.bpmn", PELATIHAN_V2.encode())], "pemilik1")
    db.commit()


def pelatihan_instance(db: Session) -> Instance:
    """The demo's training request of pegawai1, waiting for atasan1."""
    db.rollback()
    found = db.scalar(select(Instance).where(Instance.process_key == "pelatihan"))
    assert found is not None
    return found


def diagram_config(html: str) -> dict[str, object]:
    """The JSON the diagram viewer reads from the page."""
    found = re.search(
        r'<script type="application/json" id="diagram-config">(.*?)</script>', html, re.S
    )
    assert found is not None
    config: dict[str, object] = json.loads(found.group(1))
    return config


def test_process_owners_see_the_process_list_and_others_do_not(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pemilik1")
    page = client.get("/proses")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "pelatihan" in html and "seleksi_formasi" in html
    assert 'href="/proses/pelatihan/v1">v1</a>: 1' in html  # one instance running on v1
    assert 'href="/editor/proses/pelatihan"' in html
    auth.logout()

    auth.login("pegawai1")
    assert client.get("/proses").status_code == 404
    assert client.get("/proses/pelatihan").status_code == 404
    assert client.get("/proses/pelatihan/v1/xml").status_code == 404


def test_versions_page_diff_and_version_view(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    deploy_v2(demo)
    auth.login("pemilik1")

    versions = client.get("/proses/pelatihan").get_data(as_text=True)
    assert "v2" in versions and "v1" in versions
    assert f"#{pelatihan_instance(demo).id}" in versions  # running on v1

    diff = client.get("/proses/pelatihan/beda?dari=1&ke=2")
    assert diff.status_code == 200
    text = diff.get_data(as_text=True)
    assert "persetujuan_atasan" in text
    assert "Setujui permintaan pelatihan (atasan)" in text
    same = client.get("/proses/pelatihan/beda?dari=2&ke=2", follow_redirects=True)
    assert "Pilih dua versi yang berbeda untuk dibandingkan." in same.get_data(as_text=True)

    view = client.get("/proses/pelatihan/v2").get_data(as_text=True)
    assert "bpmn-navigated-viewer.production.min.js" in view
    assert "(atasan)" in str(diagram_config(view)["xml"])
    xml = client.get("/proses/pelatihan/v1/xml")
    assert xml.mimetype == "application/xml"
    assert b'id="persetujuan_atasan"' in xml.data
    assert b"(atasan)" not in xml.data  # version 1's XML, not version 2's


def test_instance_view_shows_the_diagram_marks_and_history_to_who_may_see_it(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    inst = pelatihan_instance(demo)
    url = f"/proses/instance/{inst.id}"

    auth.login("pegawai1")  # started it
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    marks = diagram_config(html)["marks"]
    assert "persetujuan_atasan" in marks["current"]  # type: ignore[index,operator]
    assert "ajukan_pelatihan" in marks["completed"]  # type: ignore[index,operator]
    assert "f_mulai" in marks["flows"]  # type: ignore[index,operator]
    assert "Riwayat" in html
    assert "<strong>pegawai1</strong> · Selesai · Ajukan pelatihan" in html
    assert 'id="data-title"' not in html  # the data: admins only
    assert MOTIVATION in html  # what pegawai1 submitted, in the history
    assert "Batalkan instance" not in html
    auth.logout()

    auth.login("pegawai2")  # not theirs
    assert client.get(url).status_code == 404
    assert client.get("/proses/instance/999999").status_code == 404
    auth.logout()

    auth.login("admin1")
    html = client.get(url).get_data(as_text=True)
    assert 'id="data-title"' in html and "TEK-DATA-02" in html
    auth.logout()

    auth.login("pemilik1")  # a process owner: the diagram and who did what, not the data
    html = client.get(url).get_data(as_text=True)
    assert "persetujuan_atasan" in str(diagram_config(html)["marks"])
    assert "<strong>pegawai1</strong> · Selesai · Ajukan pelatihan" in html
    assert MOTIVATION not in html
    assert 'id="data-title"' not in html


def test_admin_cancels_with_a_reason_and_an_empty_reason_is_refused(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    inst = pelatihan_instance(demo)
    auth.login("pegawai1")
    assert (
        client.post(f"/proses/instance/{inst.id}/batalkan", data={"reason": "x"}).status_code == 404
    )
    auth.logout()
    auth.login("admin1")

    empty = client.post(f"/proses/instance/{inst.id}/batalkan", data={"reason": "  "})
    assert empty.status_code == 422
    assert "a reason is required to cancel" in empty.get_data(as_text=True)
    too_long = client.post(f"/proses/instance/{inst.id}/batalkan", data={"reason": "x" * 1001})
    assert too_long.status_code == 422
    assert "reason: " in too_long.get_data(as_text=True)
    assert pelatihan_instance(demo).state == "running"

    done = client.post(f"/proses/instance/{inst.id}/batalkan", data={"reason": "formasi ditutup"})
    assert done.status_code == 303
    assert pelatihan_instance(demo).state == "cancelled"
    entry = demo.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "cancelled", AuditEntry.instance_id == inst.id
        )
    ).one()
    assert json.loads(entry.detail) == {"reason": "formasi ditutup"}
    assert "formasi ditutup" in client.get(f"/proses/instance/{inst.id}").get_data(as_text=True)


def test_admin_reassigns_a_task_to_someone_who_may_do_it(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    add_user(demo, "atasan2", ["atasan"], full_name="Atasan Dua")
    demo.commit()
    inst = pelatihan_instance(demo)
    task = open_task(demo, "persetujuan_atasan")
    url = f"/proses/instance/{inst.id}/tugas/{task.id}/alihkan"
    auth.login("admin1")
    assert "Atasan Dua (atasan2)" in client.get(f"/proses/instance/{inst.id}").get_data(
        as_text=True
    )

    wrong = client.post(url, data={"user": "pegawai2", "reason": "cuti"})
    assert wrong.status_code == 422
    assert "pegawai2 may not do this task (needs role atasan)" in wrong.get_data(as_text=True)
    no_reason = client.post(url, data={"user": "atasan2", "reason": ""})
    assert no_reason.status_code == 422

    done = client.post(url, data={"user": "atasan2", "reason": "atasan1 sedang cuti"})
    assert done.status_code == 303
    demo.rollback()
    row = demo.get(TaskModel, task.id)
    assert row is not None
    atasan2 = get_user(demo, "atasan2")
    assert (row.assignee_id, row.claimed_by_id) == (atasan2.id, atasan2.id)
    entry = demo.scalars(select(AuditEntry).where(AuditEntry.action == "reassigned")).one()
    assert json.loads(entry.detail) == {
        "from": "atasan1",
        "to": "atasan2",
        "reason": "atasan1 sedang cuti",
    }
    auth.logout()
    auth.login("atasan1")  # the former assignee no longer sees it
    assert client.get(f"/tugas/{task.id}").status_code == 404
    assert client.post(url, data={"user": "atasan1", "reason": "x"}).status_code == 404


def test_admin_retries_an_instance_in_error_with_corrected_data(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    deploy(demo, [("cuti.bpmn", (DATA / "cuti.bpmn").read_bytes())], "pemilik1")
    staff, boss = get_user(demo, "pegawai1"), get_user(demo, "atasan1")
    inst = start_instance(demo, "cuti", staff)  # no "hari": the script fails
    demo.commit()
    for element, user, data in (
        ("isi_permohonan", staff, {}),
        ("persetujuan", boss, {"disetujui": True}),
    ):
        complete_task(demo, open_task(demo, element).id, user, data)
        demo.commit()
    url = f"/proses/instance/{inst.id}"
    auth.login("admin1")
    page = client.get(url).get_data(as_text=True)
    assert diagram_config(page)["marks"]["error"] == ["hitung"]  # type: ignore[index]
    marked = page[page.index('id="diagram-marks"') :]
    assert "Hitung sisa cuti" in marked[: marked.index("</dl>")]  # also without a diagram layout

    bad = client.post(f"{url}/ulangi", data={"reason": "hari diisi", "data": "{hari: 2"})
    assert bad.status_code == 422
    assert "data: not valid JSON" in bad.get_data(as_text=True)

    done = client.post(f"{url}/ulangi", data={"reason": "hari diisi", "data": '{"hari": 2}'})
    assert done.status_code == 303
    demo.rollback()
    assert demo.get(Instance, inst.id).state == "completed"  # type: ignore[union-attr]
    entry = demo.scalars(select(AuditEntry).where(AuditEntry.action == "retried")).one()
    assert json.loads(entry.detail)["reason"] == "hari diisi"


def test_migration_page_dry_run_then_move(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    deploy_v2(demo)
    inst = pelatihan_instance(demo)
    auth.login("pemilik1")
    assert client.get("/proses/pelatihan/migrasi").status_code == 200

    dry = client.post(
        "/proses/pelatihan/migrasi", data={"source": 1, "target": 2, "action": "plan"}
    )
    assert dry.status_code == 200
    html = dry.get_data(as_text=True)
    assert "Dapat dipindahkan" in html and "persetujuan_atasan" in html
    assert pelatihan_instance(demo).process_version.version == 1

    nothing = client.post(
        "/proses/pelatihan/migrasi", data={"source": 1, "target": 2, "action": "run"}
    )
    assert nothing.status_code == 422
    assert "Pilih sedikitnya satu instance untuk dipindahkan." in nothing.get_data(as_text=True)
    assert pelatihan_instance(demo).process_version.version == 1
    run = client.post(
        "/proses/pelatihan/migrasi",
        data={"source": 1, "target": 2, "action": "run", "instance": inst.id, "reason": "v2"},
    )
    assert run.status_code == 200
    assert "Dipindahkan" in run.get_data(as_text=True)
    moved = pelatihan_instance(demo)
    assert moved.process_version.version == 2
    assert open_task(demo, "persetujuan_atasan").name == "Setujui permintaan pelatihan (atasan)"


def test_admin_forms_need_the_csrf_token(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: Session
) -> None:
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    client = make_app(db_engine, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    login = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    client.post(
        "/masuk",
        data={"username": "admin1", "password": "jenjang-demo", "csrf_token": token.group(1)},
    )
    inst = pelatihan_instance(demo)

    forged = client.post(f"/proses/instance/{inst.id}/batalkan", data={"reason": "x"})

    assert forged.status_code == 400
    assert pelatihan_instance(demo).state == "running"


def test_the_task_page_links_to_its_instance_on_the_diagram(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    task = open_task(demo, "persetujuan_atasan")
    auth.login("atasan1")

    page = client.get(f"/tugas/{task.id}").get_data(as_text=True)

    link = f'href="/proses/instance/{task.instance_id}"'
    assert link in page
    assert client.get(f"/proses/instance/{task.instance_id}").status_code == 200
