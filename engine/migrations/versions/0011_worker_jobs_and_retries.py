"""worker jobs and retries

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "hari_libur",
        sa.Column("tanggal", sa.Date(), nullable=False),
        sa.Column("nama", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("tanggal"),
    )
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timer_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_process_instance_subject_id"), ["subject_id"])
        batch_op.create_foreign_key(
            "fk_process_instance_subject_id", "user_account", ["subject_id"], ["id"]
        )
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("catches", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("start_rule", sa.JSON(), nullable=True))
    with op.batch_alter_table("pending_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("expired_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_pending_message_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("pending_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_message_expires_at"))
        batch_op.drop_column("expired_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        batch_op.drop_column("start_rule")
        batch_op.drop_column("catches")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_constraint("fk_process_instance_subject_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_process_instance_subject_id"))
        batch_op.drop_column("subject_id")
        batch_op.drop_column("timer_attempts")
    op.drop_table("hari_libur")
    op.drop_table("login_failure")
