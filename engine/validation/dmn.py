"""DMN checks: one decision per file, its schema, its parse and its expressions."""

from __future__ import annotations

import re

from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

from engine.errors import Problem
from engine.sandbox import check_source
from engine.sources import SourceDoc, one_line
from engine.validation.checks import _check_expression
from engine.validation.messages import _spiff_warnings, problem_from_exception
from engine.validation.results import ParsedDecision
from engine.validation.xsd import _schema_problems


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
        return  # compared for equality with the input
    # SpiffWorkflow's DMN engine glues the input expression and the entry with no space, so
    # an entry starting with a word (`in [...]`, `not in`) would merge with the input's name.
    left, entry = (input_expr or "v").rstrip(), text.lstrip()
    merges = (left[-1:].isalnum() or left.endswith("_")) and (entry[:1].isalpha())
    if not merges and check_source(f"{left}{entry}", "eval") is None:
        return
    hint = f"; write '? {entry.strip()}' to compare with the input" if merges else ""
    problems.append(
        Problem(doc.name, rule_id, f"input entry '{one_line(text)}' does not compile{hint}")
    )
