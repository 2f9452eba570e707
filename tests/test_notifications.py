"""In-app notifications and the emails they queue: assigned tasks, role tasks, outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.committee import add_member
from engine.errors import InvalidInput, NotFound
from engine.mail import MailOutbox
from engine.models import TaskModel, User
from engine.notifications import (
    Notification,
    mark_all_read,
    mark_read,
    notifications_of,
    notify,
    role_tasks,
    set_email_preference,
    unread_count,
    wants_email,
)
from engine.runtime import start_instance
from tests import test_process_rekrutmen as rekrutmen
from tests.conftest import deploy_files, make_user
from tests.helpers import deploy_workflows, only_task, submit


def person(session: Session, name: str, *roles: str, email: bool = True, **kw: Any) -> User:
    user = make_user(session, name, *roles, **kw)
    if email:
        user.email = f"{name}@contoh.id"
    session.commit()
    return user


def mails(session: Session) -> list[MailOutbox]:
    session.expire_all()
    return list(session.scalars(select(MailOutbox).order_by(MailOutbox.id)))


def notices(session: Session, user: User) -> list[Notification]:
    return [row for row, _name in notifications_of(session, user.id)]


@pytest.fixture
def cuti(session: Session) -> dict[str, User]:
    """The leave process; an employee whose supervisor approves, and an admin."""
    deploy_files(session, "cuti.bpmn")
    atasan = person(session, "atasan1", "atasan")
    pegawai = person(session, "pegawai1", "pegawai", supervisor="atasan1")
    admin = person(session, "admin1", "admin", email=False)
    return {"atasan": atasan, "pegawai": pegawai, "admin": admin}


def test_a_task_assigned_to_a_person_notifies_them_in_app_and_by_email(
    session: Session, cuti: dict[str, User]
) -> None:
    inst = start_instance(session, "cuti", cuti["pegawai"], {"hari": 3}, business_key="CUTI-1")
    session.commit()
    submit(session, only_task(session, inst.id, "isi_permohonan"), cuti["pegawai"], {"hari": 3})
    approval = only_task(session, inst.id, "persetujuan")

    [notice] = notices(session, cuti["atasan"])
    assert (notice.kind, notice.task_id, notice.instance_id) == ("task", approval.id, inst.id)
    assert notice.title == "Tugas baru: Setujui cuti" and notice.read_at is None
    assert unread_count(session, cuti["atasan"]) == 1
    assert notices(session, cuti["pegawai"]) == []  # they did it themselves: nothing to tell
    [email] = mails(session)
    assert email.to_address == "atasan1@contoh.id"
    assert email.subject == "Tugas baru: Setujui cuti"
    assert "Yth. atasan1," in email.body and "Proses: Permohonan Cuti" in email.body
    assert "Perkara: CUTI-1" in email.body and "WIB" in email.body and "Tenggat:" in email.body
    assert "Tugas saya" in email.body and email.status == "pending"

    # Rejected: the task goes back to the employee, who is told; the approver was the actor.
    submit(session, approval, cuti["atasan"], {"disetujui": False})
    [back] = notices(session, cuti["pegawai"])
    assert back.title == "Tugas baru: Baca penolakan"
    assert [m.to_address for m in mails(session)] == ["atasan1@contoh.id", "pegawai1@contoh.id"]


def test_in_app_only_keeps_the_notice_and_sends_no_email(
    session: Session, cuti: dict[str, User]
) -> None:
    assert wants_email(session, cuti["atasan"].id)  # the default: email as well
    set_email_preference(session, cuti["atasan"].id, False)
    session.commit()
    inst = start_instance(session, "cuti", cuti["pegawai"], {"hari": 3})
    session.commit()
    submit(session, only_task(session, inst.id, "isi_permohonan"), cuti["pegawai"], {"hari": 3})

    assert len(notices(session, cuti["atasan"])) == 1
    assert mails(session) == []
    with pytest.raises(InvalidInput, match="true or false"):
        set_email_preference(session, cuti["atasan"].id, "ya")  # type: ignore[arg-type]


def test_role_tasks_are_read_from_the_task_table_for_every_member_without_rows(
    session: Session, cuti: dict[str, User]
) -> None:
    other = person(session, "pegawai2", "pegawai")
    inst = start_instance(session, "cuti", cuti["admin"], {"hari": 1})  # routed to role pegawai
    session.commit()
    task = only_task(session, inst.id, "isi_permohonan")

    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    for member in (cuti["pegawai"], other):
        assert [t.id for t in role_tasks(session, member)] == [task.id]
        assert unread_count(session, member) == 1
    assert role_tasks(session, cuti["atasan"]) == []
    mark_all_read(session, other.id, task.id)
    session.commit()
    assert unread_count(session, other) == 0
    assert unread_count(session, cuti["pegawai"]) == 1
    # Role tasks are in-app only: per-task email would flood a role at national scale.
    assert mails(session) == []

    # Claimed by someone: no longer waiting for the role.
    session.execute(
        TaskModel.__table__.update().where(TaskModel.id == task.id).values(claimed_by_id=other.id)
    )
    assert role_tasks(session, cuti["pegawai"]) == []
    assert unread_count(session, cuti["pegawai"]) == 0


def test_notify_writes_one_notice_per_person_and_email_per_preference(
    session: Session, cuti: dict[str, User]
) -> None:
    quiet = person(session, "pegawai2", "pegawai")
    set_email_preference(session, quiet.id, False)
    gone = person(session, "pegawai3", "pegawai")
    gone.active = False
    ids = [cuti["atasan"].id, quiet.id, cuti["atasan"].id, cuti["admin"].id, gone.id]
    notify(
        session,
        user_ids=ids,
        kind="escalation",
        title="Eskalasi: Setujui cuti melewati tenggat",
        body="Tugas Setujui cuti belum dikerjakan.",
        instance_id=None,
        task_id=None,
    )
    session.commit()

    assert [len(notices(session, u)) for u in (cuti["atasan"], quiet, cuti["admin"])] == [1, 1, 1]
    assert [m.to_address for m in mails(session)] == ["atasan1@contoh.id"]
    for kind, title in (("", "Judul"), ("x" * 33, "Judul"), ("escalation", "  ")):
        with pytest.raises(InvalidInput, match="notification"):
            notify(
                session,
                user_ids=ids,
                kind=kind,
                title=title,
                body="",
                instance_id=None,
                task_id=None,
            )


def test_only_the_owner_can_mark_a_notice_read(session: Session, cuti: dict[str, User]) -> None:
    notify(
        session,
        user_ids=[cuti["atasan"].id],
        kind="escalation",
        title="Eskalasi",
        body="",
        instance_id=None,
        task_id=None,
    )
    session.commit()
    [notice] = notices(session, cuti["atasan"])
    with pytest.raises(NotFound):
        mark_read(session, cuti["pegawai"].id, notice.id)
    with pytest.raises(NotFound):
        mark_read(session, cuti["atasan"].id, notice.id + 1000)
    assert mark_read(session, cuti["atasan"].id, notice.id).read_at is not None
    assert unread_count(session, cuti["atasan"]) == 0


def test_applicants_are_emailed_about_announced_outcomes_without_the_result(
    session: Session,
) -> None:
    deploy_workflows(session, *rekrutmen.FILES)
    users = {
        "panitia": person(session, "panitia1", "panitia_seleksi"),
        "verifikator": person(session, "verifikator1", "verifikator"),
        "ppk": person(session, "ppk1", "ppk"),
        "ani": person(session, "ani", "pelamar"),
        "fajar": person(session, "fajar", "pelamar"),
    }
    inst = rekrutmen.start_formasi(session, users["panitia"])
    rekrutmen.open_registration(session, inst.id, users["panitia"])
    sel = rekrutmen.Selection(users, inst.id)
    for name in ("ani", "fajar"):
        rekrutmen.apply(session, sel, name)
        rekrutmen.verify(session, sel, name)
    # Their own upload task was theirs by their own action: no notice about it.
    assert notices(session, users["ani"]) == [] and notices(session, users["fajar"]) == []
    before = {m.id for m in mails(session)}
    # The verifier's checks are role tasks: in the app, not one email per application.
    assert [m for m in mails(session) if m.to_address == "verifikator1@contoh.id"] == []

    rekrutmen.close_and_announce(session, sel)

    told = {m.to_address: m for m in mails(session) if m.id not in before and m.kind == "outcome"}
    assert sorted(told) == ["ani@contoh.id", "fajar@contoh.id"]
    fajar = told["fajar@contoh.id"]
    nomor = rekrutmen.lamaran_row(session, "fajar").nomor_peserta
    assert fajar.subject == f"Kabar baru tentang lamaran {nomor}"
    assert "hasil seleksi administrasi telah diumumkan" in fajar.body
    assert "KTP tidak terbaca" not in fajar.body and "TMS" not in fajar.body
    # Fajar (TMS) may now object: the objection task is his, and he is told in-app too.
    objection = only_task(session, sel.lamaran["fajar"], "sanggah_administrasi")
    assert [n.task_id for n in notices(session, users["fajar"])] == [objection.id]


def test_a_committee_task_is_shown_only_to_the_formasi_committee_and_not_mailed(
    session: Session,
) -> None:
    deploy_workflows(session, *rekrutmen.FILES)
    panitia1 = person(session, "panitia1", "panitia_seleksi")
    panitia2 = person(session, "panitia2", "panitia_seleksi")
    admin = person(session, "admin1", "admin", email=False)
    inst = rekrutmen.start_formasi(session, admin)
    task = only_task(session, inst.id, "tetapkan_jadwal")
    # Nobody seated yet: the whole committee role sees it in the app; nobody is mailed.
    for member in (panitia1, panitia2):
        assert [t.id for t in role_tasks(session, member)] == [task.id]
    assert mails(session) == []
    add_member(session, admin, rekrutmen.KODE, "panitia1")
    session.commit()
    assert [t.id for t in role_tasks(session, panitia1)] == [task.id]
    assert role_tasks(session, panitia2) == []
