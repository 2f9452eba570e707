"""Deployment validation: parse with SpiffWorkflow (XSD on) and check what would fail later.

Nothing here touches the database: deployed processes and decisions are handed in as sources.
Every problem is one line `FILE: ELEMENT: reason`: XSD errors (all of them, each on the element
of its source line), SpiffWorkflow's ValidationExceptions and the raw exceptions its parsers
raise (KeyError, AttributeError, ...) are translated here, and no exception leaves `validate`.
"""

from __future__ import annotations

import ast
import json
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser, SendTaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ReceiveTask, SendTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEventDefinitionParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import Problem
from engine.sandbox import check_source
from engine.serialization import SERIALIZERS, specs_to_json
from engine.sources import BPMN_NS, CAMUNDA_NS, SPIFF_NS, SourceDoc, one_line

ISO_LITERAL = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^R\d*/.+$|^\d{4}-\d{2}-\d{2}(T[\d:.+\-Z]*)?$")
PYTHON_SCRIPT_FORMATS = {"", "python", "python3", "text/x-python"}
MAX_SCHEMA_PROBLEMS = 10  # per file; the rest is summed up in one more line
KNOWN_PREFIXES = {
    BPMN_NS: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://www.w3.org/2001/XMLSchema": "xs",
    CAMUNDA_NS: "camunda",
    SPIFF_NS: "spiffworkflow",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "dmn",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "dmn",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "dmn",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "dmn",
}
DMN_VERSIONS = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
# lxml schemas keep their error log on the schema object: one validation at a time.
_SCHEMA_LOCK = threading.Lock()
# warnings.catch_warnings swaps process-wide state: one parse that records warnings at a time.
_WARNINGS_LOCK = threading.Lock()
_CAMUNDA_VALIDATOR = BpmnValidator()
_DMN_VALIDATORS: dict[str, tuple[BpmnValidator | None, str]] = {}


@dataclass
class ParsedProcess:
    """An executable process that passed validation, ready to be stored as a version."""

    key: str
    name: str
    dialect: str
    doc: SourceDoc
    spec: Any
    subprocess_specs: dict[str, Any]
    task_meta: dict[str, dict[str, Any]]
    decisions: set[str]
    called: set[str]
    warnings: list[Problem] = field(default_factory=list)
    spec_json: str | None = None  # specs_to_json(dialect, spec, subprocess_specs), checked here


@dataclass
class ParsedDecision:
    """A DMN decision that passed validation."""

    key: str
    name: str
    doc: SourceDoc


@dataclass
class ValidationResult:
    """What validation found: problems (errors refuse everything) and what would be stored."""

    problems: list[Problem] = field(default_factory=list)
    processes: list[ParsedProcess] = field(default_factory=list)
    decisions: list[ParsedDecision] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that refuse the deployment."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems shown to the process owner that do not refuse the deployment."""
        return [p for p in self.problems if p.severity == "warning"]


def role_of_lane(lane: str) -> str:
    """The role key for a lane name: 'Panitia Seleksi' -> 'panitia_seleksi'."""
    return re.sub(r"[^a-z0-9]+", "_", lane.strip().lower()).strip("_")


class _CamundaSendTaskParser(CamundaEventDefinitionParser, SendTaskParser):
    def create_task(self) -> Any:
        return SendTaskParser.create_task(self)


class _CamundaReceiveTaskParser(CamundaEventDefinitionParser, ReceiveTaskParser):
    def create_task(self) -> Any:
        return ReceiveTaskParser.create_task(self)


class JenjangCamundaParser(CamundaParser):
    """CamundaParser whose send and receive tasks get the Camunda message event definition.

    SpiffWorkflow 3.2.0's CamundaParser leaves them to the plain BPMN parser, whose message
    event definition the Camunda serializer does not know: such a process would parse and
    then fail to be stored.
    """

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("sendTask"): (_CamundaSendTaskParser, SendTask),
        full_tag("receiveTask"): (_CamundaReceiveTaskParser, ReceiveTask),
    }


def _make_parser(dialect: str) -> BpmnDmnParser:
    # No validator: _schema_problems checks every document of a deployment against the same
    # XSD once, reporting every error (SpiffWorkflow's validator stops at the first), and what
    # was deployed earlier passed it then.
    if dialect == "camunda":
        return JenjangCamundaParser()
    return SpiffBpmnParser()


def _eid(el: Any, fallback: str = "-") -> str:
    """The id of an element, or the fallback when it has none."""
    value = el.get("id") if el is not None else None
    return str(value) if value else fallback


# --- Turning lxml and SpiffWorkflow errors into one readable line -----------------------------

_CLARK = re.compile(r"\{([^}]*)\}([A-Za-z_][\w.\-]*)")
_ELEMENT_REPR = re.compile(r"<Element (\{[^}]*\}[\w.\-]+|[\w.\-:]+) at 0x[0-9a-fA-F]+>")
_SCHEMA_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: (.*)$", re.S)


def _prefix_for(doc: SourceDoc | None, namespace: str) -> str | None:
    if namespace in KNOWN_PREFIXES:
        return KNOWN_PREFIXES[namespace]
    if doc is not None:
        for prefix, uri in doc.root.nsmap.items():
            if uri == namespace and prefix:
                return str(prefix)
    return None


def short_name(doc: SourceDoc | None, name: str) -> str:
    """'{http://www.omg.org/spec/BPMN/20100524/MODEL}task' -> 'bpmn:task'."""

    def repl(match: re.Match[str]) -> str:
        prefix = _prefix_for(doc, match.group(1))
        return f"{prefix}:{match.group(2)}" if prefix else f"{match.group(2)} ({match.group(1)})"

    return _CLARK.sub(repl, name)


def _tag_of(doc: SourceDoc | None, el: Any) -> str:
    tag = el.tag if isinstance(getattr(el, "tag", None), str) else "element"
    return short_name(doc, tag)


def _element_id_at(doc: SourceDoc, line: Any, tag: str | None = None) -> str:
    """The id of the element on a source line (or of its nearest ancestor with an id)."""
    try:
        number = int(line)
    except (TypeError, ValueError):
        return "-"
    candidates = [
        el for el in doc.root.iter() if isinstance(el.tag, str) and el.sourceline == number
    ]
    if not candidates:
        return "-"
    chosen = next((el for el in candidates if el.tag == tag), candidates[0])
    while chosen is not None:
        if chosen.get("id"):
            return str(chosen.get("id"))
        chosen = chosen.getparent()
    return "-"


def _schema_reason(doc: SourceDoc, schema: str, message: str, line: Any) -> tuple[str, str]:
    """(element id, reason) for one XSD error message of lxml."""
    text = one_line(message).rstrip(".")
    match = _SCHEMA_MESSAGE.match(text)
    element = "-"
    if match:
        tag, attribute, detail = match.groups()
        element = _element_id_at(doc, line, tag)
        where = f"<{short_name(doc, tag)}>"
        if attribute:
            where += f" attribute '{short_name(doc, attribute)}'"
    else:
        element = _element_id_at(doc, line)
        where, detail = "", text
    detail = detail.replace("This element is not expected", "this element is not allowed here")
    detail = detail.replace(
        "No matching global element declaration available, but demanded by the strict wildcard",
        "an element the schema does not declare is not allowed here",
    )
    detail = re.sub(r"\.?\s*Expected is one of \( (.*?) \)\.?", r"; expected one of: \1", detail)
    detail = re.sub(r"\.?\s*Expected is \( (.*?) \)\.?", r"; expected: \1", detail)
    detail = re.sub(
        r"##other\{([^}]*)\}\*",
        lambda m: (
            f"an element of another namespace than {_prefix_for(doc, m.group(1)) or m.group(1)}"
        ),
        detail,
    )
    detail = short_name(doc, detail).strip().rstrip(".;")
    detail = re.sub(r"(expected one of: )(.*)$", _shorten_choices, detail)
    if detail:
        detail = detail[0].lower() + detail[1:]
    at = f" (line {line})" if line else ""
    reason = (
        f"{schema} schema: {where}: {detail}{at}" if where else f"{schema} schema: {detail}{at}"
    )
    return element, reason


def _shorten_choices(match: re.Match[str]) -> str:
    choices = [c.strip() for c in match.group(2).split(",")]
    if len(choices) <= 9:
        return match.group(0)
    return f"{match.group(1)}{', '.join(choices[:8])} or {len(choices) - 8} more"


def _node_from_traceback(exc: BaseException) -> Any:
    """The XML node SpiffWorkflow was parsing when it failed (innermost parser frame)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        try:
            candidates = [local.get("node"), getattr(local.get("self"), "node", None)]
        except Exception:
            candidates = []
        for node in candidates:
            if node is not None and isinstance(getattr(node, "tag", None), str):
                found = node
                break
        tb = tb.tb_next
    return found


def _element_missing(exc: BaseException, attribute: str) -> Any:
    """The element (a local of the innermost frame that has one) lacking `attribute`."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        lacking = [
            value
            for value in list(tb.tb_frame.f_locals.values())
            if isinstance(getattr(value, "tag", None), str)
            and getattr(value, "attrib", None) is not None
            and attribute not in value.attrib
        ]
        if lacking:  # one that usually has it here, else the deepest (a child being read)
            found = max(
                lacking,
                key=lambda el: (
                    any(attribute in other.attrib for other in el.getroottree().iter(el.tag)),
                    len(el.attrib) > 0,
                    sum(1 for _ in el.iterancestors()),
                ),
            )
        tb = tb.tb_next
    return found


def _data_association_reason(doc: SourceDoc, element: str, kind: str) -> str:
    ref_tag = "sourceRef" if kind == "dataInputAssociation" else "targetRef"
    owners = doc.root.xpath("//*[@id=$id]", id=element) if element != "-" else []
    refs = [
        (r.text or "").strip()
        for owner in owners[:1]
        for r in doc.xpath(f"./bpmn:{kind}/bpmn:{ref_tag}", owner)
    ]
    known = set(doc.xpath("//bpmn:dataObjectReference/@id|//bpmn:dataStoreReference/@id"))
    missing = [r for r in refs if r not in known]
    if missing:
        return f"{kind}: {ref_tag} '{missing[0]}' names no data object or data store reference"
    shown = f" '{refs[0]}'" if refs else ""
    return (
        f"{kind}: {ref_tag}{shown} leads to no data object of this process "
        "and to no data store the engine provides"
    )


def _validation_reason(doc: SourceDoc, exc: ValidationException, fallback: str) -> Problem:
    message = str(exc.args[0]) if exc.args else str(exc)
    line = getattr(exc, "line_number", "")
    element = str(getattr(exc, "id", "") or "")
    if not element and message.startswith("Element '"):
        schema = "DMN" if doc.kind == "dmn" else "BPMN"
        element, reason = _schema_reason(doc, schema, message, line)
        return Problem(doc.name, element if element != "-" else fallback, reason)
    if not element and line:
        element = _element_id_at(doc, line)
        element = "" if element == "-" else element
    cause = exc.__cause__ or exc.__context__
    wrapped = cause is not None and not isinstance(cause, ValidationException)
    if wrapped and message in {repr(cause), str(cause)}:  # a raw exception SpiffWorkflow wrapped
        inner = problem_from_exception(doc, cause, element or fallback)
        return Problem(doc.name, element or inner.element, inner.message)
    assoc = re.match(r"Cannot resolve (data(?:Input|Output)Association)\b", message)
    store = re.match(r"Data Store with name (.*) has no implementation$", message, re.S)
    if assoc:
        message = _data_association_reason(doc, element or fallback, assoc.group(1))
    elif store:
        name = store.group(1)
        stores = doc.root.xpath("//*[local-name()='dataStore'][@name=$name]", name=name)
        element = element or (_eid(stores[0], "") if stores else "")
        message = (
            f"data store '{one_line(name)}' has no implementation: "
            "the engine provides no data stores"
        )
    elif message.rstrip().endswith("for tasks of type"):
        message = f"{message.rstrip()} {getattr(exc, 'tag', '') or 'this'}: use a gateway"
    message = _ELEMENT_REPR.sub(lambda m: f"<{short_name(doc, m.group(1))}>", message)
    message = short_name(doc, message)
    if not element and line:
        message = f"{message} (line {line})"
    return Problem(doc.name, element or fallback, one_line(message))


def problem_from_exception(doc: SourceDoc, exc: BaseException, fallback: str = "-") -> Problem:
    """One readable line for anything SpiffWorkflow (or lxml) raised while reading `doc`."""
    if isinstance(exc, ValidationException):
        return _validation_reason(doc, exc, fallback)
    if isinstance(exc, etree.DocumentInvalid | etree.XMLSchemaError):
        entry = getattr(exc, "error_log", None)
        last = entry.last_error if entry is not None else None
        message = last.message if last is not None else str(exc)
        element, reason = _schema_reason(doc, doc.kind.upper(), message, getattr(last, "line", ""))
        return Problem(doc.name, element if element != "-" else fallback, reason)
    node = _node_from_traceback(exc)
    key = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else ""
    attribute_missing = key.startswith("{") or key in {"id", "name", "value", "type"}
    if attribute_missing:
        lacking = _element_missing(exc, key)
        node = lacking if lacking is not None else node
    element = _eid(node, fallback)
    if element == fallback and node is not None:
        parent = node.getparent()
        while parent is not None and not parent.get("id"):
            parent = parent.getparent()
        element = _eid(parent, fallback)
    what = f"<{_tag_of(doc, node)}>" if node is not None else "the file"
    if isinstance(exc, KeyError):
        if attribute_missing:
            reason = f"{what} misses the required attribute '{short_name(doc, key)}'"
        else:
            reason = f"{what} refers to '{short_name(doc, key)}', which does not exist"
    elif isinstance(exc, NotImplementedError) and "Catch Event" in str(exc.args[:1]):
        reason = (
            f"{what} has no event definition the engine supports "
            "(cancel, error, escalation, message, signal, timer or conditional)"
        )
    elif isinstance(exc, AssertionError) and "Expected 1 result" in str(exc):
        found = re.search(r"Received (\d+)", str(exc))
        count = found.group(1) if found else "another number of"
        reason = (
            f"{what} cannot be parsed: SpiffWorkflow expects exactly one matching element "
            f"(a child or a referenced message, signal or error) and found {count}"
        )
    elif isinstance(exc, AttributeError | IndexError):
        reason = f"{what} cannot be parsed: a required child element or reference is missing"
    elif isinstance(exc, TypeError):
        reason = f"{what} cannot be parsed: an attribute or child element has an unusable value"
    elif isinstance(exc, ValueError) and exc.args and isinstance(exc.args[0], str):
        reason = f"{what} cannot be parsed: {short_name(doc, exc.args[0])}"
    else:
        reason = f"{what} cannot be parsed by SpiffWorkflow ({exc.__class__.__name__})"
    return Problem(doc.name, element, one_line(reason))


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


def _executable_processes(doc: SourceDoc) -> list[Any]:
    return [p for p in doc.xpath("//bpmn:process") if p.get("isExecutable", "true") == "true"]


def _attr(el: Any, ns: str, name: str) -> str | None:
    value: str | None = el.get(f"{{{ns}}}{name}")
    return value


def _spiff_props(el: Any, doc: SourceDoc) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in doc.xpath("./bpmn:extensionElements/spiffworkflow:properties/*", el):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    for prop in doc.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", el):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    return props


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


def _static_checks(
    doc: SourceDoc, decisions: set[str], processes: set[str], problems: list[Problem]
) -> None:
    """Checks SpiffWorkflow would only hit at run time (or crash on): scripts, refs, timers."""
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
    return meta


def strip_el(expr: str) -> str:
    """Turn a Camunda `${expr}` into a plain expression."""
    expr = expr.strip()
    match = re.fullmatch(r"[$#]\{(.*)\}", expr, re.S)
    return match.group(1).strip() if match else expr


def _check_dmn(doc: SourceDoc, problems: list[Problem]) -> ParsedDecision | None:
    decisions = doc.xpath("//*[local-name()='decision']")
    if not decisions:
        problems.append(Problem(doc.name, "-", "nothing executable: no decision in the file"))
        return None
    if len(decisions) > 1:
        problems.append(
            Problem(
                doc.name, decisions[1].get("id", "-"), "only one decision per file is supported"
            )
        )
        return None
    decision = decisions[0]
    key = decision.get("id")
    if not key:
        problems.append(Problem(doc.name, "-", "the decision has no id"))
        return None
    schema_problems = _schema_problems(doc)
    if schema_problems:
        problems.extend(schema_problems)
        return None
    parser = BpmnDmnParser()  # the XSD was checked above
    try:
        with _spiff_warnings(doc, problems):
            parser.add_dmn_xml(doc.root, doc.name)
            dmn_parser = parser.dmn_parsers[key]
            dmn_parser.parse()
    except Exception as exc:
        problems.append(problem_from_exception(doc, exc, key))
        return None
    tables = dmn_parser.decision.decisionTables
    if not tables:
        problems.append(Problem(doc.name, key, "decision has no decision table"))
        return None
    for table in tables:
        for inp in table.inputs:
            _check_expression(problems, doc, inp.id, inp.expression, "eval", "input expression")
        for rule in table.rules:
            for entry in rule.inputEntries:
                for lhs in entry.lhs:
                    _check_input_entry(problems, doc, rule.id, entry.input.expression, lhs)
            for out in rule.outputEntries:
                _check_expression(problems, doc, rule.id, out.text, "eval", "output entry")
    return ParsedDecision(key, decision.get("name") or key, doc)


def _check_input_entry(
    problems: list[Problem], doc: SourceDoc, rule_id: str, input_expr: str | None, text: str | None
) -> None:
    if text is None or not text.strip() or text.strip() == "-":
        return
    text = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", text)
    if "dmninputexpr" in text:
        _check_expression(problems, doc, rule_id, text, "eval", "input entry")
        return
    if check_source(text, "eval") is None:
        return
    if check_source(f"v {text}", "eval") is None:
        return
    problems.append(Problem(doc.name, rule_id, f"input entry '{one_line(text)}' does not compile"))


def validate(
    docs: list[SourceDoc],
    deployed_decisions: dict[str, SourceDoc],
    deployed_processes: dict[str, SourceDoc],
) -> ValidationResult:
    """Validate a deployment of several documents together against what is already deployed."""
    result = ValidationResult()
    try:
        _validate(docs, deployed_decisions, deployed_processes, result)
    except Exception as exc:  # a last resort: whatever escaped is still one line
        doc = docs[0] if len(docs) == 1 else None
        if doc is not None:
            result.problems.append(problem_from_exception(doc, exc))
        else:
            reason = f"validation failed unexpectedly ({exc.__class__.__name__})"
            result.problems.append(Problem("-", "-", reason))
    unique = list(dict.fromkeys(result.problems))
    result.problems[:] = unique
    return result


def _validate(
    docs: list[SourceDoc],
    deployed_decisions: dict[str, SourceDoc],
    deployed_processes: dict[str, SourceDoc],
    result: ValidationResult,
) -> None:
    problems = result.problems
    for doc in docs:
        if doc.kind == "dmn":
            try:
                parsed = _check_dmn(doc, problems)
            except Exception as exc:
                problems.append(problem_from_exception(doc, exc))
                continue
            if parsed is not None:
                result.decisions.append(parsed)
    dmn_roots = {k: d for k, d in deployed_decisions.items()}
    dmn_roots.update({d.key: d.doc for d in result.decisions})

    bpmn_docs = [d for d in docs if d.kind == "bpmn"]
    new_process_ids = {
        p.get("id"): doc for doc in bpmn_docs for p in doc.xpath("//bpmn:process") if p.get("id")
    }
    known_processes = set(deployed_processes) | set(new_process_ids)
    all_processes = {**deployed_processes, **new_process_ids}
    seen: dict[str, str] = {}
    for doc in bpmn_docs:
        for proc in doc.xpath("//bpmn:process"):
            pid = proc.get("id")
            if pid in seen and seen[pid] != doc.name:
                problems.append(Problem(doc.name, pid, f"process is also defined in {seen[pid]}"))
            seen.setdefault(pid, doc.name)
    for doc in bpmn_docs:
        if not _executable_processes(doc):
            problems.append(
                Problem(doc.name, "-", 'nothing executable: no process has isExecutable="true"')
            )
            continue
        before = len(result.errors)
        try:
            _static_checks(doc, set(dmn_roots), known_processes, problems)
            meta = task_metadata(doc, problems)
            problems.extend(_schema_problems(doc))
            if len(result.errors) > before:
                continue
            result.processes.extend(_build_specs(doc, meta, dmn_roots, all_processes, problems))
        except Exception as exc:
            problems.append(problem_from_exception(doc, exc))
    if not docs:
        problems.append(Problem("-", "-", "nothing to deploy"))


def _build_specs(
    doc: SourceDoc,
    meta: dict[str, dict[str, Any]],
    dmn_docs: dict[str, SourceDoc],
    deployed_processes: dict[str, SourceDoc],
    problems: list[Problem],
) -> list[ParsedProcess]:
    """Parse the executable processes of `doc`."""
    with _spiff_warnings(doc, problems):
        return _parse_specs(doc, meta, dmn_docs, deployed_processes, problems)


@contextmanager
def _spiff_warnings(doc: SourceDoc, problems: list[Problem]) -> Iterator[None]:
    """SpiffWorkflow's warnings about the file become warning lines; the rest is its own noise.

    Recorded rather than left to the warnings filters, so that a warning is never raised as an
    exception (as under `-W error`) in the middle of a parse.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                text = one_line(warning.message)
                if "spiffworkflow:" not in text and "bpmn:" not in text:
                    continue
                elements = ["-"]
                if "messagePayload" in text or "messageVariable" in text:
                    path = (
                        "//bpmn:message[.//spiffworkflow:messagePayload"
                        " or .//spiffworkflow:messageVariable]"
                    )
                    elements = [_eid(m) for m in doc.xpath(path)] or ["-"]
                for element in elements:
                    reason = f"SpiffWorkflow warns: {text}"
                    problems.append(Problem(doc.name, element, reason, "warning"))


def _unstorable(doc: SourceDoc, specs: list[Any], exc: Exception, fallback: str) -> Problem:
    """Which task spec SpiffWorkflow's serializer cannot store, as one line."""
    registry = SERIALIZERS[doc.dialect].registry
    element, what = fallback, "the process"
    for spec in specs:
        for task_spec in spec.task_specs.values():
            try:
                json.dumps(registry.convert(task_spec))
            except Exception:
                element = str(getattr(task_spec, "bpmn_id", None) or task_spec.name)
                nodes = doc.root.xpath("//*[@id=$id]", id=element)
                what = f"<{_tag_of(doc, nodes[0])}>" if nodes else type(task_spec).__name__
                break
        else:
            continue
        break
    match = re.search(r"Object of type (\w+) is not JSON serializable", str(exc))
    detail = match.group(1) if match else f"it ({exc.__class__.__name__})"
    return Problem(
        doc.name,
        element,
        f"{what} cannot be stored: SpiffWorkflow's {doc.dialect} serializer does not support "
        f"{detail}",
    )


def _parse_specs(
    doc: SourceDoc,
    meta: dict[str, dict[str, Any]],
    dmn_docs: dict[str, SourceDoc],
    deployed_processes: dict[str, SourceDoc],
    problems: list[Problem],
) -> list[ParsedProcess]:
    parser = _make_parser(doc.dialect)
    added: set[int] = set()
    current = doc  # the file being added when something fails
    try:
        for dmn in dmn_docs.values():
            current = dmn
            parser.add_dmn_xml(dmn.root, dmn.name)
        current = doc
        parser.add_bpmn_xml(doc.root.getroottree(), doc.name)
        added.add(id(doc))
        # Called processes deployed earlier (or in another file of this deployment).
        pending = set(parser.get_process_dependencies()) - set(parser.process_parsers)
        while pending:
            called = pending.pop()
            other = deployed_processes.get(called)
            if other is None or id(other) in added or other is doc:
                continue
            if other.dialect != doc.dialect:
                problems.append(
                    Problem(
                        doc.name,
                        called,
                        f"called process is deployed in the {other.dialect} dialect; "
                        f"a {doc.dialect} process cannot call it",
                    )
                )
                return []
            current = other
            _static_checks(other, set(dmn_docs), set(deployed_processes), [])  # normalises timers
            parser.add_bpmn_xml(other.root.getroottree(), other.name)
            added.add(id(other))
            pending |= set(parser.get_process_dependencies()) - set(parser.process_parsers)
    except Exception as exc:
        problems.append(problem_from_exception(current, exc))
        return []
    parsed: list[ParsedProcess] = []
    for proc in _executable_processes(doc):
        pid = proc.get("id")
        if not pid:
            problems.append(Problem(doc.name, "-", "an executable process has no id"))
            continue
        try:
            spec = parser.get_spec(pid)
            subs = parser.get_subprocess_specs(pid)
        except Exception as exc:
            problems.append(
                problem_from_exception(_owner_doc(exc, doc, deployed_processes), exc, pid)
            )
            continue
        try:
            spec_json = specs_to_json(doc.dialect, spec, subs)
        except Exception as exc:
            problems.append(_unstorable(doc, [spec, *subs.values()], exc, pid))
            continue
        decisions = _decision_refs(doc)
        task_meta = dict(meta)
        for sub_key in subs:
            other = deployed_processes.get(sub_key)
            if other is not None and other is not doc:
                decisions |= _decision_refs(other)
                task_meta = task_metadata(other, []) | task_meta
        parsed.append(
            ParsedProcess(
                key=pid,
                name=proc.get("name") or pid,
                dialect=doc.dialect,
                doc=doc,
                spec=spec,
                subprocess_specs=subs,
                task_meta=task_meta,
                decisions=decisions,
                called={c for c in subs if c},
                spec_json=spec_json,
            )
        )
    return parsed


def _owner_doc(exc: BaseException, doc: SourceDoc, others: dict[str, SourceDoc]) -> SourceDoc:
    """The file an exception raised while building `doc` belongs to (a called process's)."""
    file_name = getattr(exc, "file_name", "")
    if file_name and file_name != doc.name:
        for other in others.values():
            if other.name == file_name:
                return other
    return doc


def _decision_refs(doc: SourceDoc) -> set[str]:
    return {ref for t in doc.xpath("//bpmn:businessRuleTask") if (ref := _decision_ref(doc, t))}


__all__ = [
    "CAMUNDA_NS",
    "SPIFF_NS",
    "JenjangCamundaParser",
    "ParsedDecision",
    "ParsedProcess",
    "ValidationResult",
    "problem_from_exception",
    "role_of_lane",
    "validate",
]
