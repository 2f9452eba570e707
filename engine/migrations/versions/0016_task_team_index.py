"""index of the inbox's team tab (open, unclaimed, unassigned tasks by role and due date)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEAM_OPEN = sa.text("completed_at IS NULL AND claimed_by_id IS NULL AND assignee_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_task_open_team",
        "task",
        ["role", "due_at", "created_at", "id"],
        postgresql_where=TEAM_OPEN,
        postgresql_include=["process_key", "element_id", "name"],
        sqlite_where=TEAM_OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_task_open_team", table_name="task")
