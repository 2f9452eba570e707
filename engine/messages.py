"""Messages between instances (and from outside): correlation, subscriptions and delivery.

A message event names a BPMN message; its correlation properties (standard
`bpmn:correlationProperty` retrieval expressions, e.g. `formasi_id`) are evaluated on the
thrown payload, and on the waiting instance's task data, to give one correlation key. A
thrown message goes to every instance waiting for that name with an equal key, in the
same transaction; one that nothing waits for is kept and delivered when a matching catch
appears, never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

import engine.step as steps  # a module import: engine.step imports this module too
from engine import audit, clock, settings
from engine.batch import Batch
from engine.db import flushed_connection
from engine.errors import InvalidInput
from engine.models import MessageSubscription, PendingMessage, ProcessVersion

MAX_HOPS = 20  # a message that triggers a message that triggers ... stops here
Subscription = tuple[str, str]  # (message name, correlation key)


def correlation_key(definition: Any, context: Any) -> str:
    """The canonical key of a message's correlation properties evaluated on a context."""
    values: dict[str, Any] = {}
    scope = context if isinstance(context, dict) else {}
    for prop in getattr(definition, "correlation_properties", None) or []:
        try:
            values[prop.name] = steps.SCRIPT_ENGINE.environment.evaluate(
                prop.retrieval_expression, dict(scope)
            )
        except Exception:
            values[prop.name] = None
    return json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))


def caught_messages(spec: Any, subprocess_specs: dict[str, Any]) -> list[str]:
    """The names of the messages a process (with its subprocesses) has catch events for."""
    names = {
        task_spec.event_definition.name
        for process in (spec, *subprocess_specs.values())
        for task_spec in process.task_specs.values()
        if isinstance(task_spec, CatchingEvent)
        and isinstance(getattr(task_spec, "event_definition", None), MessageEventDefinition)
    }
    return sorted(names)


def waiting(wf: Any) -> dict[Subscription, Any]:
    """The messages a workflow waits for, each with the waiting task's event definition."""
    found: dict[Subscription, Any] = {}
    for task in list(wf.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition):
            found[(definition.name, correlation_key(definition, task.data))] = definition
    return found


# Built once: every step that starts or stops waiting for a message runs these.
_DELETE_SUBSCRIPTIONS = delete(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("p_instance")
)
_INSERT_SUBSCRIPTION = insert(MessageSubscription)
# A kept message for a subscription the step just made (normally there is none).
_PENDING_FOR = (
    select(PendingMessage.id)
    .where(
        PendingMessage.message_name == bindparam("p_name"),
        PendingMessage.correlation_key == bindparam("p_key"),
        PendingMessage.expired_at.is_(None),
        or_(PendingMessage.expires_at.is_(None), PendingMessage.expires_at > bindparam("p_now")),
    )
    .order_by(PendingMessage.id)
    .limit(1)
)


def sync_subscriptions(
    batch: Batch, instance_id: int, before: set[Subscription], now: set[Subscription]
) -> None:
    """Rewrite an instance's subscription rows (in the step's batch) when what it waits for
    changed."""
    if before == now:
        return
    batch.add(_DELETE_SUBSCRIPTIONS, {"p_instance": instance_id})
    rows = [
        {"instance_id": instance_id, "message_name": name, "correlation_key": key}
        for name, key in sorted(now)
    ]
    if rows:
        batch.add(_INSERT_SUBSCRIPTION, rows)


def after_step(session: Session, step: steps.Step, actor: Any, hops: int = 0) -> None:
    """Deliver what a persisted step threw, and what was kept for what it now waits for."""
    if hops > MAX_HOPS:
        raise InvalidInput(f"messages kept triggering messages beyond {MAX_HOPS} hops")
    for event in step.outbox:
        key = correlation_key(event.event_definition, event.payload)
        _route(
            session, event.event_definition.name, key, event.payload, step.instance.id, actor, hops
        )
    for name, key in sorted(step.new_subscriptions):
        found = flushed_connection(session).scalar(
            _PENDING_FOR, {"p_name": name, "p_key": key, "p_now": step.now}
        )
        pending = session.get(PendingMessage, found) if found is not None else None
        if pending is not None:
            payload = json.loads(pending.payload)
            sender = pending.sender_instance_id
            session.delete(pending)
            session.flush()
            deliver_to(session, step.instance.id, name, key, payload, sender, actor, hops + 1)


def _route(
    session: Session,
    name: str,
    key: str,
    payload: Any,
    sender: int | None,
    actor: Any,
    hops: int,
) -> int | PendingMessage:
    """Deliver to every waiting instance (their number), or keep the message (the kept row)."""
    receivers = [
        i
        for i in session.scalars(
            select(MessageSubscription.instance_id)
            .where(
                MessageSubscription.message_name == name,
                MessageSubscription.correlation_key == key,
            )
            .order_by(MessageSubscription.instance_id)
        ).unique()
        if i != sender
    ]
    if not receivers:
        now = clock.utcnow()
        kept = PendingMessage(
            message_name=name,
            correlation_key=key,
            payload=json.dumps(payload, default=str),
            sender_instance_id=sender,
            created_at=now,
            expires_at=now + settings.current().message_ttl,
        )
        session.add(kept)
        session.flush()
        return kept
    for instance_id in receivers:
        deliver_to(session, instance_id, name, key, payload, sender, actor, hops + 1)
    return len(receivers)


def deliver_to(
    session: Session,
    instance_id: int,
    name: str,
    key: str,
    payload: Any,
    sender: int | None,
    actor: Any,
    hops: int,
) -> bool:
    """Let one waiting instance catch a message and run on; False if it no longer waits."""
    instance = steps.get_instance(session, instance_id)
    if instance.state not in steps.ACTIVE_STATES:
        return False
    step = steps.Step(session, instance)
    definition = waiting(step.wf).get((name, key))
    if definition is None:
        return False
    try:
        correlations = definition.calculate_correlations(
            steps.SCRIPT_ENGINE, definition.correlation_properties, payload
        )
    except Exception:
        correlations = {}
    event = BpmnEvent(definition, payload=payload, correlations=correlations)
    step.run(lambda: step.wf.send_event(event))
    step.record(actor, "message", detail={"name": name, "correlation": key, "from": sender})
    step.persist(actor)
    after_step(session, step, actor, hops)
    return True


@dataclass(frozen=True)
class Sent:
    """What became of a message from outside: caught by some instances, or kept until a time."""

    delivered: int
    kept_until: datetime | None


def known_messages(session: Session) -> set[str] | None:
    """Names some deployed process can catch; None while a version predates the record."""
    names: set[str] = set()
    for catches in session.scalars(select(ProcessVersion.catches)):
        if catches is None:
            return None
        names.update(catches)
    return names


def send_message(
    session: Session, name: str, correlation: dict[str, Any], payload: Any, actor: Any
) -> Sent:
    """A message from outside (an API or the CLI): delivered now, or kept for a while."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("message name is empty")
    if not isinstance(correlation, dict):
        raise InvalidInput("correlation must be a JSON object")
    if not isinstance(payload, dict):
        raise InvalidInput("message data must be a JSON object")
    known = known_messages(session)
    if known is not None and name not in known:
        raise InvalidInput(f"message '{name}': no deployed process catches a message of that name")
    key = json.dumps(correlation, sort_keys=True, default=str, separators=(",", ":"))
    # The receiver evaluates its correlation properties on the payload: include the values.
    routed = _route(session, name, key, {**correlation, **payload}, None, actor, 0)
    if isinstance(routed, PendingMessage):
        return Sent(0, routed.expires_at)
    return Sent(routed, None)


def expire_messages(session: Session, now: datetime) -> int:
    """Mark kept messages whose time is up as expired, with an audit row each; how many."""
    expired = session.execute(
        update(PendingMessage)
        .where(PendingMessage.expired_at.is_(None), PendingMessage.expires_at <= now)
        .values(expired_at=now)
        .returning(PendingMessage.id, PendingMessage.message_name, PendingMessage.correlation_key)
    ).all()
    audit.write(
        session,
        [
            audit.entry(
                "sistem",
                "message_expired",
                at=now,
                detail={
                    "message_id": row.id,
                    "name": row.message_name,
                    "correlation": row.correlation_key,
                },
            )
            for row in expired
        ],
    )
    return len(expired)
