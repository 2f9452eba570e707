"""reports and announcements

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("completed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("formasi_id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["formasi_id"], ["formasi.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_announcement_formasi_id"), ["formasi_id"])

    with op.batch_alter_table("task", schema=None) as batch_op:
        # Overdue tasks: open ones by due date.
        batch_op.create_index(
            "ix_task_open_due", ["due_at"], postgresql_where=OPEN, sqlite_where=OPEN
        )
        # The funnel's objection check: a form's task of an instance.
        batch_op.create_index("ix_task_form_instance", ["form_key", "instance_id"])


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_form_instance")
        batch_op.drop_index("ix_task_open_due")

    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_formasi_id"))

    op.drop_table("announcement")
