"""Deployment validation: parse with SpiffWorkflow (XSD on) and check what would fail later.

Nothing here touches the database: deployed processes and decisions are handed in as sources.
Every problem is one line `FILE: ELEMENT: reason`: XSD errors (all of them, each on the element
of its source line), SpiffWorkflow's ValidationExceptions and the raw exceptions its parsers
raise (KeyError, AttributeError, ...) are translated here, and no exception leaves `validate`.
"""

from __future__ import annotations

from engine.sources import CAMUNDA_NS, SPIFF_NS
from engine.validation.checks import ISO_LITERAL, PYTHON_SCRIPT_FORMATS
from engine.validation.core import validate
from engine.validation.messages import KNOWN_PREFIXES, problem_from_exception, short_name
from engine.validation.metadata import role_of_lane, strip_el, task_metadata
from engine.validation.results import ParsedDecision, ParsedProcess, ValidationResult
from engine.validation.specs import JenjangCamundaParser
from engine.validation.xsd import DMN_VERSIONS, MAX_SCHEMA_PROBLEMS

__all__ = [
    "CAMUNDA_NS",
    "DMN_VERSIONS",
    "ISO_LITERAL",
    "KNOWN_PREFIXES",
    "MAX_SCHEMA_PROBLEMS",
    "PYTHON_SCRIPT_FORMATS",
    "SPIFF_NS",
    "JenjangCamundaParser",
    "ParsedDecision",
    "ParsedProcess",
    "ValidationResult",
    "problem_from_exception",
    "role_of_lane",
    "short_name",
    "strip_el",
    "task_metadata",
    "validate",
]
