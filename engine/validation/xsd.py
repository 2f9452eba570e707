"""XSD checks: every schema error of a BPMN or DMN document, one line each."""

from __future__ import annotations

import threading

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR

from engine.errors import Problem
from engine.sources import SourceDoc
from engine.validation.messages import _eid, _schema_reason

MAX_SCHEMA_PROBLEMS = 10  # per file; the rest is summed up in one more line
DMN_VERSIONS = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
# lxml schemas keep their error log on the schema object: one validation at a time.
_SCHEMA_LOCK = threading.Lock()
_CAMUNDA_VALIDATOR = BpmnValidator()
_DMN_VALIDATORS: dict[str, tuple[BpmnValidator | None, str]] = {}


def _schema_problems(doc: SourceDoc) -> list[Problem]:
    """Every XSD error of a document (up to MAX_SCHEMA_PROBLEMS), one line each."""
    tree = doc.root.getroottree()
    if doc.kind == "dmn":
        namespace = etree.QName(doc.root).namespace or ""
        validator, refusal = _dmn_validator(namespace)
        if refusal:
            decision = doc.xpath("//*[local-name()='decision']")
            return [Problem(doc.name, _eid(decision[0]) if decision else "-", refusal)]
        schema = f"DMN {DMN_VERSIONS.get(namespace, '')}".strip()
    else:
        validator = SPIFF_VALIDATOR if doc.dialect == "spiff" else _CAMUNDA_VALIDATOR
        validator.preprocess(tree)
        schema = "BPMN"
    if validator is None:
        return []  # SpiffWorkflow has no schema for this DMN version and does not check it
    with _SCHEMA_LOCK:
        valid = validator.validator.validate(tree)
        entries = list(validator.validator.error_log)
    if valid:
        return []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        element, reason = _schema_reason(doc, schema, entry.message, entry.line)
        if (element, reason) in seen:
            continue
        seen.add((element, reason))
        if len(problems) == MAX_SCHEMA_PROBLEMS:
            more = len({(e.message, e.line) for e in entries}) - MAX_SCHEMA_PROBLEMS
            errors = "error" if more == 1 else "errors"
            problems.append(Problem(doc.name, "-", f"{more} more {schema} schema {errors}"))
            break
        problems.append(Problem(doc.name, element, reason))
    return problems or [Problem(doc.name, "-", f"not valid against the {schema} schema")]


def _dmn_validator(namespace: str) -> tuple[BpmnValidator | None, str]:
    """The XSD validator SpiffWorkflow uses for a DMN namespace, or why there is none."""
    if namespace not in _DMN_VALIDATORS:
        path = DMN_SCHEMAS.get(namespace)
        version = DMN_VERSIONS.get(namespace, "?")
        if path is None:
            _DMN_VALIDATORS[namespace] = (None, "")
        else:
            try:
                _DMN_VALIDATORS[namespace] = (BpmnValidator(path), "")
            except etree.LxmlError:
                _DMN_VALIDATORS[namespace] = (
                    None,
                    f"DMN {version} cannot be checked: the DMN {version} schema shipped with "
                    f"SpiffWorkflow does not load; save the decision as DMN 1.3",
                )
    return _DMN_VALIDATORS[namespace]
