"""User-task metadata: lanes and roles, form keys, assignee and due expressions."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import Problem
from engine.sources import CAMUNDA_NS, SourceDoc
from engine.validation.checks import ISO_LITERAL, _attr, _check_expression
from engine.validation.messages import _eid


def role_of_lane(lane: str) -> str:
    """The role key for a lane name: 'Panitia Seleksi' -> 'panitia_seleksi'."""
    return re.sub(r"[^a-z0-9]+", "_", lane.strip().lower()).strip("_")


def _spiff_props(el: Any, doc: SourceDoc) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in doc.xpath("./bpmn:extensionElements/spiffworkflow:properties/*", el):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    for prop in doc.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", el):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    return props


def _lanes(doc: SourceDoc) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for ref in doc.xpath("//bpmn:lane/bpmn:flowNodeRef"):
        if ref.text:
            # Nested lanes: the innermost lane wins because it is visited last.
            lanes[ref.text.strip()] = ref.getparent().get("name") or ref.getparent().get("id")
    return lanes


def task_metadata(doc: SourceDoc, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Per user/manual task: name, lane, role, form key, assignee and due expressions."""
    lanes = _lanes(doc)
    meta: dict[str, dict[str, Any]] = {}
    for task in doc.xpath("//bpmn:userTask|//bpmn:manualTask"):
        tid = _eid(task)
        props = _spiff_props(task, doc)
        lane = lanes.get(tid)
        role = props.get("role") or _attr(task, CAMUNDA_NS, "candidateGroups")
        if role:
            role = role.split(",")[0].strip()
        elif lane:
            role = role_of_lane(lane)
        form_key = props.get("formKey") or _attr(task, CAMUNDA_NS, "formKey")
        fields = [
            {
                "id": f.get("id"),
                "label": f.get("label") or f.get("id"),
                "type": f.get("type") or "string",
                "options": [
                    {"id": v.get("id"), "name": v.get("name")}
                    for v in doc.xpath("./camunda:value", f)
                ],
            }
            for f in doc.xpath(".//camunda:formData/camunda:formField", task)
        ]
        meta[tid] = {
            "name": task.get("name") or tid,
            "lane": lane,
            "role": role or None,
            "form_key": form_key or None,
            "assignee": props.get("assignee") or _attr(task, CAMUNDA_NS, "assignee"),
            "due": props.get("dueDate") or _attr(task, CAMUNDA_NS, "dueDate"),
            "fields": fields,
        }
        for what in ("assignee", "due"):
            expr = meta[tid][what]
            if expr:
                expr = strip_el(expr)
                meta[tid][what] = expr
                if not ISO_LITERAL.match(expr):
                    _check_expression(problems, doc, tid, expr, "eval", f"{what} expression")
        if not lane and not role and not meta[tid]["assignee"]:
            problems.append(
                Problem(
                    doc.name,
                    tid,
                    "user task has no lane: only the starter or an admin may do it",
                    "warning",
                )
            )
        if not form_key:
            detail = "its Camunda form fields" if fields else "a plain data form"
            problems.append(
                Problem(doc.name, tid, f"user task has no form key: {detail} is used", "warning")
            )
    for start in doc.xpath("//bpmn:process/bpmn:startEvent"):
        rule = start_rule(doc, start, problems)
        if rule:
            meta[_eid(start)] = {
                "name": start.get("name") or _eid(start),
                "role": None,
                "start": rule,
            }
    return meta


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def start_rule(doc: SourceDoc, process: Any, problems: list[Problem]) -> dict[str, Any] | None:
    """Who may start the process for whom: the start event's `subject` and `startFor`.

    `subject` names the start-data field holding the username the instance is about (the
    employee asking for training, the mentee, ...); `startFor` lists who may start it for
    that person: `diri` (the person themself), `atasan_berjenjang` (anyone above them in the
    org chart) and role names (anyone holding the role). An admin always may. Without
    `subject`, anyone holding one of the process's lane roles may start it.
    """
    starts = doc.xpath("./bpmn:startEvent", process)
    if not starts:
        return None
    start = starts[0]
    props = _spiff_props(start, doc)
    subject = props.get("subject", "").strip()
    if not subject:
        if props.get("startFor"):
            problems.append(Problem(doc.name, _eid(start), "startFor needs a subject field"))
        return None
    if not IDENTIFIER.fullmatch(subject):
        problems.append(
            Problem(doc.name, _eid(start), f"subject '{subject}' is not a data field name")
        )
        return None
    allowed = [p.strip() for p in (props.get("startFor") or "diri").split(",") if p.strip()]
    bad = [p for p in allowed if not IDENTIFIER.fullmatch(p)]
    if bad:
        problems.append(Problem(doc.name, _eid(start), f"startFor: '{bad[0]}' is not a role name"))
        return None
    return {"subject": subject, "start_for": allowed}


def strip_el(expr: str) -> str:
    """Turn a Camunda `${expr}` into a plain expression."""
    expr = expr.strip()
    match = re.fullmatch(r"[$#]\{(.*)\}", expr, re.S)
    return match.group(1).strip() if match else expr
