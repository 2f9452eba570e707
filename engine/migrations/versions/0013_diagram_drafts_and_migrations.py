"""diagram drafts and migrations

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diagram_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_name"),
    )
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diagram_draft_key"), ["key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("diagram_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagram_draft_key"))

    op.drop_table("diagram_draft")
