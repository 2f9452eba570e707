"""Turning lxml and SpiffWorkflow errors (and SpiffWorkflow's warnings) into one readable line."""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.errors import Problem
from engine.sources import BPMN_NS, CAMUNDA_NS, SPIFF_NS, SourceDoc, one_line

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
_CLARK = re.compile(r"\{([^}]*)\}([A-Za-z_][\w.\-]*)")
_ELEMENT_REPR = re.compile(r"<Element (\{[^}]*\}[\w.\-]+|[\w.\-:]+) at 0x[0-9a-fA-F]+>")
_SCHEMA_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: (.*)$", re.S)


def _eid(el: Any, fallback: str = "-") -> str:
    """The id of an element, or the fallback when it has none."""
    value = el.get("id") if el is not None else None
    return str(value) if value else fallback


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


# warnings.catch_warnings swaps process-wide state: one parse that records warnings at a time.
_WARNINGS_LOCK = threading.Lock()


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
