"""Messages between instances: correlated delivery, early messages kept, messages from outside."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.messages import Sent, expire_messages, send_message
from engine.models import Instance, MessageSubscription, PendingMessage
from engine.runtime import Step, start_instance
from tests.conftest import deploy_files, make_user
from tests.helpers import open_tasks


@pytest.fixture
def admin(session: Session) -> object:
    deploy_files(session, "pesan.bpmn")
    return make_user(session, "admin1", "admin")


def _hasil(session: Session, instance_id: int) -> object:
    inst = session.get(Instance, instance_id)
    assert inst is not None
    return Step(session, inst).wf.get_tasks(spec_name="lihat")[0].data.get("hasil")


def test_a_thrown_message_reaches_only_the_instances_of_its_formasi(
    session: Session, admin: object
) -> None:
    a1 = start_instance(session, "peserta", admin, {"formasi_id": "F-1"})  # type: ignore[arg-type]
    a2 = start_instance(session, "peserta", admin, {"formasi_id": "F-1"})  # type: ignore[arg-type]
    b1 = start_instance(session, "peserta", admin, {"formasi_id": "F-2"})  # type: ignore[arg-type]
    session.commit()
    assert session.scalar(select(func.count()).select_from(MessageSubscription)) == 3
    start_instance(session, "pengumuman", admin, {"formasi_id": "F-1", "lulus": True})  # type: ignore[arg-type]
    session.commit()
    for inst in (a1, a2):
        assert [t["element_id"] for t in open_tasks(session, inst.id)] == ["lihat"]
        assert _hasil(session, inst.id) == {"formasi_id": "F-1", "lulus": True}
    assert open_tasks(session, b1.id) == []
    remaining = session.scalars(select(MessageSubscription.instance_id)).all()
    assert remaining == [b1.id]


def test_a_message_nothing_waits_for_is_kept_and_delivered_later(
    session: Session, admin: object
) -> None:
    start_instance(session, "pengumuman", admin, {"formasi_id": "F-9", "lulus": False})  # type: ignore[arg-type]
    session.commit()
    assert session.scalar(select(func.count()).select_from(PendingMessage)) == 1
    late = start_instance(session, "peserta", admin, {"formasi_id": "F-9"})  # type: ignore[arg-type]
    session.commit()
    assert [t["element_id"] for t in open_tasks(session, late.id)] == ["lihat"]
    assert session.scalar(select(func.count()).select_from(PendingMessage)) == 0


def test_a_message_from_outside_is_correlated_by_the_given_values(
    session: Session, admin: object
) -> None:
    inst = start_instance(session, "peserta", admin, {"formasi_id": "F-3"})  # type: ignore[arg-type]
    session.commit()
    kept = send_message(session, "hasil_seleksi", {"formasi_id": "F-4"}, {"x": 1}, admin)
    assert kept.delivered == 0 and kept.kept_until is not None
    sent = send_message(session, "hasil_seleksi", {"formasi_id": "F-3"}, {"lulus": True}, admin)
    assert sent == Sent(delivered=1, kept_until=None)
    session.commit()
    assert _hasil(session, inst.id) == {"formasi_id": "F-3", "lulus": True}
    with pytest.raises(InvalidInput, match="correlation must be a JSON object"):
        send_message(session, "hasil_seleksi", ["F-3"], {}, admin)  # type: ignore[arg-type]


def test_message_from_the_cli(
    session: Session,
    admin: object,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webui.cli import main

    inst = start_instance(session, "peserta", admin, {"formasi_id": "F-5"})  # type: ignore[arg-type]
    session.commit()
    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    main(["message", "hasil_seleksi", "--correlation", '{"formasi_id": "F-5"}', "--data", "{}"])
    assert capsys.readouterr().out.strip() == "message hasil_seleksi delivered to 1 instance(s)"
    session.rollback()
    assert [t["element_id"] for t in open_tasks(session, inst.id)] == ["lihat"]


def test_a_message_no_process_can_catch_is_refused_with_its_name(
    session: Session, admin: object
) -> None:
    with pytest.raises(InvalidInput, match="message 'hasil_selesai': no deployed process catches"):
        send_message(session, "hasil_selesai", {"formasi_id": "F-3"}, {}, admin)
    assert session.scalar(select(func.count()).select_from(PendingMessage)) == 0


def test_a_kept_message_expires_after_its_time_and_is_then_not_delivered(
    session: Session, admin: object
) -> None:
    from engine import audit, clock, settings

    previous = settings.current()
    settings.configure(message_ttl=timedelta(days=2))
    try:
        kept = send_message(session, "hasil_seleksi", {"formasi_id": "F-7"}, {"lulus": 1}, admin)
        session.commit()
    finally:
        settings.configure(message_ttl=previous.message_ttl)
    assert kept.kept_until is not None
    assert expire_messages(session, kept.kept_until - timedelta(seconds=1)) == 0
    assert expire_messages(session, kept.kept_until) == 1
    session.commit()
    row = session.scalars(select(PendingMessage)).one()
    assert row.expired_at == kept.kept_until  # still there, marked: not silently dropped
    assert [e.action for e in session.scalars(select(audit.AuditEntry))][-1] == "message_expired"
    with clock.at(kept.kept_until + timedelta(hours=1)):
        late = start_instance(session, "peserta", admin, {"formasi_id": "F-7"})  # type: ignore[arg-type]
        session.commit()
    assert open_tasks(session, late.id) == []  # the expired message was not handed over


def test_message_from_the_cli_names_when_a_kept_message_expires(
    session: Session,
    admin: object,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webui.cli import main

    monkeypatch.setenv("JENJANG_DATABASE_URL", db_url)
    monkeypatch.setenv("JENJANG_MESSAGE_TTL_DAYS", "3")
    main(["message", "hasil_seleksi", "--correlation", '{"formasi_id": "F-8"}'])
    out = capsys.readouterr().out.strip()
    assert out.startswith("message hasil_seleksi: nothing waits for it yet; kept until 20")
    kept = session.scalars(select(PendingMessage)).one()
    assert kept.expires_at is not None
    assert kept.expires_at - kept.created_at == timedelta(days=3)
    monkeypatch.setenv("JENJANG_MESSAGE_TTL_DAYS", "nol")
    with pytest.raises(SystemExit) as exit_info:
        main(["message", "hasil_seleksi", "--correlation", '{"formasi_id": "F-8"}'])
    assert exit_info.value.code == 2
    assert "JENJANG_MESSAGE_TTL_DAYS='nol' is not a number" in capsys.readouterr().err
