"""Evaluating a deployed DMN decision on its own (`jenjang decide`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import DecisionNotFound, InvalidInput
from engine.models import DecisionVersion, SourceFile
from engine.runtime import SCRIPT_ENGINE
from engine.sources import one_line, parse_xml

_ENGINES: dict[str, DMNEngine] = {}  # by content sha256


def _engine_for(session: Session, dv: DecisionVersion) -> DMNEngine:
    if dv.sha256 not in _ENGINES:
        src = session.get(SourceFile, dv.source_id)
        assert src is not None
        parser = BpmnDmnParser(validator=BpmnValidator())
        parser.add_dmn_xml(parse_xml(src.content.encode("utf-8")), src.name)
        dmn = parser.dmn_parsers[dv.key]
        dmn.parse()
        _ENGINES[dv.sha256] = DMNEngine(dmn.decision.decisionTables[0])
    return _ENGINES[dv.sha256]


def decide(
    session: Session, key: str, data: dict[str, Any], version: int | None = None
) -> dict[str, Any]:
    """Evaluate the latest (or a given) version of a decision with the input data."""
    if not isinstance(data, dict):
        raise InvalidInput("decision input must be a JSON object")
    query = select(DecisionVersion).where(DecisionVersion.key == key)
    if version is not None:
        query = query.where(DecisionVersion.version == version)
    dv = session.scalar(query.order_by(DecisionVersion.version.desc()).limit(1))
    if dv is None:
        raise DecisionNotFound(f"decision '{key}' is not deployed")
    engine = _engine_for(session, dv)
    # The DMN engine needs only a task's data and script engine; its error reporting also
    # walks task.workflow.top_workflow, so the stand-in workflow is its own top.
    workflow = SimpleNamespace(
        script_engine=SCRIPT_ENGINE, spec=SimpleNamespace(name=key, file=None)
    )
    workflow.top_workflow = workflow
    task = SimpleNamespace(
        data=dict(data),
        workflow=workflow,
        task_spec=SimpleNamespace(name=key, bpmn_id=key, bpmn_name=key),
    )
    try:
        result: dict[str, Any] = engine.result(task)
    except Exception as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise InvalidInput(f"decision '{key}': {one_line(message)}") from exc
    return result


def decision_table(session: Session, key: str, version: int) -> Any:
    """The parsed decision table of a deployed decision version (for reading its rules)."""
    dv = session.scalar(
        select(DecisionVersion).where(
            DecisionVersion.key == key, DecisionVersion.version == version
        )
    )
    if dv is None:
        raise DecisionNotFound(f"decision '{key}' version {version} is not deployed")
    return _engine_for(session, dv).decision_table


def is_deployed(session: Session, key: str) -> bool:
    """Whether some version of a decision is deployed."""
    found = session.scalar(select(DecisionVersion.id).where(DecisionVersion.key == key).limit(1))
    return found is not None
