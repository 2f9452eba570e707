"""Every diagram in workflows/ deploys cleanly, renders (complete BPMNDI) and has its forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy.orm import Session

import forms
from engine.deploy import deploy

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
BPMN_FILES = sorted(WORKFLOWS.glob("*.bpmn"))
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODES = [
    "startEvent",
    "endEvent",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "businessRuleTask",
    "task",
    "sendTask",
    "receiveTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
]


def test_the_whole_folder_deploys_without_errors_or_warnings(session: Session) -> None:
    files = [(p.name, p.read_bytes()) for p in sorted(WORKFLOWS.glob("*.bpmn"))]
    files += [(p.name, p.read_bytes()) for p in sorted(WORKFLOWS.glob("*.dmn"))]
    result = deploy(session, files, "pemilik1")
    assert [str(w) for w in result.warnings] == []
    assert {i.key for i in result.items if i.kind == "process"} >= {
        "pelatihan",
        "penilaian_kinerja",
        "kenaikan_pangkat",
        "mentoring",
        "seleksi_jpt",
    }


@pytest.mark.parametrize("path", BPMN_FILES, ids=[p.stem for p in BPMN_FILES])
def test_every_element_has_its_place_on_the_diagram(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    shapes = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {
        e.get("bpmnElement"): len(e.findall("di:waypoint", NS))
        for e in root.iterfind(".//bpmndi:BPMNEdge", NS)
    }
    nodes = [el for tag in FLOW_NODES for el in root.iterfind(f".//bpmn:{tag}", NS)]
    lanes = root.findall(".//bpmn:lane", NS) + root.findall(".//bpmn:participant", NS)
    assert nodes and lanes, "a process diagram with lanes"
    assert [el.get("id") for el in nodes + lanes if el.get("id") not in shapes] == []
    flows = root.findall(".//bpmn:sequenceFlow", NS)
    assert [f.get("id") for f in flows if edges.get(f.get("id"), 0) < 2] == []


@pytest.mark.parametrize("path", BPMN_FILES, ids=[p.stem for p in BPMN_FILES])
def test_every_user_task_is_named_and_has_a_registered_form(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    for task in root.iterfind(".//bpmn:userTask", NS):
        assert (task.get("name") or "").strip(), f"{task.get('id')} has no name"
        keys = [
            p.get("value")
            for p in task.iterfind(".//spiffworkflow:property", NS)
            if p.get("name") == "formKey"
        ]
        assert keys, f"{task.get('id')} has no formKey"
        assert forms.form_class(keys[0]) is not None, f"no form registered for {keys[0]}"
