"""Firing due timers: instances whose earliest timer is due run on, one transaction each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, messages
from engine.models import Instance
from engine.runtime import ACTIVE_STATES, TIMER_EVENTS, Step, get_instance

SYSTEM_ACTOR = "sistem"


@dataclass(frozen=True)
class SystemActor:
    """The engine acting on its own (timers): recorded as 'sistem' in the audit trail."""

    username: str = SYSTEM_ACTOR
    id: int | None = None

    @property
    def role_names(self) -> set[str]:
        """The system may do what an admin may."""
        return {"admin"}


def due_instances(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Ids of active instances whose earliest timer is past at `now` (naive UTC), oldest first."""
    return list(
        session.scalars(
            select(Instance.id)
            .where(Instance.state.in_(ACTIVE_STATES), Instance.next_timer_at < now)
            .order_by(Instance.next_timer_at, Instance.id)
            .limit(limit)
        )
    )


def _waiting_timers(step: Step) -> dict[str, tuple[str, str]]:
    """Waiting timer tasks: id -> (element, when due); a cycle timer's due time moves on."""
    return {
        str(t.id): (
            t.task_spec.bpmn_id or t.task_spec.name,
            json.dumps(t.internal_data.get("event_value"), default=str),
        )
        for t in step.wf.get_tasks(state=TaskState.WAITING)
        if type(getattr(t.task_spec, "event_definition", None)).__name__ in TIMER_EVENTS
    }


def claim_due(session: Session, now: datetime) -> int | None:
    """Lock the instance whose timer is due first, skipping those other workers hold."""
    return session.scalar(
        select(Instance.id)
        .where(Instance.state.in_(ACTIVE_STATES), Instance.next_timer_at < now)
        .order_by(Instance.next_timer_at, Instance.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def fire_timers(session: Session, instance_id: int, now: datetime) -> list[str]:
    """Run an instance on at `now` so its due timers fire; the element ids that fired."""
    # Several workers share the work: one that finds the row locked leaves it to the other
    # (PostgreSQL; SQLite has one writer anyway). The version check still guards the write.
    locked = session.scalar(
        select(Instance.id).where(Instance.id == instance_id).with_for_update(skip_locked=True)
    )
    if locked is None:
        return []
    return fire_locked(session, instance_id, now)


def fire_locked(session: Session, instance_id: int, now: datetime) -> list[str]:
    """fire_timers for an instance row this transaction has already locked."""
    with clock.at(now):
        instance = get_instance(session, instance_id)
        due = instance.next_timer_at
        # Due means strictly past, as SpiffWorkflow's timers count it.
        if instance.state not in ACTIVE_STATES or due is None or due >= clock.utcnow():
            return []
        step = Step(session, instance)
        before = _waiting_timers(step)
        step.run(lambda: None)
        after = _waiting_timers(step)
        fired = sorted({due[0] for tid, due in before.items() if after.get(tid) != due})
        actor = SystemActor()
        step.record(actor, "timer", detail={"fired": fired, "now": now.isoformat()})  # type: ignore[arg-type]
        step.persist(actor)  # type: ignore[arg-type]
        messages.after_step(session, step, actor)
        if instance.timer_attempts:
            instance.timer_attempts = 0  # fired at last: earlier failures are behind it
            step.flush()
        return fired
