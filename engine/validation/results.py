"""What validation hands back: the parsed processes and decisions, and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import Problem
from engine.sources import SourceDoc


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
    start_rule: dict[str, Any] | None = None  # who may start it for whom (metadata.start_rule)


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
