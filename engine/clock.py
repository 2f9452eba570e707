"""The engine's clock: real time, or a fixed moment for catching up (`--now`) and for tests.

SpiffWorkflow's timer events read `datetime.now(timezone.utc)` from their own module; install()
points that module at a datetime subclass that honours the moment set with at().
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo

_MOMENT: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "jenjang_clock_moment", default=None
)


def now_utc() -> datetime:
    """The current (or fixed) time, timezone-aware UTC."""
    moment = _MOMENT.get()
    return moment if moment is not None else datetime.now(UTC)


def utcnow() -> datetime:
    """The current (or fixed) time as naive UTC, as stored in the database."""
    return now_utc().replace(tzinfo=None)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run the block as if it were `moment` (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    token = _MOMENT.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _MOMENT.reset(token)


class _EngineDatetime(datetime):
    """datetime whose now() is the engine clock (used inside SpiffWorkflow's timer module)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _EngineDatetime:
        return cls.fromtimestamp(now_utc().timestamp(), tz)


def install() -> None:
    """Make SpiffWorkflow's timers use the engine clock (idempotent)."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _EngineDatetime
