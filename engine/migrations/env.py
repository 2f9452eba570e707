"""Alembic environment: runs migrations on the engine handed in by engine.db.upgrade."""

from alembic import context

import engine.schema  # noqa: F401  every table on Base.metadata
from engine.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the engine given in config.attributes (never reads env vars)."""
    connectable = config.attributes["engine"]
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
