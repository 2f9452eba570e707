"""The audit trail is append-only and tamper-evident."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.models import AuditEntry
from engine.runtime import complete_task, start_instance
from tests.conftest import deploy_files, make_user


def _some_history(session: Session) -> None:
    deploy_files(session, "four_tasks.bpmn")
    admin = make_user(session, "admin1", "admin")
    inst = start_instance(session, "four_tasks", admin, {"skip": False})
    session.commit()
    from engine.queries import list_tasks

    for _ in range(2):
        [task] = list_tasks(session, instance_id=inst.id)
        complete_task(session, task["id"], admin, {"ok": True})
        session.commit()


def test_intact_chain_verifies(session: Session) -> None:
    _some_history(session)
    result = audit.verify(session)
    assert result.ok and result.checked == 4  # deployed, started, completed, completed
    assert result.message == "audit trail intact: 4 rows"


def test_changed_row_is_named(session: Session) -> None:
    _some_history(session)
    session.execute(update(AuditEntry).where(AuditEntry.id == 3).values(actor="someone"))
    session.commit()
    result = audit.verify(session)
    assert not result.ok and result.message == "audit row 3: content was changed"


def test_deleted_row_is_named(session: Session) -> None:
    _some_history(session)
    session.execute(delete(AuditEntry).where(AuditEntry.id == 2))
    session.commit()
    assert audit.verify(session).message == "audit row 2 is missing"


def test_deleted_last_row_is_found(session: Session) -> None:
    _some_history(session)
    last = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    session.execute(delete(AuditEntry).where(AuditEntry.id == last))
    session.commit()
    assert audit.verify(session).message == "audit rows after 3 are missing (head names 4)"


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(session: Session) -> None:
    _some_history(session)
    row = session.get(AuditEntry, 2)
    assert row is not None
    row.detail = '{"data": {"ok": false}}'
    row.hash = audit.digest({f: getattr(row, f) for f in audit.FIELDS})
    session.commit()
    assert audit.verify(session).message == "audit row 3: previous-row hash does not match"
