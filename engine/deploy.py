"""Deploying BPMN/DMN: validate everything first, then store new versions all-or-nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, messages
from engine.errors import DeploymentRejected, Problem
from engine.models import DecisionVersion, ProcessVersion, SourceFile
from engine.serialization import specs_to_json
from engine.sources import SourceDoc, load_stored, read_source
from engine.validation import ParsedProcess, ValidationResult, validate


@dataclass
class Deployed:
    """One process or decision touched by a deployment."""

    kind: str  # "process" | "decision"
    key: str
    version: int
    changed: bool  # False: identical content, nothing new stored

    def __str__(self) -> str:
        verb = "deployed" if self.changed else "unchanged"
        return f"{verb} {self.key} v{self.version}"


@dataclass
class DeployResult:
    """What a deployment stored, and the warnings for the process owner."""

    items: list[Deployed] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class DeployResultDraft:
    """Validation outcome before storing."""

    problems: list[Problem]
    validation: ValidationResult | None = None


Versioned = TypeVar("Versioned", ProcessVersion, DecisionVersion)


def _latest(session: Session, model: type[Versioned]) -> dict[str, Versioned]:
    newest = select(model.key, func.max(model.version).label("v")).group_by(model.key).subquery()
    rows = session.scalars(
        select(model).join(newest, (model.key == newest.c.key) & (model.version == newest.c.v))
    )
    return {row.key: row for row in rows}


def latest_processes(session: Session) -> dict[str, ProcessVersion]:
    """The newest version of every process key."""
    return _latest(session, ProcessVersion)


def latest_decisions(session: Session) -> dict[str, DecisionVersion]:
    """The newest version of every decision key."""
    return _latest(session, DecisionVersion)


def _source_text(session: Session, source_id: int) -> tuple[str, str]:
    src = session.get(SourceFile, source_id)
    assert src is not None
    return src.name, src.content


def validate_files(
    session: Session, files: list[tuple[str, bytes]]
) -> tuple[list[SourceDoc], DeployResultDraft]:
    """Read and validate files against what is deployed; nothing is written."""
    docs: list[SourceDoc] = []
    problems: list[Problem] = []
    for name, data in files:
        doc, file_problems = read_source(name, data)
        problems.extend(file_problems)
        if doc is not None:
            docs.append(doc)
    if not files:
        problems.append(Problem("-", "-", "nothing to deploy"))
    if problems:
        return docs, DeployResultDraft(problems=problems)

    processes = latest_processes(session)
    decisions = latest_decisions(session)
    deployed_decisions = {
        key: load_stored(*_source_text(session, dv.source_id)) for key, dv in decisions.items()
    }
    deployed_processes: dict[str, SourceDoc] = {}
    by_source: dict[int, SourceDoc] = {}
    for key, pv in processes.items():
        if pv.source_id not in by_source:
            by_source[pv.source_id] = load_stored(*_source_text(session, pv.source_id))
        deployed_processes[key] = by_source[pv.source_id]

    # A changed decision gives every process that uses it a new version too.
    new_shas = {d.sha256 for d in docs}
    changed_decisions = {
        d.root.xpath("//*[local-name()='decision']/@id")[0]
        for d in docs
        if d.kind == "dmn" and d.root.xpath("//*[local-name()='decision']/@id")
    }
    changed_decisions = {
        k
        for k in changed_decisions
        if k not in decisions or _decision_doc_sha(docs, k) != deployed_decisions[k].sha256
    }
    for key, pv in processes.items():
        uses = set(pv.dependencies.get("decisions", {}))
        if uses & changed_decisions:
            doc = deployed_processes[key]
            if doc.sha256 not in new_shas:
                docs.append(doc)
                new_shas.add(doc.sha256)
    result = validate(docs, deployed_decisions, deployed_processes)
    return docs, DeployResultDraft(problems=result.problems, validation=result)


def _decision_doc_sha(docs: list[SourceDoc], key: str) -> str:
    for d in docs:
        if d.kind == "dmn" and key in d.root.xpath("//*[local-name()='decision']/@id"):
            return d.sha256
    return ""


def deploy(session: Session, files: list[tuple[str, bytes]], actor: str) -> DeployResult:
    """Validate and store files as new versions; raise DeploymentRejected with every problem."""
    _docs, draft = validate_files(session, files)
    errors = [p for p in draft.problems if p.severity == "error"]
    if errors or draft.validation is None:
        raise DeploymentRejected(draft.problems)
    result = DeployResult(warnings=[p for p in draft.problems if p.severity == "warning"])
    sources: dict[str, SourceFile] = {}
    decisions = latest_decisions(session)
    decision_shas: dict[str, str] = {k: dv.sha256 for k, dv in decisions.items()}
    decision_versions: dict[str, int] = {k: dv.version for k, dv in decisions.items()}

    for decision in draft.validation.decisions:
        latest_d = decisions.get(decision.key)
        if latest_d is not None and latest_d.sha256 == decision.doc.sha256:
            result.items.append(Deployed("decision", decision.key, latest_d.version, False))
            continue
        version = (latest_d.version if latest_d else 0) + 1
        src = _store_source(session, sources, decision.doc)
        session.add(
            DecisionVersion(
                key=decision.key,
                version=version,
                name=decision.name,
                sha256=decision.doc.sha256,
                source_id=src.id,
                deployed_by=actor,
            )
        )
        decision_shas[decision.key] = decision.doc.sha256
        decision_versions[decision.key] = version
        result.items.append(Deployed("decision", decision.key, version, True))
        audit.append(
            session, actor, "deployed", detail={"decision": decision.key, "version": version}
        )

    processes = latest_processes(session)
    for parsed in draft.validation.processes:
        fingerprint = _fingerprint(parsed, decision_shas, draft.validation.processes, processes)
        latest = processes.get(parsed.key)
        if latest is not None and latest.sha256 == fingerprint:
            result.items.append(Deployed("process", parsed.key, latest.version, False))
            continue
        version = (latest.version if latest else 0) + 1
        src = _store_source(session, sources, parsed.doc)
        session.add(
            ProcessVersion(
                key=parsed.key,
                version=version,
                name=parsed.name,
                sha256=fingerprint,
                dialect=parsed.dialect,
                source_id=src.id,
                spec_json=parsed.spec_json
                or specs_to_json(parsed.dialect, parsed.spec, parsed.subprocess_specs),
                task_meta=parsed.task_meta,
                dependencies={
                    "decisions": {k: decision_versions.get(k) for k in sorted(parsed.decisions)},
                    "processes": sorted(parsed.called),
                },
                warnings=[str(w) for w in result.warnings if w.file == parsed.doc.name],
                catches=messages.caught_messages(parsed.spec, parsed.subprocess_specs),
                start_rule=parsed.start_rule,
                deployed_by=actor,
            )
        )
        result.items.append(Deployed("process", parsed.key, version, True))
        audit.append(
            session,
            actor,
            "deployed",
            process_key=parsed.key,
            detail={"process": parsed.key, "version": version, "sha256": fingerprint},
        )
    session.flush()
    return result


def _fingerprint(
    parsed: ParsedProcess,
    decision_shas: dict[str, str],
    batch: list[ParsedProcess],
    processes: dict[str, ProcessVersion],
) -> str:
    """sha256 of the XML and of what it pins: decisions and called processes."""
    parts = [f"process:{parsed.key}", parsed.doc.sha256]  # one file may hold several processes
    parts += [f"decision:{k}:{decision_shas.get(k, '')}" for k in sorted(parsed.decisions)]
    batch_docs = {p.key: p.doc.sha256 for p in batch}
    for called in sorted(parsed.called):
        sha = batch_docs.get(called) or (processes[called].sha256 if called in processes else "")
        parts.append(f"process:{called}:{sha}")
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _store_source(session: Session, cache: dict[str, SourceFile], doc: SourceDoc) -> SourceFile:
    if doc.sha256 in cache:
        return cache[doc.sha256]
    src = session.scalar(select(SourceFile).where(SourceFile.sha256 == doc.sha256))
    if src is None:
        src = SourceFile(sha256=doc.sha256, name=doc.name, kind=doc.kind, content=doc.text)
        session.add(src)
        session.flush()
    cache[doc.sha256] = src
    return src
