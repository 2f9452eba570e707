"""audit rows no longer store the previous row's hash (it is still hashed; the row before has it)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every row's hash already covers its predecessor's hash, so the chain is unchanged:
    # `jenjang audit verify` checks old and new rows the same way.
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("prev_hash")


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
    # Refill from the row before (in id order), as the column held.
    op.execute(
        "UPDATE audit_entry SET prev_hash = COALESCE("
        "(SELECT p.hash FROM audit_entry p WHERE p.id = audit_entry.id - 1), "
        "'0000000000000000000000000000000000000000000000000000000000000000')"
    )
