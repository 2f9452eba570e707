"""Robustness on the shared corpus: every file deploys or is rejected with one clear line each.

The corpus is `../shared/corpus/` beside the project (`CORPUS` in conftest): `spiffworkflow/`
(SpiffWorkflow's own test diagrams, 117 BPMN + 44 DMN) and `bpmn-miwg/` (831 BPMN files from 40
modelling tools). See its README.md.

"SpiffWorkflow alone" is measured by this module, not copied (`_spiffworkflow_alone`): for each
.bpmn file a fresh `SpiffBpmnParser` (a `CamundaParser` for files under a `camunda/` folder)
without a validator; every .dmn file of the file's folder and of its `dmn/` subfolder is added
first (failures ignored), then the file itself, then, as SpiffWorkflow's own tests load several
files, the other .bpmn files of the same folder that define the processes its call activities
name (transitively). A file counts as built when it defines an executable process and
`get_spec` + `get_subprocess_specs` succeed for each of them. Result with SpiffWorkflow 3.2.0:
spiffworkflow/ 102 of 117 (101 of the 116 test files, as the README says, plus
docs/figures/nuclear_strike.bpmn), bpmn-miwg/ 46 of 831.

Jenjang is measured through `read_source` + `validate` (what `deploy` runs before it stores
anything; validate also serializes every spec the way deploy stores it). A bpmn-miwg file is
deployed on its own. A spiffworkflow file is deployed the way its tests load it: with the .bpmn
files of its folder that define the processes it calls (transitively) and the .dmn files of its
folder (or `dmn/` subfolder) that define the decisions they use. A file counts as deployed when
the deployment has no error. Every file that SpiffWorkflow alone builds is deployed, except the
ones named in SPIFFWORKFLOW_REJECTED and MIWG_REJECTED, with the reason why the refusal is right.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import DeploymentRejected, Problem
from engine.models import AuditEntry, DecisionVersion, ProcessVersion, SourceFile
from engine.services import SERVICES
from engine.sources import BPMN_NS, SourceDoc, parse_xml, read_source
from engine.validation import ValidationResult, validate
from tests.conftest import CORPUS, DATA

SPIFF = CORPUS / "spiffworkflow"
MIWG = CORPUS / "bpmn-miwg"
CASES = DATA / "corpus_cases"
NS = {"bpmn": BPMN_NS}

# What SpiffWorkflow 3.2.0 alone builds (method in the module docstring).
SPIFFWORKFLOW_ALONE_SPIFF = 102  # 101 of the 116 test files + docs/figures/nuclear_strike.bpmn
SPIFFWORKFLOW_ALONE_MIWG = 46

# Built by SpiffWorkflow alone but rightly refused by Jenjang: file -> (expected reason, why).
SPIFFWORKFLOW_REJECTED = {
    "tests/SpiffWorkflow/camunda/data/external_message.bpmn": (
        "Activity_1n8ighs: script format 'reset' is not supported",
        'scriptFormat="reset" names no script language; the engine runs Python scripts only',
    ),
    "tests/SpiffWorkflow/spiff/data/correlation_two_conversations.bpmn": (
        "set_topic_one: script does not compile: line 1: import is not allowed",
        "its scripts import modules, which the script sandbox forbids on purpose",
    ),
    "tests/SpiffWorkflow/spiff/data/service_task.bpmn": (
        "Activity-1inxqgx: unknown service 'bamboohr/GetPayRate' (known: KNOWN_SERVICES)",
        "it calls services of another system (BambooHR, a weather API) that Jenjang does not have",
    ),
    "tests/SpiffWorkflow/spiff/data/service_task_retry_without_backoff.bpmn": (
        "Activity_retry_only: unknown service 'weather/CurrentTemp' (known: KNOWN_SERVICES)",
        "it calls a weather API service that Jenjang does not have",
    ),
    "tests/SpiffWorkflow/spiff/data/service_task_variable.bpmn": (
        "Activity_0xhr131: unknown service 'bamboohr/GetPayRate' (known: KNOWN_SERVICES)",
        "it calls a BambooHR service that Jenjang does not have",
    ),
    "tests/SpiffWorkflow/spiff/data/script_task_with_unit_tests.bpmn": (
        'script_with_unit_test_id: script does not compile: line 1: "locals" is not allowed',
        "its script calls locals(), which the script sandbox forbids on purpose",
    ),
}
MIWG_REJECTED = {
    "Modelio 3.5/A.1.0-export.bpmn": (
        "MO-83965ea2-d30d-4a89-9591-88c5c995741d: BPMN schema: <bpmn:definitions>: "
        "the attribute 'targetNamespace' is required but missing (line 2)",
        "XSD: <definitions> lacks the required targetNamespace",
    ),
    "Modelio 3.5/A.2.0-export.bpmn": (
        "BPMN schema: <bpmn:definitions>: the attribute 'targetNamespace' is required but missing",
        "XSD: <definitions> lacks the required targetNamespace",
    ),
    "OMNITRACKER BPMN 12.3/A.1.0-export.bpmn": (
        "_3: BPMN schema: <ot:schemaObjectDescription>: "
        "an element the schema does not declare is not allowed here (line 39)",
        "XSD: di:extension only takes declared elements (a strict wildcard)",
    ),
    "OMNITRACKER BPMN 12.3/A.1.0-roundtrip.bpmn": (
        "BPMN schema: <ot:schemaObjectDescription>: "
        "an element the schema does not declare is not allowed here",
        "XSD: di:extension only takes declared elements (a strict wildcard)",
    ),
    "OMNITRACKER BPMN 12.3/C.9.2-roundtrip.bpmn": (
        "_28: condition does not compile: syntax error: invalid syntax",
        "the condition '=fraud' is a FEEL unary test, not a Python expression",
    ),
    "itp-commerce Process Modeler for Microsoft Visio 6/A.2.0-export.bpmn": (
        'condition does not compile: name "_undefined" is not allowed',
        "placeholder conditions '_undefined': a reserved name for the sandbox (NameError anyway)",
    ),
    "itp-commerce Process Modeler for Microsoft Visio 6/A.2.0-roundtrip.bpmn": (
        'condition does not compile: name "_undefined" is not allowed',
        "placeholder conditions '_undefined': a reserved name for the sandbox (NameError anyway)",
    ),
}

# A raw Python exception, an object repr, a namespace in Clark notation: not for users.
UNCLEAR = re.compile(
    r"Traceback|\b[A-Z]\w*(Error|Exception|Warning)\b\s*[:(]|object has no attribute|NoneType"
    r"|<Element |\bat 0x[0-9a-fA-F]+|\{https?://|[\r\n]"
)


@dataclass
class Outcome:
    """What a deployment of some corpus files gave: error lines, or None when it deploys."""

    names: list[str]
    problems: list[Problem]
    result: ValidationResult | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _deploy(paths: list[Path], dialect: str | None = None) -> Outcome:
    """read_source + validate, as deploy does before storing (no exception may escape)."""
    docs: list[SourceDoc] = []
    problems: list[Problem] = []
    for path in paths:
        doc, read_problems = read_source(_name(path), path.read_bytes())
        problems += read_problems
        if doc is not None:
            if dialect is not None and doc.kind == "bpmn":
                doc.dialect = dialect
            docs.append(doc)
    result = None
    if not problems:
        result = validate(docs, {}, {})
        problems += result.problems
    return Outcome([_name(p) for p in paths], problems, result)


def _unclear(outcome: Outcome) -> list[str]:
    """The lines of an outcome that are not one clear `FILE: ELEMENT: reason` line."""
    bad = []
    for problem in outcome.problems:
        line = str(problem)
        if (
            problem.file not in outcome.names
            or not problem.element
            or not problem.message
            or line != f"{problem.file}: {problem.element}: {problem.message}"
            or len(problem.message) > 400
            or UNCLEAR.search(line)
        ):
            bad.append(line)
    if outcome.result is None and not outcome.errors:
        bad.append(f"{outcome.names[0]}: rejected without an error line")
    return bad


@functools.cache
def _ids(path: Path, xpath: str) -> list[str]:
    try:
        return [str(v).strip() for v in parse_xml(path.read_bytes()).xpath(xpath, namespaces=NS)]
    except Exception:
        return []


def _dmn_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.dmn"), *folder.glob("dmn/*.dmn")])


def _called_files(path: Path) -> list[Path]:
    """The other .bpmn files of the folder that define the processes `path` calls."""
    defined: dict[str, Path] = {}
    for other in sorted(path.parent.glob("*.bpmn")):
        for pid in _ids(other, "//bpmn:process/@id"):
            defined.setdefault(pid, other)
    chosen, todo = [path], [path]
    while todo:
        for called in _ids(todo.pop(), "//bpmn:callActivity/@calledElement"):
            other = defined.get(called)
            if other is not None and other not in chosen:
                chosen.append(other)
                todo.append(other)
    return chosen


def _realistic_deployment(path: Path) -> list[Path]:
    """A spiffworkflow file with the files it calls and the DMN files of the decisions used."""
    bpmn = _called_files(path)
    used: set[str] = set()
    for file in bpmn:
        used |= set(_ids(file, "//@*[local-name()='decisionRef']"))
        used |= set(_ids(file, "//*[local-name()='calledDecisionId']/text()"))
    decisions: dict[str, Path] = {}
    for dmn in _dmn_files(path.parent):
        for key in _ids(dmn, "//*[local-name()='decision']/@id"):
            decisions.setdefault(key, dmn)
    return bpmn + [decisions[k] for k in sorted(used) if k in decisions]


def _spiffworkflow_alone(path: Path) -> bool:
    """Does SpiffWorkflow alone build a spec for every executable process of the file?"""
    camunda = "camunda" in path.relative_to(CORPUS).parts
    parser: BpmnParser = CamundaParser() if camunda else SpiffBpmnParser()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for dmn in _dmn_files(path.parent):
                with contextlib.suppress(Exception):
                    parser.add_dmn_file(str(dmn))
            parser.add_bpmn_file(str(path))
            for other in _called_files(path)[1:]:
                with contextlib.suppress(Exception):
                    parser.add_bpmn_file(str(other))
            mine = [
                pid
                for pid in parser.get_process_ids()
                if parser.process_parsers[pid].filename == str(path)
            ]
            for pid in mine:
                parser.get_spec(pid)
                parser.get_subprocess_specs(pid)
        except Exception:
            return False
    return bool(mine)


@pytest.fixture(scope="module")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the corpus is missing: {CORPUS}"
    return CORPUS


@pytest.fixture(scope="module")
def alone(corpus: Path) -> dict[str, Outcome]:
    """Every BPMN and DMN file of the corpus deployed on its own."""
    files = sorted([*corpus.rglob("*.bpmn"), *corpus.rglob("*.dmn")])
    return {_name(f): _deploy([f]) for f in files}


def _bpmn(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.rglob("*.bpmn"))


def test_the_corpus_is_all_there(alone: dict[str, Outcome]) -> None:
    assert len([n for n in alone if n.startswith("spiffworkflow/") and n.endswith(".bpmn")]) == 117
    assert len([n for n in alone if n.startswith("spiffworkflow/") and n.endswith(".dmn")]) == 44
    assert len([n for n in alone if n.startswith("bpmn-miwg/")]) == 831


def test_every_file_on_its_own_deploys_or_gives_clear_lines(alone: dict[str, Outcome]) -> None:
    unclear = [line for outcome in alone.values() for line in _unclear(outcome)]
    assert unclear == []


def test_spiffworkflow_folders_deployed_together_give_clear_lines(corpus: Path) -> None:
    folders = sorted({p.parent for p in _bpmn(SPIFF)})
    unclear: list[str] = []
    for folder in folders:
        outcome = _deploy(sorted(folder.glob("*.bpmn")) + _dmn_files(folder))
        unclear += _unclear(outcome)
        assert outcome.result is not None
    assert unclear == []


def test_the_camunda_parser_gives_clear_lines_on_every_miwg_file(corpus: Path) -> None:
    """SpiffWorkflow's CamundaParser alone raises KeyError on 72 of these files."""
    unclear = [line for f in _bpmn(MIWG) for line in _unclear(_deploy([f], dialect="camunda"))]
    assert unclear == []


def test_spiffworkflow_folder_deploys_what_spiffworkflow_alone_builds(corpus: Path) -> None:
    built = {_name(f) for f in _bpmn(SPIFF) if _spiffworkflow_alone(f)}
    assert len(built) == SPIFFWORKFLOW_ALONE_SPIFF
    assert len([n for n in built if "/tests/" in n]) == 101
    outcomes = {_name(f): _deploy(_realistic_deployment(f)) for f in _bpmn(SPIFF)}
    deployed = {name for name, outcome in outcomes.items() if not outcome.errors}
    rejected = {f"spiffworkflow/{name}" for name in SPIFFWORKFLOW_REJECTED}
    assert built - deployed == rejected
    assert len(deployed) >= SPIFFWORKFLOW_ALONE_SPIFF - len(SPIFFWORKFLOW_REJECTED)
    for name, (reason, _why) in SPIFFWORKFLOW_REJECTED.items():
        reason = reason.replace("KNOWN_SERVICES", ", ".join(sorted(SERVICES)))
        lines = [str(p) for p in outcomes[f"spiffworkflow/{name}"].errors]
        assert any(f"spiffworkflow/{name}: {reason}" in line for line in lines), lines
    assert [line for outcome in outcomes.values() for line in _unclear(outcome)] == []


def test_miwg_folder_deploys_what_spiffworkflow_alone_builds(alone: dict[str, Outcome]) -> None:
    built = {_name(f) for f in _bpmn(MIWG) if _spiffworkflow_alone(f)}
    assert len(built) == SPIFFWORKFLOW_ALONE_MIWG
    deployed = {
        name
        for name, outcome in alone.items()
        if name.startswith("bpmn-miwg/") and not outcome.errors
    }
    assert built - deployed == {f"bpmn-miwg/{name}" for name in MIWG_REJECTED}
    assert len(deployed) >= SPIFFWORKFLOW_ALONE_MIWG - len(MIWG_REJECTED)
    for name, (reason, _why) in MIWG_REJECTED.items():
        lines = [str(p) for p in alone[f"bpmn-miwg/{name}"].errors]
        assert any(reason in line for line in lines), lines


def _lines(outcome: Outcome) -> list[str]:
    return [str(p) for p in outcome.errors]


def test_a_non_utf8_file_is_one_clear_line(alone: dict[str, Outcome]) -> None:
    name = "bpmn-miwg/GenMyModel 0.47/C.1.0-export.bpmn"
    assert _lines(alone[name]) == [
        f"{name}: -: not valid UTF-8: byte 0xe4 at line 97, column 67 cannot be decoded "
        '(the file declares encoding="UTF-8" and is probably Latin-1/Windows-1252; '
        "save it as UTF-8)"
    ]


def test_a_bad_namespace_uri_is_one_clear_line(alone: dict[str, Outcome]) -> None:
    name = "bpmn-miwg/IBM Process Designer 8.0.1/A.3.0-export.bpmn"
    assert _lines(alone[name]) == [
        f"{name}: -: bad namespace declaration: "
        'xmlns:Process="http://A.3.0-MIO/A.3.0-export/Collapsed Process" is not a valid URI '
        "(line 2, column 199)"
    ]


def test_a_message_ref_to_nothing_is_one_clear_line(alone: dict[str, Outcome]) -> None:
    name = "bpmn-miwg/ADONIS 17.0/C.3.0-roundtrip.bpmn"
    assert (
        f"{name}: _cc9778bd-edd8-4df2-ba15-56c310f90e62: messageRef "
        "'_6840c92f-f02c-46b3-9565-f5e5b1792ba0_f48366ce-f4c6-403a-badc-d400576a4d45' "
        "names no message"
    ) in _lines(alone[name])
    prefixed = "bpmn-miwg/Trisotech Workflow Modeler 12.6.3/C.3.0-roundtrip.bpmn"
    assert (
        f"{prefixed}: _cc9778bd-edd8-4df2-ba15-56c310f90e62: messageRef "
        "'semantic:_6840c92f-f02c-46b3-9565-f5e5b1792ba0' names no message: "
        "refer to it by its id '_6840c92f-f02c-46b3-9565-f5e5b1792ba0'"
    ) in _lines(alone[prefixed])


def test_a_camunda_business_rule_task_without_decision_is_one_clear_line() -> None:
    path = CASES / "camunda_rule_without_decision.bpmn"
    parser = CamundaParser()
    with pytest.raises(KeyError, match="decisionRef"):  # SpiffWorkflow alone
        parser.add_bpmn_file(str(path))
    doc, problems = read_source(path.name, path.read_bytes())
    assert doc is not None and doc.dialect == "camunda" and problems == []
    assert [str(p) for p in validate([doc], {}, {}).errors] == [
        "camunda_rule_without_decision.bpmn: predikat: "
        "business rule task names no decision (its camunda:decisionRef is missing)"
    ]
    # In a process that is not executable the static checks do not look: SpiffWorkflow's own
    # KeyError (raised while the file is added) is turned into the same kind of line.
    text = path.read_text().replace(
        'isExecutable="true">',
        'isExecutable="true"><bpmn:startEvent id="s0"/></bpmn:process>'
        '<bpmn:process id="arsip" isExecutable="false">',
    )
    doc, _ = read_source("two.bpmn", text.encode())
    assert doc is not None
    assert [str(p) for p in validate([doc], {}, {}).errors] == [
        "two.bpmn: predikat: <bpmn:businessRuleTask> misses the required attribute "
        "'camunda:decisionRef'"
    ]


def test_spiffworkflow_exceptions_become_lines_naming_the_element(
    alone: dict[str, Outcome],
) -> None:
    boundary = "bpmn-miwg/BIC Cloud Design 6.2.0/C.2.0-export.bpmn"  # NotImplementedError alone
    assert _lines(alone[boundary]) == [
        f"{boundary}: UUID_d5af0e98-3d2f-427b-8221-e2c1fcc9499e: <bpmn:boundaryEvent> has no "
        "event definition the engine supports "
        "(cancel, error, escalation, message, signal, timer or conditional)"
    ]
    association = "bpmn-miwg/BIC Cloud Design 6.2.0/C.4.0.1-export.bpmn"  # an <Element> repr
    assert _lines(alone[association]) == [
        f"{association}: UUID_8f5285c8-d7fe-4783-9494-7674ac343799: dataOutputAssociation: "
        "targetRef 'UUID_12cb10d1-aa22-4333-b558-bcb22bc8a05d' leads to no data object of this "
        "process and to no data store the engine provides"
    ]
    dmn12 = (
        "spiffworkflow/tests/SpiffWorkflow/dmn/data/dmn_version_test/v1_2_supported/"
        "diagram-interchange-shape-with-label-text.dmn"
    )
    assert [line.split(": ", 2)[2] for line in _lines(alone[dmn12])] == [
        "DMN 1.2 cannot be checked: the DMN 1.2 schema shipped with SpiffWorkflow does not load; "
        "save the decision as DMN 1.3"
    ]


def test_every_schema_error_is_a_line_on_the_element_of_its_line(
    alone: dict[str, Outcome],
) -> None:
    name = "bpmn-miwg/GenMyModel 0.47/C.2.0-roundtrip.bpmn"
    lines = _lines(alone[name])
    assert len(lines) > 1
    assert (
        f"{name}: _W2HW3R_SEeW9keBtFZy97Q: BPMN schema: <dc:Bounds>: "
        "the attribute 'height' is required but missing (line 261)"
    ) in lines


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _files(*paths: Path) -> list[tuple[str, bytes]]:
    return [(_name(p), p.read_bytes()) for p in paths]


def test_nothing_is_stored_when_one_file_of_a_deployment_is_bad(session: Session) -> None:
    rule = SPIFF / "tests/SpiffWorkflow/spiff/data/business_rule_task.bpmn"
    table = SPIFF / "tests/SpiffWorkflow/spiff/data/dmn/business_rules.dmn"
    unreadable = MIWG / "GenMyModel 0.47/C.1.0-export.bpmn"
    invalid = MIWG / "Modelio 3.5/A.1.0-export.bpmn"
    for bad in (unreadable, invalid):
        with pytest.raises(DeploymentRejected) as info:
            deploy(session, _files(rule, table, bad), "pemilik1")
        session.rollback()
        errors = [p for p in info.value.problems if p.severity == "error"]
        assert errors and {p.file for p in errors} == {_name(bad)}
        assert "\n" not in str(info.value)
        for model in (ProcessVersion, DecisionVersion, SourceFile, AuditEntry):
            assert _count(session, model) == 0, model
    result = deploy(session, _files(rule, table), "pemilik1")
    session.commit()
    assert sorted(str(i) for i in result.items) == [
        "deployed Process_bd2e724 v1",
        "deployed decision_1 v1",
    ]


def test_deploy_stores_corpus_processes_of_both_dialects(session: Session) -> None:
    """Deploys that validate are stored for real, Camunda receive tasks included."""
    files = [
        MIWG / "Reference/C.9.1.bpmn",  # Camunda receive task: SpiffWorkflow cannot store it
        SPIFF / "tests/SpiffWorkflow/camunda/data/message_test.bpmn",
        SPIFF / "tests/SpiffWorkflow/spiff/data/receive_correlations.bpmn",
    ]
    result = deploy(session, _files(*files), "pemilik1")
    session.commit()
    assert sorted(str(i) for i in result.items) == [
        "deployed Process_05r9nfx v1",
        "deployed ThrowCatch v1",
        "deployed correlation-test v1",
        "deployed requestDocument_en v1",
    ]
    dialects = {pv.key: pv.dialect for pv in session.scalars(select(ProcessVersion))}
    assert dialects["requestDocument_en"] == dialects["ThrowCatch"] == "camunda"
    assert dialects["correlation-test"] == "spiff"
