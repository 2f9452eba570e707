"""The background worker's pass: due timer jobs, then kept messages whose time is up.

Each job is one transaction: claim the instance whose timer is due first (`FOR UPDATE SKIP
LOCKED`, so several workers on PostgreSQL take different instances), fire, persist, commit.
A worker killed mid-job leaves nothing behind: its transaction rolls back, the row lock goes
with its connection, and the timer is still due for the next worker. A job that raises is
rolled back and tried again later with a doubling wait (engine.settings); after the last
attempt the instance goes to `error` with the reason, for an admin to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, settings, timers
from engine.errors import StaleTask
from engine.models import Instance
from engine.sources import one_line
from engine.step import ERROR

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]


@dataclass
class PassReport:
    """What one pass did: timers fired, jobs put off after a failure, jobs given up."""

    fired: list[tuple[int, list[str]]] = field(default_factory=list)
    retrying: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    expired_messages: int = 0

    @property
    def jobs(self) -> int:
        """How many timer jobs the pass handled."""
        return len(self.fired) + len(self.retrying) + len(self.failed)


def run_pass(factory: SessionFactory, now: datetime, limit: int = 10_000) -> PassReport:
    """Run every job due at `now` (naive UTC), one transaction each, up to `limit` jobs."""
    report = PassReport()
    while report.jobs < limit:
        claimed: int | None = None
        try:
            with factory() as session, session.begin():
                claimed = timers.claim_due(session, now)
                if claimed is None:
                    break
                fired = timers.fire_locked(session, claimed, now)
                if not fired:
                    _check_moved_on(session, claimed, now)
            report.fired.append((claimed, fired))
        except StaleTask:
            continue  # someone acted on the instance meanwhile; it is looked at afresh
        except Exception as exc:
            if claimed is None:
                raise  # the database itself failed: the caller's loop waits and tries again
            log.warning("timer job of instance %s failed: %s", claimed, one_line(exc))
            with factory() as session, session.begin():
                gave_up = _record_failure(session, claimed, now, exc)
            (report.failed if gave_up else report.retrying).append((claimed, one_line(exc)))
    with factory() as session, session.begin():
        report.expired_messages = _expire(session, now)
    return report


class TimerStuck(Exception):
    """A due timer that did not fire: counted as a failed attempt so it cannot block the queue."""


def _check_moved_on(session: Session, instance_id: int, now: datetime) -> None:
    """Nothing fired: the job must not still be due, or the next claim would take it again."""
    due = session.scalar(select(Instance.next_timer_at).where(Instance.id == instance_id))
    if due is not None and due < now:
        raise TimerStuck(f"timer due at {due.isoformat()} did not fire at {now.isoformat()}")


def _expire(session: Session, now: datetime) -> int:
    from engine.messages import expire_messages  # engine.messages imports engine.step

    return expire_messages(session, now)


def _record_failure(session: Session, instance_id: int, now: datetime, exc: Exception) -> bool:
    """Count a failed attempt: put the job off, or after the last one put the instance in error."""
    locked = session.scalar(select(Instance.id).where(Instance.id == instance_id).with_for_update())
    instance = session.get(Instance, instance_id) if locked is not None else None
    if instance is None:
        return True
    conf = settings.current()
    attempts = instance.timer_attempts + 1
    reason = one_line(f"{exc.__class__.__name__}: {exc}")[:1500]
    if attempts >= conf.timer_max_attempts:
        instance.state = ERROR
        instance.error_element = "timer"
        instance.error_message = f"timer job failed {attempts} times; last: {reason}"
        instance.next_timer_at = None
        action = "error"
        detail: dict[str, object] = {"message": instance.error_message}
    else:
        instance.next_timer_at = now + settings.backoff(attempts)
        action = "timer_retry"
        detail = {"attempt": attempts, "retry_at": instance.next_timer_at, "reason": reason}
    instance.timer_attempts = attempts
    instance.updated_at = now
    session.flush()
    row = audit.entry(
        "sistem",
        action,
        process_key=instance.process_key,
        instance_id=instance.id,
        element_id="timer",
        detail=detail,
        at=now,
    )
    audit.write(session, [row])
    return attempts >= conf.timer_max_attempts
