"""The audit trail is append-only and tamper-evident."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.models import AuditEntry, AuditHead
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
    assert not result.ok
    assert result.message == "audit row 3: content was changed, or row 2 was rewritten"


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
    before = session.get(AuditEntry, 1)
    assert before is not None
    stored = {f: getattr(row, f) for f in audit.FIELDS if f != "prev_hash"}
    row.hash = audit.digest({**stored, "prev_hash": before.hash})
    session.commit()
    result = audit.verify(session)
    assert result.checked == 2  # row 2 now hashes right on its own; row 3 no longer chains
    assert result.message == "audit row 3: content was changed, or row 2 was rewritten"


def test_first_row_changed(session: Session) -> None:
    _some_history(session)
    session.execute(update(AuditEntry).where(AuditEntry.id == 1).values(actor="someone"))
    session.commit()
    assert audit.verify(session).message == "audit row 1: content was changed"


def test_inserted_row_is_found(session: Session) -> None:
    """A row slipped in between (ids renumbered, its own hash right) breaks the next link."""
    _some_history(session)
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().all()
    for row in rows:  # move rows 3.. up by one, last first
        if row.id >= 3:
            session.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(id=row.id + 1))
    forged = {
        "id": 3,
        "at": rows[-1].at,
        "actor": "someone",
        "action": "completed",
        "process_key": "four_tasks",
        "instance_id": None,
        "task_id": None,
        "element_id": None,
        "detail": "{}",
    }
    before = session.get(AuditEntry, 2)
    assert before is not None
    audit.chain([forged], before.hash)
    session.execute(insert(AuditEntry).values(**forged))
    session.commit()
    message = audit.verify(session).message
    assert message == "audit row 4: content was changed, or row 3 was rewritten"


@pytest.mark.parametrize("together", [True, False], ids=["together", "one-by-one"])
def test_rows_written_chain_as_python_would_hash_them(session: Session, together: bool) -> None:
    """On PostgreSQL the server numbers and hashes the rows (one statement for several rows,
    a shorter one for a single row); the hashes must be exactly what engine.audit.digest
    computes, for text beyond ASCII and empty fields too."""
    _some_history(session)
    head = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    rows = [
        audit.entry("pegawai1", "catatan", detail={"isi": "Pengumuman: lulus ✓ — “tahap 2”"}),
        audit.entry("pegawai1", "catatan", process_key="four_tasks", instance_id=1, task_id=2),
        audit.entry("Ñoño", "catatan", element_id="t1", detail={"emoji": "🎓", "n": None}),
    ]
    expected = [dict(row) for row in rows]
    for part in [rows] if together else [[row] for row in rows]:
        audit.write(session, part)
    session.commit()
    for number, row in enumerate(expected, start=5):  # after the history's four rows
        row["id"] = number
    audit.chain(expected, head)
    stored = session.execute(
        select(AuditEntry.id, AuditEntry.hash, AuditEntry.detail).order_by(AuditEntry.id)
    ).all()[-3:]
    assert [r.hash for r in stored] == [row["hash"] for row in expected]
    assert [r.id for r in stored] == [5, 6, 7]
    assert stored[0].detail == expected[0]["detail"]
    assert audit.verify(session).ok


@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("count", [1, 2])
def test_without_the_head_row_nothing_is_written_unchained(session: Session, count: int) -> None:
    """The head row comes with the schema (migration 0001); should it be gone, the server's
    chain statement fails rather than insert rows that chain to nothing."""
    _some_history(session)
    session.execute(delete(AuditHead))
    session.commit()
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(IntegrityError, match="audit_entry"):
        audit.write(session, [audit.entry("pegawai1", "catatan") for _ in range(count)])
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
