"""employee potential (talent management 9-box)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "employee_potential",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tahun", sa.Integer(), nullable=False),
        sa.Column("potensi", sa.String(length=10), nullable=False),
        sa.Column("dasar", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("user_id", "tahun"),
    )


def downgrade() -> None:
    op.drop_table("employee_potential")
