"""Engine settings an operator may change (the web layer fills them from the environment).

Web and worker processes each configure their own copy at start; the values are operating
choices (how long to keep a message, how often to retry a failing timer job), not rules of
a process, which live in the diagrams and DMN tables.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Settings:
    """How long unclaimed messages are kept, and how failing timer jobs are retried."""

    message_ttl: timedelta = timedelta(days=30)
    timer_max_attempts: int = 5
    timer_backoff: timedelta = timedelta(minutes=1)  # doubles with every failed attempt


_current = Settings()


def current() -> Settings:
    """The settings in force in this process."""
    return _current


def configure(**values: Any) -> Settings:
    """Replace some settings (unknown names are refused); returns the new settings."""
    global _current
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown engine setting(s): {', '.join(unknown)}")
    _current = replace(_current, **values)
    return _current


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed ones (1, 2, 4, … x the base)."""
    return current().timer_backoff * (2 ** max(attempts - 1, 0))
