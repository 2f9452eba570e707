"""Append-only audit trail, chained by sha256.

Each row stores the sha256 of its content together with the previous row's hash. The previous
hash is part of what is hashed but not stored again (the row before carries it): checking the
chain reads the rows in id order, so a changed, inserted or deleted row still breaks it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.batch import Batch
from engine.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "process_key",
    "instance_id",
    "task_id",
    "element_id",
    "detail",
    "prev_hash",
)


def digest(row: dict[str, Any]) -> str:
    """The sha256 of a row's content and `prev_hash`, the previous row's hash."""
    values = [row[f].isoformat(timespec="microseconds") if f == "at" else row[f] for f in FIELDS]
    content = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def entry(
    actor: str,
    action: str,
    *,
    process_key: str | None = None,
    instance_id: int | None = None,
    task_id: int | None = None,
    element_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit row to write later with write()."""
    return {
        "at": at or utcnow(),
        "actor": actor,
        "action": action,
        "process_key": process_key,
        "instance_id": instance_id,
        "task_id": task_id,
        "element_id": element_id,
        "detail": json.dumps(detail or {}, sort_keys=True, default=str, ensure_ascii=False),
    }


# Built once: statement construction costs more than SQLite's own work on this hot path.
_HEAD = select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
_NEW_HEAD = insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS)
_MOVE_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(last_id=bindparam("new_id"), last_hash=bindparam("new_hash"))
)
_INSERT = insert(AuditEntry)


def lock_head(batch: Batch) -> Callable[[], Any]:
    """Queue the audit head's lock and read in a step's batch; pass the result to write()."""
    item = batch.add(_HEAD, {})
    return lambda: item.rows[0] if item.rows else None


def write(
    session: Session, rows: list[dict[str, Any]], locked: Callable[[], Any] | None = None
) -> None:
    """Chain and insert rows in the caller's transaction.

    Call it after the step's own rows are written: lock order is instance rows first, then
    the audit head, which serialises appends (FOR UPDATE on PostgreSQL; one writer on SQLite).
    locked: the head as lock_head() read it in this transaction, with no audit row written
    since (saves the round trip of reading it here).
    """
    if not rows:
        return
    conn = session.connection()
    head = locked() if locked is not None else conn.execute(_HEAD).first()
    if head is None:
        conn.execute(_NEW_HEAD)
        last_id, last_hash = 0, GENESIS
    else:
        last_id, last_hash = head
    for row in rows:
        last_id += 1
        row["id"] = last_id
    last_hash = chain(rows, last_hash)
    batch = Batch(conn)  # insert and head move in one round trip on PostgreSQL
    batch.add(_INSERT, rows)
    batch.add(_MOVE_HEAD, {"new_id": last_id, "new_hash": last_hash})
    batch.run()


def chain(rows: list[dict[str, Any]], last_hash: str) -> str:
    """Set each row's `hash` (rows in id order, after the row whose hash is last_hash); the
    new last hash."""
    for row in rows:
        row["hash"] = last_hash = digest({**row, "prev_hash": last_hash})
    return last_hash


def append(session: Session, actor: str, action: str, **fields: Any) -> None:
    """Write one audit row now (flushing the session's own changes first)."""
    session.flush()
    write(session, [entry(actor, action, **fields)])


@dataclass
class VerifyResult:
    """The outcome of checking the chain."""

    ok: bool
    checked: int
    message: str


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain; name the first changed, inserted or deleted row."""
    prev_hash, prev_id, checked = GENESIS, 0, 0
    stored = tuple(f for f in FIELDS if f != "prev_hash")
    columns = [getattr(AuditEntry, f) for f in (*stored, "hash")]
    while True:
        rows = session.execute(
            select(*columns).where(AuditEntry.id > prev_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for values in rows:
            row = dict(zip((*stored, "hash"), values, strict=True))
            if row["id"] != prev_id + 1:
                return VerifyResult(False, checked, f"audit row {prev_id + 1} is missing")
            if digest({**row, "prev_hash": prev_hash}) != row["hash"]:
                # Its own content changed, or the row before was rewritten with a recomputed
                # hash (which then no longer chains into this one).
                before = f", or row {prev_id} was rewritten" if prev_id else ""
                return VerifyResult(
                    False, checked, f"audit row {row['id']}: content was changed{before}"
                )
            prev_hash, prev_id = row["hash"], row["id"]
            checked += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != prev_id or head.last_hash != prev_hash):
        return VerifyResult(
            False, checked, f"audit rows after {prev_id} are missing (head names {head.last_id})"
        )
    return VerifyResult(True, checked, f"audit trail intact: {checked} rows")
