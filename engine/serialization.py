"""Spec and workflow (de)serialization: specs stored once per version, instances without them."""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

Specs = tuple[Any, dict[str, Any]]  # (top-level spec, subprocess specs by id)


class DehydratedWorkflowConverter(BpmnWorkflowConverter):
    """Workflow converter that leaves the spec out; the version's cached spec is re-attached."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """The workflow's runtime state only (tasks, data, subprocesses, events)."""
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None
    ) -> BpmnWorkflow:
        """Rebuild a workflow from its state and the (shared, cached) spec objects."""
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer(config: dict[Any, Any]) -> BpmnWorkflowSerializer:
    config = dict(config)
    config[BpmnWorkflow] = DehydratedWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


# Camunda and spiff classes share type names (UserTask, ...), so each dialect has its own registry.
SERIALIZERS: dict[str, BpmnWorkflowSerializer] = {
    "spiff": _make_serializer(SPIFF_CONFIG),
    "camunda": _make_serializer(CAMUNDA_CONFIG),
}
STATE_FORMAT = 1
# A finished workflow (completed or cancelled) is stored compact: its task tree as
# [parent index, task spec, state, non-default fields] rows, task ids only where a task row
# names them (user tasks); what the instance pages read (states, path, data) is all kept.
FINISHED_FORMAT = 2
_TASK_DEFAULTS: dict[str, Any] = {"data": {}, "internal_data": {}, "delta": {}, "triggered": False}


def specs_to_json(dialect: str, spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """Serialize a process spec and its called/sub-process specs (stored once per version)."""
    registry = SERIALIZERS[dialect].registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {k: registry.convert(v) for k, v in subprocess_specs.items()},
        },
        separators=(",", ":"),
    )


def specs_from_json(dialect: str, text: str) -> Specs:
    """Restore spec objects from their stored JSON."""
    registry = SERIALIZERS[dialect].registry
    dct = json.loads(text)
    spec = registry.restore(dct["spec"])
    subs = {k: registry.restore(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subs


def dump_workflow(dialect: str, workflow: BpmnWorkflow, *, finished: bool = False) -> bytes:
    """The workflow's state as compressed JSON, without its spec (compact when finished)."""
    serializer = SERIALIZERS[dialect]
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
    finally:
        serializer.registry._encoder_mode = False
    dct["format"] = STATE_FORMAT
    if finished and _compact(dct, workflow):
        raw = json.dumps(dct, separators=(",", ":"), cls=serializer._encoder_cls)
        return zlib.compress(raw.encode("utf-8"), 9)  # written once: worth the best ratio
    raw = json.dumps(dct, separators=(",", ":"), cls=serializer._encoder_cls)
    return zlib.compress(raw.encode("utf-8"), 1)


def _compact(dct: dict[str, Any], workflow: BpmnWorkflow) -> bool:
    """Rewrite a finished workflow's state dict in FINISHED_FORMAT; False if it has parts
    the compact form does not describe (subprocesses, other task classes)."""
    tasks: dict[str, dict[str, Any]] = dct["tasks"]
    if dct.get("subprocesses") or any(t.get("typename") != "Task" for t in tasks.values()):
        return False
    manual = {str(t.id) for t in workflow.get_tasks() if t.task_spec.manual}
    index = {task_id: i for i, task_id in enumerate(tasks)}
    rows: list[list[Any]] = []
    for task_id, task in tasks.items():
        parent = task["parent"]
        row: list[Any] = [index[parent] if parent else None, task["task_spec"], task["state"]]
        extra = {k: task[k] for k, default in _TASK_DEFAULTS.items() if task.get(k) != default}
        if task_id in manual:
            extra["id"] = task_id
        if extra:
            row.append(extra)
        rows.append(row)
    dct["tasks"] = rows
    dct["root"] = index[dct["root"]]
    dct["last_task"] = index.get(dct["last_task"]) if dct.get("last_task") else None
    dct["format"] = FINISHED_FORMAT
    return True


def _expand(dct: dict[str, Any]) -> None:
    """FINISHED_FORMAT back to SpiffWorkflow's own task mapping (in place)."""
    rows: list[list[Any]] = dct["tasks"]
    ids = [
        (row[3].get("id") if len(row) > 3 else None) or str(UUID(int=i + 1))
        for i, row in enumerate(rows)
    ]
    tasks: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        parent, spec, state = row[:3]
        extra = row[3] if len(row) > 3 else {}
        task = {k: extra.get(k, default) for k, default in _TASK_DEFAULTS.items()}
        tasks[ids[i]] = {
            "id": ids[i],
            "parent": ids[parent] if parent is not None else None,
            "children": [],
            "last_state_change": 0.0,
            "state": state,
            "task_spec": spec,
            "typename": "Task",
            **task,
        }
    for task in tasks.values():
        if task["parent"] is not None:
            tasks[task["parent"]]["children"].append(task["id"])
    dct["tasks"] = tasks
    dct["root"] = ids[dct["root"]]
    dct["last_task"] = ids[dct["last_task"]] if dct.get("last_task") is not None else None


def load_workflow(dialect: str, blob: bytes, specs: Specs) -> BpmnWorkflow:
    """Rebuild a workflow from dump_workflow's output and the version's specs."""
    serializer = SERIALIZERS[dialect]
    dct = json.loads(zlib.decompress(blob))
    if dct.pop("format", None) == FINISHED_FORMAT:
        _expand(dct)
    return serializer.registry.restore(
        {**dct, "typename": "BpmnWorkflow"}, spec=specs[0], subprocess_specs=specs[1]
    )


class SpecCache:
    """A small LRU of parsed specs per version fingerprint (specs are shared, not copied)."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[str, Specs] = OrderedDict()

    def get(self, fingerprint: str, dialect: str, loader: Any) -> Specs:
        """The specs of a version, restored via loader() -> spec JSON on a miss."""
        if fingerprint in self._items:
            self._items.move_to_end(fingerprint)
            return self._items[fingerprint]
        specs = specs_from_json(dialect, loader())
        self._items[fingerprint] = specs
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return specs
