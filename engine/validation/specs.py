"""Building specs with SpiffWorkflow's parsers, called processes included, and storing them."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser, SendTaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import ReceiveTask, SendTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEventDefinitionParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import Problem
from engine.serialization import SERIALIZERS, specs_to_json
from engine.sources import SourceDoc
from engine.validation.checks import _decision_ref, _executable_processes, _static_checks
from engine.validation.messages import _spiff_warnings, _tag_of, problem_from_exception
from engine.validation.metadata import start_rule, task_metadata
from engine.validation.results import ParsedProcess


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
                start_rule=start_rule(doc, proc, problems),
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
