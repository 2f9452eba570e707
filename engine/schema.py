"""Every module that defines tables, imported once so Base.metadata holds the whole schema.

Alembic (engine/migrations/env.py) and the tests (which truncate every table) import this;
a new module with tables goes here too.
"""

from __future__ import annotations

import engine.hr
from engine import (
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

MODULES = (
    engine.hr,
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

__all__ = ["MODULES", "Base"]
