"""Deploying: dialects, versions, all-or-nothing, and one clear line per problem."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import DeploymentRejected
from engine.models import AuditEntry, DecisionVersion, ProcessVersion, SourceFile
from tests.conftest import DATA, deploy_files

BPMN_HEAD = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">'
)


def _process(body: str, pid: str = "p", executable: str = "true") -> bytes:
    return (
        f'{BPMN_HEAD}<bpmn:process id="{pid}" isExecutable="{executable}">'
        f"{body}</bpmn:process></bpmn:definitions>"
    ).encode()


LINEAR = (
    '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>'
    '{task}<bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e"/><bpmn:endEvent id="e"/>'
)


def _rejected(session: Session, files: list[tuple[str, bytes]]) -> list[str]:
    with pytest.raises(DeploymentRejected) as info:
        deploy(session, files, "pemilik1")
    session.rollback()
    return [str(p) for p in info.value.problems if p.severity == "error"]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_deploy_detects_dialects_and_stores_versions(session: Session) -> None:
    result = deploy_files(session, "cuti.bpmn", "nilai.dmn", "camunda_ujian.bpmn")
    assert [str(i) for i in result.items] == [
        "deployed predikat_nilai v1",
        "deployed cuti v1",
        "deployed ujian v1",
    ]
    versions = {pv.key: pv for pv in session.scalars(select(ProcessVersion))}
    assert versions["cuti"].dialect == "spiff"
    assert versions["ujian"].dialect == "camunda"
    meta = versions["cuti"].task_meta["persetujuan"]
    assert meta["role"] == "atasan"
    assert meta["assignee"] == "supervisor_of(starter)"
    assert meta["form_key"] == "cuti.persetujuan"
    ujian = versions["ujian"].task_meta["isi_nilai"]
    assert ujian["role"] == "panitia_seleksi"
    assert ujian["fields"][0]["id"] == "skor"
    assert versions["ujian"].dependencies["decisions"] == {"predikat_nilai": 1}


def test_identical_content_is_a_noop_and_changed_content_is_a_new_version(session: Session) -> None:
    deploy_files(session, "cuti.bpmn")
    again = deploy_files(session, "cuti.bpmn")
    assert [str(i) for i in again.items] == ["unchanged cuti v1"]
    changed = (DATA / "cuti.bpmn").read_bytes().replace(b"Setujui cuti", b"Setujui cuti (v2)")
    result = deploy(session, [("cuti.bpmn", changed)], "pemilik1")
    session.commit()
    assert [str(i) for i in result.items] == ["deployed cuti v2"]
    assert _count(session, ProcessVersion) == 2
    assert _count(session, SourceFile) == 2


def test_changed_decision_gives_dependent_processes_a_new_version(session: Session) -> None:
    deploy_files(session, "nilai.dmn", "camunda_ujian.bpmn")
    changed = (DATA / "nilai.dmn").read_bytes().replace(b"&gt;= 80", b"&gt;= 85")
    result = deploy(session, [("nilai.dmn", changed)], "pemilik1")
    session.commit()
    assert sorted(str(i) for i in result.items) == [
        "deployed predikat_nilai v2",
        "deployed ujian v2",
    ]
    ujian = session.scalar(select(ProcessVersion).where(ProcessVersion.version == 2))
    assert ujian is not None and ujian.dependencies["decisions"] == {"predikat_nilai": 2}


def test_warnings_for_user_task_without_lane_or_form_key(session: Session) -> None:
    body = LINEAR.format(task='<bpmn:userTask id="x" name="Isi"/>')
    result = deploy(session, [("w.bpmn", _process(body))], "pemilik1")
    assert {str(w) for w in result.warnings} == {
        "w.bpmn: x: user task has no lane: only the starter or an admin may do it",
        "w.bpmn: x: user task has no form key: a plain data form is used",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<bpmn:definitions", "bad.bpmn: -: not well-formed XML"),
        (b"", "bad.bpmn: -: file is empty"),
        (b"<foo/>", "bad.bpmn: -: not a BPMN or DMN document (root element <foo>)"),
        (
            _process(LINEAR.format(task='<bpmn:task id="x"/>'), executable="false"),
            'bad.bpmn: -: nothing executable: no process has isExecutable="true"',
        ),
        (
            _process(
                LINEAR.format(
                    task='<bpmn:scriptTask id="x"><bpmn:script>import os</bpmn:script>'
                    "</bpmn:scriptTask>"
                )
            ),
            "bad.bpmn: x: script does not compile",
        ),
        (
            _process(
                '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>'
                '<bpmn:exclusiveGateway id="g"/>'
                '<bpmn:sequenceFlow id="c1" sourceRef="g" targetRef="e">'
                "<bpmn:conditionExpression>a ==== 1</bpmn:conditionExpression>"
                '</bpmn:sequenceFlow><bpmn:endEvent id="e"/>'
            ),
            "bad.bpmn: c1: condition does not compile",
        ),
        (
            _process(
                LINEAR.format(
                    task='<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition>'
                    '<bpmn:timeDuration>"P3 days"</bpmn:timeDuration></bpmn:timerEventDefinition>'
                    "</bpmn:intermediateCatchEvent>"
                )
            ),
            "bad.bpmn: x: timer timeDuration 'P3 days' does not parse",
        ),
        (
            _process(LINEAR.format(task='<bpmn:callActivity id="x" calledElement="nope"/>')),
            "bad.bpmn: x: called process 'nope' does not exist",
        ),
        (
            _process(LINEAR.format(task='<bpmn:businessRuleTask id="x"/>')),
            "bad.bpmn: x: business rule task names no decision",
        ),
        (
            _process(
                LINEAR.format(task='<bpmn:businessRuleTask id="x" camunda:decisionRef="nope"/>')
            ),
            "bad.bpmn: x: decision 'nope' is not deployed",
        ),
        (
            _process(
                LINEAR.format(
                    task='<bpmn:intermediateCatchEvent id="x"><bpmn:messageEventDefinition '
                    'messageRef="ghost"/></bpmn:intermediateCatchEvent>'
                )
            ),
            "bad.bpmn: x: messageRef 'ghost' names no message",
        ),
        ("caf\xe9".encode("latin-1").join([b"<a>", b"</a>"]), "bad.bpmn: -: not valid UTF-8"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_stored(
    session: Session, content: bytes, expected: str
) -> None:
    problems = _rejected(session, [("bad.bpmn", content)])
    assert problems, "expected a problem"
    assert problems[0].startswith(expected), problems
    assert all("\n" not in p and "Traceback" not in p for p in problems)
    assert _count(session, ProcessVersion) == 0
    assert _count(session, SourceFile) == 0
    assert _count(session, AuditEntry) == 0


def test_deployment_of_several_files_is_all_or_nothing(session: Session) -> None:
    bad = _process(LINEAR.format(task='<bpmn:callActivity id="x" calledElement="nope"/>'))
    good = (DATA / "cuti.bpmn").read_bytes()
    problems = _rejected(
        session,
        [("cuti.bpmn", good), ("nilai.dmn", (DATA / "nilai.dmn").read_bytes()), ("bad.bpmn", bad)],
    )
    assert problems == ["bad.bpmn: x: called process 'nope' does not exist"]
    assert _count(session, ProcessVersion) == 0
    assert _count(session, DecisionVersion) == 0


def test_xml_entities_are_refused(session: Session) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><a>&lol2;</a>'
    )
    xxe = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    for content in (bomb, xxe):
        assert _rejected(session, [("e.bpmn", content)]) == [
            "e.bpmn: -: DOCTYPE declarations are not allowed"
        ]


def test_call_activity_to_a_process_deployed_earlier(session: Session) -> None:
    deploy_files(session, "four_tasks.bpmn")
    caller = _process(LINEAR.format(task='<bpmn:callActivity id="x" calledElement="four_tasks"/>'))
    problems = _rejected(session, [("caller.bpmn", caller)])  # the head declares camunda
    assert problems == [
        "caller.bpmn: four_tasks: called process is deployed in the spiff dialect; "
        "a camunda process cannot call it"
    ]
    plain = caller.replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ', b"")
    result = deploy(session, [("caller.bpmn", plain)], "pemilik1")
    assert [str(i) for i in result.items] == ["deployed p v1"]


def test_dmn_membership_entry_without_placeholder_is_refused_with_a_hint(session: Session) -> None:
    dmn = (DATA / "nilai.dmn").read_bytes().replace(b"&gt;= 80", b"in [80, 90]")
    assert _rejected(session, [("nilai.dmn", dmn)]) == [
        "nilai.dmn: r_tinggi: input entry 'in [80, 90]' does not compile; "
        "write '? in [80, 90]' to compare with the input"
    ]
