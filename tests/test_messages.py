"""Messages between instances: correlated delivery, early messages kept, messages from outside."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.messages import send_message
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
    assert send_message(session, "hasil_seleksi", {"formasi_id": "F-4"}, {"x": 1}, admin) == 0
    assert (
        send_message(session, "hasil_seleksi", {"formasi_id": "F-3"}, {"lulus": True}, admin) == 1
    )
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
