"""Every module that defines tables, imported once so Base.metadata holds the whole schema.

Alembic (engine/migrations/env.py) and the tests (which truncate every table) import this;
a new module with tables goes here too.
"""

from __future__ import annotations

import engine.hr  # noqa: F401
from engine import (  # noqa: F401
    announcements,
    committee,
    documents,
    drafts,
    login_guard,
    mail,
    notifications,
    recruitment,
    reports,
    tokens,
    workdays,
)
from engine.models import Base

__all__ = ["Base"]
