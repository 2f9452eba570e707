"""The top-level `validate`: every document of a deployment, checked together."""

from __future__ import annotations

from engine.errors import Problem
from engine.sources import SourceDoc
from engine.validation.checks import _executable_processes, _static_checks
from engine.validation.dmn import _check_dmn
from engine.validation.messages import problem_from_exception
from engine.validation.metadata import task_metadata
from engine.validation.results import ValidationResult
from engine.validation.specs import _build_specs
from engine.validation.xsd import _schema_problems


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
