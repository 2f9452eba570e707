"""Static checks of what SpiffWorkflow would only hit at run time: scripts, timers, refs."""

from __future__ import annotations

import ast
import re
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.errors import Problem
from engine.sandbox import check_source
from engine.services import SERVICES
from engine.sources import CAMUNDA_NS, SourceDoc, one_line
from engine.validation.messages import _eid

ISO_LITERAL = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^R\d*/.+$|^\d{4}-\d{2}-\d{2}(T[\d:.+\-Z]*)?$")
PYTHON_SCRIPT_FORMATS = {"", "python", "python3", "text/x-python"}


def _executable_processes(doc: SourceDoc) -> list[Any]:
    return [p for p in doc.xpath("//bpmn:process") if p.get("isExecutable", "true") == "true"]


def _attr(el: Any, ns: str, name: str) -> str | None:
    value: str | None = el.get(f"{{{ns}}}{name}")
    return value


def _check_expression(
    problems: list[Problem], doc: SourceDoc, element: str, text: str | None, mode: str, what: str
) -> None:
    if text is None or not text.strip():
        return
    reason = check_source(text.strip() if mode == "eval" else text, mode)  # type: ignore[arg-type]
    if reason:
        problems.append(Problem(doc.name, element, f"{what} does not compile: {reason}"))


def _check_timer(problems: list[Problem], doc: SourceDoc, element: str, node: Any) -> None:
    kind = node.tag.rsplit("}", 1)[-1]
    text = (node.text or "").strip()
    if not text:
        problems.append(Problem(doc.name, element, f"timer {kind} is empty"))
        return
    if ISO_LITERAL.match(text):
        # Camunda writes timers as bare ISO literals; the engine evaluates expressions.
        node.text = repr(text)
        literal: str | None = text
    else:
        reason = check_source(text, "eval")
        if reason:
            problems.append(Problem(doc.name, element, f"timer {kind} does not compile: {reason}"))
            return
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return  # an expression: checked when it runs
        literal = value if isinstance(value, str) else None
        if literal is None:
            problems.append(Problem(doc.name, element, f"timer {kind} must be a string"))
            return
    try:
        if kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.parse_time_or_duration(literal)
    except Exception as exc:
        problems.append(
            Problem(doc.name, element, f"timer {kind} '{literal}' does not parse: {one_line(exc)}")
        )


def _check_extension_ids(doc: SourceDoc, problems: list[Problem]) -> None:
    """SpiffWorkflow finds flow nodes by id anywhere in the file: an extension element with
    a flow node's id (a service operator or parameter named like a task) hides that task."""
    bpmn_ids = {el.get("id") for el in doc.xpath("//bpmn:*[@id]")}
    for el in doc.xpath("//spiffworkflow:*[@id]"):
        if el.get("id") in bpmn_ids:
            owner = el
            while owner is not None and not str(owner.tag).startswith("{http://www.omg.org"):
                owner = owner.getparent()
            while owner is not None and etree_local(owner) == "extensionElements":
                owner = owner.getparent()
            problems.append(
                Problem(
                    doc.name,
                    _eid(owner) if owner is not None else "-",
                    f"the id '{el.get('id')}' names both a BPMN element and a "
                    f"spiffworkflow:{etree_local(el)} inside it; rename one",
                )
            )


def etree_local(el: Any) -> str:
    """The local part of an element's tag."""
    return str(el.tag).rsplit("}", 1)[-1]


def _static_checks(
    doc: SourceDoc, decisions: set[str], processes: set[str], problems: list[Problem]
) -> None:
    """Checks SpiffWorkflow would only hit at run time (or crash on): scripts, refs, timers."""
    _check_extension_ids(doc, problems)
    message_ids = {m.get("id") for m in doc.xpath("//bpmn:message")}
    for proc in _executable_processes(doc):
        for task in doc.xpath(".//bpmn:scriptTask", proc):
            fmt = (task.get("scriptFormat") or "").strip().lower()
            if fmt not in PYTHON_SCRIPT_FORMATS:
                problems.append(
                    Problem(doc.name, _eid(task), f"script format '{fmt}' is not supported")
                )
                continue
            scripts = doc.xpath("./bpmn:script", task)
            _check_expression(
                problems, doc, _eid(task), scripts[0].text if scripts else "", "exec", "script"
            )
        for ext in ("preScript", "postScript"):
            for node in doc.xpath(f".//spiffworkflow:{ext}", proc):
                owner = node.getparent().getparent()
                _check_expression(problems, doc, _eid(owner), node.text, "exec", ext)
        for cond in doc.xpath(".//bpmn:sequenceFlow/bpmn:conditionExpression", proc):
            flow = cond.getparent()
            _check_expression(problems, doc, _eid(flow), cond.text, "eval", "condition")
        for tag in ("completionCondition", "loopCardinality", "loopCondition"):
            for node in doc.xpath(f".//bpmn:{tag}", proc):
                owner = node.getparent().getparent()
                _check_expression(problems, doc, _eid(owner), node.text, "eval", tag)
        for timer in doc.xpath(".//bpmn:timerEventDefinition", proc):
            owner = timer.getparent()
            nodes = doc.xpath("./bpmn:timeDuration|./bpmn:timeDate|./bpmn:timeCycle", timer)
            if not nodes:
                problems.append(Problem(doc.name, _eid(owner), "timer has no definition"))
            for node in nodes:
                _check_timer(problems, doc, _eid(owner), node)
        for el in doc.xpath(
            ".//bpmn:messageEventDefinition|.//bpmn:receiveTask|.//bpmn:sendTask", proc
        ):
            ref = el.get("messageRef")
            owner = el.getparent() if el.tag.endswith("EventDefinition") else el
            if ref is not None and ref not in message_ids:
                local = ref.rsplit(":", 1)[-1]
                hint = f": refer to it by its id '{local}'" if local in message_ids else ""
                problems.append(
                    Problem(doc.name, _eid(owner), f"messageRef '{ref}' names no message{hint}")
                )
        for task in doc.xpath(".//bpmn:businessRuleTask", proc):
            ref = _decision_ref(doc, task)
            if not ref:
                where = "spiffworkflow:calledDecisionId"
                if doc.dialect == "camunda":
                    where = "camunda:decisionRef"
                problems.append(
                    Problem(
                        doc.name,
                        _eid(task),
                        f"business rule task names no decision (its {where} is missing)",
                    )
                )
            elif ref not in decisions:
                problems.append(Problem(doc.name, _eid(task), f"decision '{ref}' is not deployed"))
        for task in doc.xpath(".//bpmn:serviceTask", proc):
            operators = doc.xpath(
                "./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", task
            )
            name = operators[0].get("id") if operators else None
            if name and name not in SERVICES:
                known = ", ".join(sorted(SERVICES))
                problems.append(
                    Problem(doc.name, _eid(task), f"unknown service '{name}' (known: {known})")
                )
        for call in doc.xpath(".//bpmn:callActivity", proc):
            called = call.get("calledElement")
            if not called:
                problems.append(Problem(doc.name, _eid(call), "call activity names no process"))
            elif called not in processes:
                problems.append(
                    Problem(doc.name, _eid(call), f"called process '{called}' does not exist")
                )


def _decision_ref(doc: SourceDoc, task: Any) -> str | None:
    ref = _attr(task, CAMUNDA_NS, "decisionRef")
    if ref:
        return ref
    nodes = doc.xpath("./bpmn:extensionElements/spiffworkflow:calledDecisionId", task)
    return (nodes[0].text or "").strip() if nodes else None
