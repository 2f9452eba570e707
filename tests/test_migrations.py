"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from engine import audit
from engine.db import alembic_config, make_engine
from engine.models import Base


def test_migrations_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_audit_rows_written_before_0017_still_verify(tmp_path: Path) -> None:
    """0017 drops the stored previous-row hash; the chain it hashed stays verifiable, and a
    downgrade refills the column from the row before."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    command.upgrade(config, "0016")
    last = "0" * 64
    rows = []
    for i in range(1, 4):
        row = {
            "id": i,
            "at": datetime(2026, 11, 1, 8, i),
            "actor": "admin1",
            "action": "deployed",
            "process_key": "four_tasks",
            "instance_id": None,
            "task_id": None,
            "element_id": None,
            "detail": "{}",
            "prev_hash": last,
        }
        row["hash"] = last = audit.digest(row)  # the old writer: prev_hash stored and hashed
        rows.append(row)
    columns = ", ".join(rows[0])
    values = ", ".join(f":{c}" for c in rows[0])
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO audit_entry ({columns}) VALUES ({values})"), rows)
        conn.execute(
            text("UPDATE audit_head SET last_id = 3, last_hash = :h WHERE id = 1"), {"h": last}
        )
    command.upgrade(config, "head")
    with Session(engine) as session:
        assert audit.verify(session).message == "audit trail intact: 3 rows"
    command.downgrade(config, "0016")
    with engine.connect() as conn:
        refilled = conn.execute(text("SELECT prev_hash FROM audit_entry ORDER BY id")).scalars()
        assert list(refilled) == ["0" * 64, rows[0]["hash"], rows[1]["hash"]]
    engine.dispose()
