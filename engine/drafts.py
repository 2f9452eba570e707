"""Diagram drafts: BPMN/DMN a process owner is editing, kept per file name until deployed.

A draft is one file (``rekrutmen.bpmn``, ``bobot_nilai_akhir.dmn``) as the editor last saved
it. Validating a draft runs the deployment's own validation (`engine.deploy.validate_files`,
against what is deployed) and writes nothing; deploying it goes through `engine.deploy.deploy`
(all or nothing, audited there) and removes the draft. Saving and discarding are audited too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from xml.sax.saxutils import escape

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import audit
from engine.deploy import DeployResult, deploy, latest_decisions, latest_processes, validate_files
from engine.errors import InvalidInput, NotFound, Problem
from engine.models import Base, SourceFile, utcnow
from engine.sources import MAX_FILE_BYTES, SPIFF_NS, read_source
from engine.validation import role_of_lane

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.(bpmn|dmn)")
EXTENSIONS = (".bpmn", ".dmn")


class DiagramDraft(Base):
    """The last saved, not yet deployed, content of one BPMN or DMN file."""

    __tablename__ = "diagram_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    # The first executable process (BPMN) or decision (DMN) of the file, when it has one.
    key: Mapped[str | None] = mapped_column(String(255), index=True)
    xml: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class DeployedFile:
    """The XML of the newest deployed version of a process or decision."""

    kind: str  # bpmn | dmn
    key: str
    version: int
    file_name: str
    xml: str


def check_file_name(name: str) -> str:
    """The file name a draft is kept under, or InvalidInput naming what is wrong with it."""
    base = PurePath(name.replace("\\", "/")).name.strip()
    if not base:
        raise InvalidInput("file name is missing")
    if not base.lower().endswith(EXTENSIONS):
        raise InvalidInput(f"{base}: only .bpmn and .dmn files can be opened")
    base = base[: -len(PurePath(base).suffix)] + PurePath(base).suffix.lower()
    if not FILE_NAME.fullmatch(base):
        raise InvalidInput(
            f"{base}: use letters, digits, '.', '_' or '-' in file names (at most 128 characters)"
        )
    return base


def _key_of(xml: str, name: str) -> tuple[str, str | None]:
    """Kind and key of a readable file; InvalidInput with the first problem otherwise."""
    data = xml.encode("utf-8")
    doc, problems = read_source(name, data)
    if doc is None:
        raise InvalidInput(str(problems[0]) if problems else f"{name}: cannot be read")
    wanted = "bpmn" if name.endswith(".bpmn") else "dmn"
    if doc.kind != wanted:
        raise InvalidInput(f"{name}: the file is {doc.kind.upper()}, not {wanted.upper()}")
    if doc.kind == "dmn":
        ids = doc.root.xpath("//*[local-name()='decision']/@id")
    else:
        ids = doc.xpath("//bpmn:process[@isExecutable='true']/@id") or doc.xpath(
            "//bpmn:process/@id"
        )
    return doc.kind, (str(ids[0]) if ids else None)


def read_upload(name: str, data: bytes) -> tuple[str, str]:
    """An uploaded file as (file name, XML text), or InvalidInput with a one-line reason."""
    file_name = check_file_name(name)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{file_name}: file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    doc, problems = read_source(file_name, data)
    if doc is None:
        raise InvalidInput(str(problems[0]) if problems else f"{file_name}: cannot be read")
    _key_of(doc.text, file_name)  # a .bpmn file holds BPMN, a .dmn file DMN
    return file_name, doc.text


def save_draft(session: Session, actor: str, file_name: str, xml: str) -> DiagramDraft:
    """Store (or replace) the draft of a file; the XML must be a readable BPMN/DMN document."""
    name = check_file_name(file_name)
    if len(xml.encode("utf-8")) > MAX_FILE_BYTES:
        raise InvalidInput(f"{name}: file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    kind, key = _key_of(xml, name)
    draft = session.scalar(select(DiagramDraft).where(DiagramDraft.file_name == name))
    if draft is None:
        draft = DiagramDraft(file_name=name, kind=kind, xml=xml, saved_by=actor)
        session.add(draft)
    draft.kind, draft.key, draft.xml, draft.saved_by = kind, key, xml, actor
    draft.saved_at = utcnow()
    session.flush()
    audit.append(
        session, actor, "draft_saved", process_key=key, detail={"file": name, "kind": kind}
    )
    return draft


def get_draft(session: Session, file_name: str) -> DiagramDraft | None:
    """The draft of a file, or None."""
    name = check_file_name(file_name)
    return session.scalar(select(DiagramDraft).where(DiagramDraft.file_name == name))


def list_drafts(session: Session) -> list[DiagramDraft]:
    """Every draft, the most recently saved first."""
    return list(session.scalars(select(DiagramDraft).order_by(DiagramDraft.saved_at.desc())))


def discard_draft(session: Session, actor: str, file_name: str) -> None:
    """Delete a draft (the deployed versions stay as they are)."""
    draft = get_draft(session, file_name)
    if draft is None:
        raise NotFound(f"{check_file_name(file_name)}: no draft")
    session.delete(draft)
    session.flush()
    audit.append(
        session, actor, "draft_discarded", process_key=draft.key, detail={"file": draft.file_name}
    )


def validate_xml(session: Session, file_name: str, xml: str) -> list[Problem]:
    """Every problem the deployment of this one file would find; nothing is written."""
    name = check_file_name(file_name)
    _docs, draft = validate_files(session, [(name, xml.encode("utf-8"))])
    return draft.problems


def deploy_draft(session: Session, actor: str, file_name: str) -> DeployResult:
    """Deploy a saved draft (DeploymentRejected with every problem if invalid) and drop it."""
    draft = get_draft(session, file_name)
    if draft is None:
        raise NotFound(f"{check_file_name(file_name)}: no draft to deploy: save it first")
    result = deploy(session, [(draft.file_name, draft.xml.encode("utf-8"))], actor)
    session.delete(draft)
    session.flush()
    return result


def deployed(session: Session, kind: str, key: str) -> DeployedFile:
    """The newest deployed XML of a process (kind "bpmn") or a decision table ("dmn")."""
    versions = latest_processes(session) if kind == "bpmn" else latest_decisions(session)
    version = versions.get(key)
    if version is None:
        raise NotFound(f"no deployed {'process' if kind == 'bpmn' else 'decision'} {key!r}")
    src = session.get(SourceFile, version.source_id)
    assert src is not None
    return DeployedFile(kind, key, version.version, _stored_name(src.name, kind), src.content)


def _stored_name(name: str, kind: str) -> str:
    """A stored source's name as a draft file name (deploys may have kept whole paths)."""
    try:
        return check_file_name(name)
    except InvalidInput:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", PurePath(name).stem).strip("._-") or "diagram"
        return f"{stem[:100]}.{kind}"


# The lanes of a new diagram: the standard roles of DOMAIN.md. A lane's name is its role
# (validation.role_of_lane: "Admin BKPSDM" -> admin_bkpsdm), so tasks placed in it go to it.
STANDARD_LANES = (
    "Pegawai",
    "Atasan",
    "Mentor",
    "Verifikator",
    "Panitia Seleksi",
    "PPK",
    "Admin BKPSDM",
    "Pelamar",
)
PROCESS_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
LANE_HEIGHT = 125
POOL_WIDTH = 1100


def new_process_xml(key: str, name: str) -> str:
    """A new diagram: one pool with a lane per standard role, start -> user task -> end."""
    if not PROCESS_KEY.fullmatch(key):
        raise InvalidInput(f"{key or '(empty)'}: a process key is snake_case, e.g. cuti_tahunan")
    title = escape(name.strip() or key, {'"': "&quot;"})
    lanes, shapes = [], []
    for i, lane in enumerate(STANDARD_LANES):
        lane_id = "lane_" + role_of_lane(lane)
        refs = (
            "\n        <bpmn:flowNodeRef>mulai</bpmn:flowNodeRef>"
            "\n        <bpmn:flowNodeRef>tugas_pertama</bpmn:flowNodeRef>"
            "\n        <bpmn:flowNodeRef>selesai</bpmn:flowNodeRef>"
            if i == 0
            else ""
        )
        lanes.append(f'      <bpmn:lane id="{lane_id}" name="{lane}">{refs}\n      </bpmn:lane>')
        y = 80 + i * LANE_HEIGHT
        shapes.append(
            f'      <bpmndi:BPMNShape id="{lane_id}_di" bpmnElement="{lane_id}"'
            ' isHorizontal="true">'
            f'\n        <dc:Bounds x="190" y="{y}" width="{POOL_WIDTH - 30}"'
            f' height="{LANE_HEIGHT}"/>'
            "\n      </bpmndi:BPMNShape>"
        )
    height = LANE_HEIGHT * len(STANDARD_LANES)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    xmlns:spiffworkflow="{SPIFF_NS}"
    id="definitions_{key}" targetNamespace="urn:jenjang:bpmn:{key}">
  <bpmn:collaboration id="kolaborasi_{key}">
    <bpmn:participant id="peserta_{key}" name="{title}" processRef="{key}"/>
  </bpmn:collaboration>
  <bpmn:process id="{key}" name="{title}" isExecutable="true">
    <bpmn:laneSet id="lanes_{key}">
{chr(10).join(lanes)}
    </bpmn:laneSet>
    <bpmn:startEvent id="mulai" name="Mulai">
      <bpmn:outgoing>f_mulai</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="tugas_pertama" name="Tugas pertama">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="assignee" value="starter"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_mulai</bpmn:incoming>
      <bpmn:outgoing>f_tugas</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="selesai" name="Selesai">
      <bpmn:incoming>f_tugas</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f_mulai" sourceRef="mulai" targetRef="tugas_pertama"/>
    <bpmn:sequenceFlow id="f_tugas" sourceRef="tugas_pertama" targetRef="selesai"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{key}">
    <bpmndi:BPMNPlane id="bidang_{key}" bpmnElement="kolaborasi_{key}">
      <bpmndi:BPMNShape id="peserta_{key}_di" bpmnElement="peserta_{key}" isHorizontal="true">
        <dc:Bounds x="160" y="80" width="{POOL_WIDTH}" height="{height}"/>
      </bpmndi:BPMNShape>
{chr(10).join(shapes)}
      <bpmndi:BPMNShape id="mulai_di" bpmnElement="mulai">
        <dc:Bounds x="242" y="124" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="tugas_pertama_di" bpmnElement="tugas_pertama">
        <dc:Bounds x="330" y="102" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="selesai_di" bpmnElement="selesai">
        <dc:Bounds x="482" y="124" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_mulai_di" bpmnElement="f_mulai">
        <di:waypoint x="278" y="142"/>
        <di:waypoint x="330" y="142"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_tugas_di" bpmnElement="f_tugas">
        <di:waypoint x="430" y="142"/>
        <di:waypoint x="482" y="142"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def file_in_use(session: Session, file_name: str) -> bool:
    """Whether a draft or a deployed version already has this file name."""
    name = check_file_name(file_name)
    if get_draft(session, name) is not None:
        return True
    kind = name.rsplit(".", 1)[1]
    stored = session.scalars(select(SourceFile.name).where(SourceFile.kind == kind))
    return any(_stored_name(s, kind) == name for s in stored)
