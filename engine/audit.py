"""Append-only audit trail, chained by sha256.

Each row stores the sha256 of its content together with the previous row's hash. The previous
hash is part of what is hashed but not stored again (the row before carries it): checking the
chain reads the rows in id order, so a changed, inserted or deleted row still breaks it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
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


CONTENT = FIELDS[1:-1]  # what is hashed between the id and the previous hash


def _content(row: dict[str, Any]) -> str:
    """What digest() hashes of a row between `[id,` and `,"prev_hash"]`."""
    values = [row[f].isoformat(timespec="microseconds") if f == "at" else row[f] for f in CONTENT]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)[1:-1]


def digest(row: dict[str, Any]) -> str:
    """The sha256 of a row's content and `prev_hash`, the previous row's hash: of the JSON
    list of FIELDS' values, `[id,<_content(row)>,"prev_hash"]` (PostgreSQL's _CHAIN builds
    the same text)."""
    content = f"[{json.dumps(row['id'])},{_content(row)},{json.dumps(row['prev_hash'])}]"
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

# PostgreSQL chains in the server, in one statement: lock and read the head, number and hash
# each row (digest() in SQL: its content between the id and the previous hash comes from
# Python), insert them and move the head. It rides in the step's own round trip, and
# the head stays locked only from there to COMMIT. No head row (migration 0001 writes it): the
# ids come out NULL and the insert fails rather than write unchained rows.
_CHAIN = text(
    """
WITH RECURSIVE head AS (
    SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE
), incoming AS (
    SELECT * FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS (
        middle text, at timestamp, actor varchar, action varchar, process_key varchar,
        instance_id integer, task_id integer, element_id varchar, detail text
    )) WITH ORDINALITY AS r(middle, at, actor, action, process_key, instance_id, task_id,
                            element_id, detail, n)
), chained(n, id, hash) AS (
    SELECT CAST(0 AS bigint), h.last_id, CAST(h.last_hash AS text)
    FROM (SELECT) AS one LEFT JOIN head AS h ON true
  UNION ALL
    SELECT r.n, c.id + 1, encode(sha256(convert_to(
        '[' || (c.id + 1) || ',' || r.middle || ',"' || c.hash || '"]', 'UTF8')), 'hex')
    FROM chained AS c JOIN incoming AS r ON r.n = c.n + 1
), written AS (
    INSERT INTO audit_entry (id, at, actor, action, process_key, instance_id, task_id,
                             element_id, detail, hash)
    SELECT c.id, r.at, r.actor, r.action, r.process_key, r.instance_id, r.task_id,
           r.element_id, r.detail, c.hash
    FROM chained AS c JOIN incoming AS r ON r.n = c.n
)
UPDATE audit_head SET last_id = c.id, last_hash = c.hash
FROM chained AS c
WHERE audit_head.id = 1 AND c.n = CAST(:count AS bigint)
"""
)

# The same for the usual single row (a task completed, an instance started), without the
# JSON decoding, the recursion and the joins: about half the server's time.
_CHAIN_ONE = text(
    """
WITH head AS (
    SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE
), new AS (
    SELECT h.last_id + 1 AS id, encode(sha256(convert_to(
        '[' || (h.last_id + 1) || ',' || CAST(:middle AS text) || ',"' || h.last_hash || '"]',
        'UTF8')), 'hex') AS hash
    FROM (SELECT) AS one LEFT JOIN head AS h ON true
), written AS (
    INSERT INTO audit_entry (id, at, actor, action, process_key, instance_id, task_id,
                             element_id, detail, hash)
    SELECT n.id, CAST(:at AS timestamp), CAST(:actor AS varchar), CAST(:action AS varchar),
           CAST(:process_key AS varchar), CAST(:instance_id AS integer),
           CAST(:task_id AS integer), CAST(:element_id AS varchar), CAST(:detail AS text), n.hash
    FROM new AS n
)
UPDATE audit_head SET last_id = n.id, last_hash = n.hash
FROM new AS n
WHERE audit_head.id = 1
"""
)


def _as_json(rows: list[dict[str, Any]]) -> str:
    """The rows as one JSON parameter: psycopg adapts one text far faster than nine arrays."""
    return json.dumps(
        [
            {f: row[f] for f in CONTENT}
            | {"at": row["at"].isoformat(timespec="microseconds"), "middle": _content(row)}
            for row in rows
        ]
    )


def write(session: Session, rows: list[dict[str, Any]], send: bool = True) -> None:
    """Chain and insert rows in the caller's transaction.

    Call it after the step's own rows are written: lock order is instance rows first, then
    the audit head, which serialises appends (FOR UPDATE on PostgreSQL; one writer on SQLite).
    send: False leaves the statement queued in the connection's batch on PostgreSQL (sent
    with the step's other writes, or with the COMMIT): only when nothing can fail after it.
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        batch = Batch.of(conn)
        # No head row: the insert fails (NULL id), nothing is kept.
        if len(rows) == 1:
            batch.add(_CHAIN_ONE, {f: rows[0][f] for f in CONTENT} | {"middle": _content(rows[0])})
        else:
            batch.add(_CHAIN, {"rows": _as_json(rows), "count": len(rows)})
        if send:
            batch.run()
        return
    head = conn.execute(_HEAD).first()
    if head is None:
        conn.execute(_NEW_HEAD)
        last_id, last_hash = 0, GENESIS
    else:
        last_id, last_hash = head
    for row in rows:
        last_id += 1
        row["id"] = last_id
    last_hash = chain(rows, last_hash)
    conn.execute(_INSERT, rows)
    conn.execute(_MOVE_HEAD, {"new_id": last_id, "new_hash": last_hash})


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
