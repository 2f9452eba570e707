"""What the instance view shows: which elements are done, current or failed, the path taken.

Computed from the instance's restored workflow (the only place the task tree lives) and the
sequence flows of its version's XML: a flow is "taken" when both its source and its target
element ran (or are running) one after the other in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.models import Instance
from engine.serialization import load_workflow
from engine.sources import NSMAP, parse_xml
from engine.step import VersionRef
from engine.versions import version_xml

CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class Highlights:
    """Element ids to mark on the diagram (each list sorted, no duplicates)."""

    completed: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    error: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)  # sequence flows taken

    def as_dict(self) -> dict[str, list[str]]:
        """Plain data (for the page's script)."""
        return {
            "completed": self.completed,
            "current": self.current,
            "error": self.error,
            "flows": self.flows,
        }


def restore(session: Session, instance: Instance) -> Any:
    """The instance's workflow, restored on its version's spec."""
    version = instance.process_version
    specs = VersionRef.of(version).specs(session)
    return load_workflow(version.dialect, instance.workflow_state, specs)


def flow_index(xml: str) -> dict[tuple[str, str], list[str]]:
    """(source id, target id) -> ids of the sequence flows between them."""
    root = parse_xml(xml.encode("utf-8"))
    index: dict[tuple[str, str], list[str]] = {}
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NSMAP):
        key = (flow.get("sourceRef") or "", flow.get("targetRef") or "")
        index.setdefault(key, []).append(flow.get("id") or "")
    return index


def _element(task: Any) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def _visible_ancestor(task: Any) -> Any:
    """The nearest ancestor with a BPMN id (engine-internal tasks sit between elements)."""
    parent = task.parent
    while parent is not None and _element(parent) is None:
        parent = parent.parent
    return parent


def highlights(session: Session, instance: Instance) -> Highlights:
    """Completed, current and failed elements and the flows taken, for the instance view."""
    if not instance.workflow_state:
        return Highlights()
    wf = restore(session, instance)
    flows = flow_index(version_xml(session, instance.process_version))
    completed: set[str] = set()
    current: set[str] = set()
    error: set[str] = set()
    taken: set[str] = set()
    for task in wf.get_tasks():
        element = _element(task)
        if element is None:
            continue
        if task.has_state(TaskState.COMPLETED):
            completed.add(element)
        elif task.has_state(CURRENT):
            current.add(element)
        elif task.has_state(TaskState.ERROR):
            error.add(element)
        else:
            continue
        source = _visible_ancestor(task)
        if source is not None and source.has_state(TaskState.COMPLETED):
            taken.update(flows.get((_element(source) or "", element), []))
    if instance.state == "error" and instance.error_element:
        error.add(instance.error_element)
    current -= error
    return Highlights(sorted(completed), sorted(current), sorted(error), sorted(taken))


def instance_data(session: Session, instance: Instance) -> dict[str, Any]:
    """The instance's data as its current step sees it (the workflow's, once finished)."""
    if not instance.workflow_state:
        return {}
    wf = restore(session, instance)
    if wf.is_completed():
        return dict(wf.data)
    current = wf.get_tasks(state=CURRENT | TaskState.ERROR)
    if current:
        return dict(current[0].data)
    last = wf.last_task
    return dict(last.data if last is not None else wf.data)
