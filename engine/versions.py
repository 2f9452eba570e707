"""Process versions: list them, read their XML, diff two of them by element id.

The diff reads the stored XML (and the user-task metadata kept with each version) of the
process named by the key only: a file may hold several processes, and a version is one of
them. Elements are matched by id; an element whose id changed counts as removed and added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, ProcessNotFound
from engine.models import Instance, ProcessVersion, SourceFile
from engine.sources import BPMN_NS, CAMUNDA_NS, NSMAP, SPIFF_NS, parse_xml

_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ACTIVE = ("running", "waiting", "error")
# Children that only repeat what the flows say, or are shown elsewhere (lanes, documentation).
_SKIP_CHILDREN = {"incoming", "outgoing", "laneSet", "documentation", "extensionElements"}
# Containers whose children are flow elements of their own (diffed as elements, not properties).
_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
# Jenjang's user-task properties, under the names the task metadata uses.
_PROPERTY_NAMES = {"formKey": "form_key", "dueDate": "due", "role": "role", "assignee": "assignee"}
_USER_META = (("role", "role"), ("form_key", "form_key"), ("assignee", "assignee"), ("due", "due"))


@dataclass(frozen=True)
class Element:
    """One BPMN element of a version: its id, type, name and comparable properties."""

    id: str
    type: str
    name: str
    props: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """What changed on one element: (property, old value, new value) triples."""

    element: Element
    fields: list[tuple[str, str, str]]


@dataclass
class VersionDiff:
    """Elements added, removed and changed from version `old` to version `new`."""

    key: str
    old: int
    new: int
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Whether nothing differs."""
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "added": [_element_dict(e) for e in self.added],
            "removed": [_element_dict(e) for e in self.removed],
            "changed": [
                {
                    **_element_dict(c.element),
                    "changes": [{"property": p, "old": o, "new": n} for p, o, n in c.fields],
                }
                for c in self.changed
            ],
        }


def _element_dict(element: Element) -> dict[str, Any]:
    return {"id": element.id, "type": element.type, "name": element.name}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


# --- reading versions ---------------------------------------------------------------------


def get_version(session: Session, key: str, number: int) -> ProcessVersion:
    """One version of a process, or ProcessNotFound."""
    pv = session.scalar(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number)
    )
    if pv is None:
        raise ProcessNotFound(f"process '{key}' has no version {number}")
    return pv


def version_xml(session: Session, version: ProcessVersion) -> str:
    """The BPMN XML a version was deployed from."""
    content = session.scalar(select(SourceFile.content).where(SourceFile.id == version.source_id))
    return content or ""


def list_versions(session: Session, key: str) -> list[dict[str, Any]]:
    """Every version of a process, newest first, with its instances counted by state."""
    versions = list(
        session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.key == key)
            .order_by(ProcessVersion.version.desc())
        )
    )
    if not versions:
        raise ProcessNotFound(f"process '{key}' is not deployed")
    counts: dict[int, dict[str, int]] = {}
    for version_id, state, count in session.execute(
        select(Instance.process_version_id, Instance.state, func.count())
        .where(Instance.process_version_id.in_([v.id for v in versions]))
        .group_by(Instance.process_version_id, Instance.state)
    ):
        counts.setdefault(version_id, {})[state] = count
    return [
        {
            "key": v.key,
            "version": v.version,
            "name": v.name,
            "dialect": v.dialect,
            "deployed_by": v.deployed_by,
            "deployed_at": _iso(v.deployed_at),
            "instances": counts.get(v.id, {}),
            "active_instances": sum(counts.get(v.id, {}).get(s, 0) for s in ACTIVE),
        }
        for v in versions
    ]


def process_overview(session: Session) -> list[dict[str, Any]]:
    """Every process: latest version, who deployed it when, active instances per version."""
    newest = (
        select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.key)
        .subquery()
    )
    latest = session.scalars(
        select(ProcessVersion)
        .join(
            newest,
            (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v),
        )
        .order_by(ProcessVersion.key)
    ).all()
    per_version: dict[str, dict[int, int]] = {}
    for key, number, count in session.execute(
        select(ProcessVersion.key, ProcessVersion.version, func.count(Instance.id))
        .join(Instance, Instance.process_version_id == ProcessVersion.id)
        .where(Instance.state.in_(ACTIVE))
        .group_by(ProcessVersion.key, ProcessVersion.version)
    ):
        per_version.setdefault(key, {})[number] = count
    return [
        {
            "key": pv.key,
            "name": pv.name,
            "version": pv.version,
            "deployed_by": pv.deployed_by,
            "deployed_at": pv.deployed_at,
            "active_by_version": dict(sorted(per_version.get(pv.key, {}).items())),
            "active_instances": sum(per_version.get(pv.key, {}).values()),
        }
        for pv in latest
    ]


def instances_of_version(
    session: Session, version: ProcessVersion, *, active_only: bool = False, limit: int = 500
) -> list[Instance]:
    """The instances that run (or ran) on a version, newest first."""
    query = select(Instance).where(Instance.process_version_id == version.id)
    if active_only:
        query = query.where(Instance.state.in_(ACTIVE))
    return list(session.scalars(query.order_by(Instance.id.desc()).limit(limit)))


# --- elements and the diff ----------------------------------------------------------------


def _local(node: Any) -> str:
    return str(etree.QName(node).localname)


def _text(node: Any) -> str:
    return re.sub(r"\s+", " ", "".join(node.itertext())).strip()


def _attr_name(name: str) -> str:
    qname = etree.QName(name)
    prefix = {CAMUNDA_NS: "camunda:", SPIFF_NS: "spiffworkflow:"}.get(qname.namespace or "", "")
    return prefix + qname.localname


def _lanes(process: Any) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for ref in process.xpath(".//bpmn:lane/bpmn:flowNodeRef", namespaces=NSMAP):
        if ref.text:
            lane = ref.getparent()
            lanes[ref.text.strip()] = lane.get("name") or lane.get("id")
    return lanes


def _describe(node: Any, prefix: str, props: dict[str, str]) -> None:
    """Attributes and texts below an element as `path: value` properties.

    BPMN ids of inner elements (event definitions, expressions) are generated by modellers
    and left out; the ids of extension elements (a service operator) are content and kept.
    """
    in_bpmn = etree.QName(node).namespace == BPMN_NS
    for name, value in node.attrib.items():
        if not (in_bpmn and name == "id") and name != _XSI_TYPE:
            props[f"{prefix}{_attr_name(name)}"] = value
    seen: dict[str, int] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue  # comments
        local = _local(child)
        if local in _SKIP_CHILDREN:
            continue
        seen[local] = seen.get(local, 0) + 1
        own_id = etree.QName(child).namespace != BPMN_NS and child.get("id")
        label = child.get("name") or own_id
        path = f"{prefix}{local}"
        if label:
            path += f"[{label}]"
        elif seen[local] > 1:
            path += f"[{seen[local]}]"
        attrs = {k for k in child.attrib if k not in ("id", "name", _XSI_TYPE)}
        if len(child) == 0 and _text(child):
            props[path] = _text(child)
        if len(child) or attrs:
            _describe(child, f"{path}/", props)
            props.pop(f"{path}/name", None)
            if own_id:
                props.pop(f"{path}/id", None)
        elif not _text(child):
            props[path] = ""


def _extension_props(node: Any) -> dict[str, str]:
    props: dict[str, str] = {}
    for ext in node.xpath("./bpmn:extensionElements/*", namespaces=NSMAP):
        local = _local(ext)
        if local == "properties":
            for prop in ext:
                if isinstance(prop.tag, str) and prop.get("name"):
                    name = prop.get("name")
                    props[_PROPERTY_NAMES.get(name, f"property {name}")] = prop.get("value", "")
        elif len(ext) == 0:
            props[local] = _text(ext) or " ".join(f"{k}={v}" for k, v in ext.attrib.items())
        else:
            described: dict[str, str] = {}
            _describe(ext, "", described)
            for path, value in described.items():
                props[f"{local}/{path}"] = value
    return props


def elements_of(xml: str, key: str, task_meta: dict[str, Any] | None = None) -> dict[str, Element]:
    """The elements of process `key` in a BPMN document, by id, with comparable properties."""
    root = parse_xml(xml.encode("utf-8"))
    found = root.xpath("//bpmn:process[@id=$key]", namespaces=NSMAP, key=key)
    if not found:
        return {}
    process = found[0]
    lanes = _lanes(process)
    meta = task_meta or {}
    out: dict[str, Element] = {}

    def visit(container: Any) -> None:
        for node in container:
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            local = _local(node)
            element_id = node.get("id")
            if not element_id or local in _SKIP_CHILDREN:
                continue
            props: dict[str, str] = {}
            if element_id in lanes:
                props["lane"] = lanes[element_id]
            info = meta.get(element_id)
            if isinstance(info, dict):
                for label, name in _USER_META:
                    if info.get(name):
                        props[label] = str(info[name])
            props.update(_extension_props(node))
            if local in _CONTAINERS:
                attrs = {k: v for k, v in node.attrib.items() if k not in ("id", "name")}
                props.update({_attr_name(k): v for k, v in attrs.items()})
                visit(node)
            else:
                described: dict[str, str] = {}
                _describe(node, "", described)
                described.pop("name", None)
                props.update(described)
            out[element_id] = Element(element_id, local, node.get("name") or "", props)

    visit(process)
    return out


def diff_elements(
    key: str, old_number: int, old: dict[str, Element], new_number: int, new: dict[str, Element]
) -> VersionDiff:
    """Compare two element maps by id."""
    diff = VersionDiff(key, old_number, new_number)
    diff.added = [new[i] for i in sorted(new.keys() - old.keys())]
    diff.removed = [old[i] for i in sorted(old.keys() - new.keys())]
    for element_id in sorted(old.keys() & new.keys()):
        a, b = old[element_id], new[element_id]
        fields: list[tuple[str, str, str]] = []
        if a.type != b.type:
            fields.append(("type", a.type, b.type))
        if a.name != b.name:
            fields.append(("name", a.name, b.name))
        for prop in sorted(a.props.keys() | b.props.keys()):
            before, after = a.props.get(prop, ""), b.props.get(prop, "")
            if before != after:
                fields.append((prop, before, after))
        if fields:
            diff.changed.append(Change(b, fields))
    return diff


def version_elements(session: Session, version: ProcessVersion) -> dict[str, Element]:
    """The elements of one stored version."""
    return elements_of(version_xml(session, version), version.key, version.task_meta)


def diff_versions(session: Session, key: str, old: int, new: int) -> VersionDiff:
    """What changed from version `old` to version `new` of a process."""
    if old == new:
        raise InvalidInput("choose two different versions to compare")
    a, b = get_version(session, key, old), get_version(session, key, new)
    return diff_elements(key, old, version_elements(session, a), new, version_elements(session, b))
