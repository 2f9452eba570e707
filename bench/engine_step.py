"""Engine step benchmark: SpiffWorkflow alone (JSON round-trips) vs the Jenjang engine (SQLite).

Runs the same four-user-task process N times both ways in one run and prints p50/p95 per
user-task step, their ratio, and stored bytes per finished instance. The last line is
`engine/raw p50 ratio: X.XX`. `--record` writes the figures to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile, progress, replace_section, reset_schema  # noqa: E402
from engine.db import make_engine, session_factory, upgrade  # noqa: E402
from engine.deploy import deploy  # noqa: E402
from engine.models import AuditEntry, Instance, TaskModel  # noqa: E402
from engine.runtime import complete_task, start_instance  # noqa: E402
from engine.users import add_user, get_user  # noqa: E402

BPMN = ROOT / "tests" / "data" / "four_tasks.bpmn"
PROCESS = "four_tasks"
START_DATA = {"skip": False, "nik": "3372010101900001", "nama": "Budi Santoso"}
STEP_DATA = {"catatan": "lengkap", "nilai": 85, "disetujui": True}
SECTION = "## Engine step (engine vs SpiffWorkflow alone)"


def run_raw(n: int) -> tuple[list[float], int]:
    """SpiffWorkflow alone: deserialize, run the user task, engine steps, serialize."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec(PROCESS)
    subs = parser.get_subprocess_specs(PROCESS)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    steps: list[float] = []
    size = 0
    for i in range(n):
        wf = BpmnWorkflow(spec, subs)
        wf.task_tree.data.update(START_DATA)
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        while True:
            t0 = time.perf_counter()
            wf = serializer.deserialize_json(state)
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            ready[0].data.update(STEP_DATA)
            ready[0].run()
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
            steps.append(time.perf_counter() - t0)
        assert wf.is_completed()
        size = len(state.encode("utf-8"))
        progress("raw", i + 1, n)
    return steps, size


def run_engine(n: int, url: str, reset: bool = False) -> tuple[list[float], dict[str, int]]:
    """The engine: one transaction per step on a real database, committed."""
    engine = make_engine(url)
    if reset:
        reset_schema(engine)
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as s, s.begin():
        deploy(s, [(BPMN.name, BPMN.read_bytes())], "bench")
        add_user(s, "staf1", ["staf"])
    steps: list[float] = []
    instance_ids: list[int] = []
    with factory() as s:
        actor = get_user(s, "staf1")  # the signed-in user, as a web request already has it
    for i in range(n):
        with factory() as s, s.begin():
            inst = start_instance(s, PROCESS, actor, dict(START_DATA))
            instance_ids.append(inst.id)
        while True:
            with factory() as s:
                task_id = s.scalar(
                    select(TaskModel.id).where(
                        TaskModel.instance_id == inst.id, TaskModel.completed_at.is_(None)
                    )
                )
            if task_id is None:
                break
            t0 = time.perf_counter()
            with factory() as s, s.begin():
                complete_task(s, task_id, actor, dict(STEP_DATA))
            steps.append(time.perf_counter() - t0)
        progress("engine", i + 1, n)
    with factory() as s:
        last = s.get(Instance, instance_ids[-1])
        assert last is not None and last.state == "completed", last and last.state
        sizes = _stored_bytes(s, last.id)
    engine.dispose()
    return steps, sizes


def _stored_bytes(session: Any, instance_id: int) -> dict[str, int]:
    """Bytes a finished instance stores: its state blob, task rows and audit rows."""
    inst = session.get(Instance, instance_id)
    state = len(inst.workflow_state)
    tasks = session.scalars(select(TaskModel).where(TaskModel.instance_id == instance_id)).all()
    task_bytes = sum(
        len(str(v).encode())
        for t in tasks
        for v in (
            t.spiff_task_id,
            t.element_id,
            t.name,
            t.process_key,
            t.business_key,
            t.role,
            t.form_key,
            t.created_at,
            t.completed_at,
            t.outcome,
        )
        if v is not None
    ) + 8 * 6 * len(tasks)
    audits = session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id)).all()
    audit_bytes = sum(
        len(a.detail) + len(a.actor) + len(a.action) + len(a.hash) + 8 * 4 + len(a.element_id or "")
        for a in audits
    )
    count = session.scalar(select(func.count()).select_from(Instance))
    return {
        "state": state,
        "tasks": task_bytes,
        "audit": audit_bytes,
        "total": state + task_bytes + audit_bytes + 120,
        "instances": count,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def record(lines: list[str], command: str, backend: str = "SQLite file (WAL)") -> None:
    """Replace this benchmark's section (one per database kind) of docs/benchmarks.md."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = SECTION if backend.startswith("SQLite") else f"{SECTION} on PostgreSQL"
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    body = (
        f"{section}\n\n"
        f"Command: `{command}`  \n"
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {backend}, "
        f"load average {load}\n\n"
        "```\n" + "\n".join(lines) + "\n```\n"
    )
    text = replace_section(text, section, body)
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    """Run both sides and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=300, help="instances per side (default 300)")
    ap.add_argument("--quick", action="store_true", help="a smoke run under a minute (n=40)")
    ap.add_argument("--url", help="database URL for the engine side (default: a temp SQLite file)")
    ap.add_argument(
        "--reset", action="store_true", help="drop and recreate the schema first (PostgreSQL)"
    )
    ap.add_argument("--record", action="store_true", help="write results to docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.reset and not (args.url or "").startswith("postgresql"):
        ap.error("--reset drops the schema of a PostgreSQL database given with --url")
    n = 40 if args.quick else args.n
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        raw_steps, raw_bytes = run_raw(n)
        eng_steps, sizes = run_engine(n, url, args.reset)
    raw_p50, eng_p50 = statistics.median(raw_steps), statistics.median(eng_steps)
    ratio = eng_p50 / raw_p50
    lines = [
        f"instances per side: {n}, user-task steps per side: {len(raw_steps)}",
        f"SpiffWorkflow alone (JSON round-trip per step): p50 {_ms(raw_p50)}, "
        f"p95 {_ms(percentile(raw_steps, 95))}",
        f"Jenjang engine ({'SQLite' if not args.url else args.url.split(':')[0]}, "
        f"commit per step): p50 {_ms(eng_p50)}, "
        f"p95 {_ms(percentile(eng_steps, 95))}",
        f"bytes per finished instance: SpiffWorkflow JSON {raw_bytes} B; "
        f"engine state {sizes['state']} B "
        f"(state + task rows + audit rows ~{sizes['total']} B)",
        f"engine/raw state bytes: {sizes['state'] / raw_bytes:.2f}; "
        f"all rows/raw: {sizes['total'] / raw_bytes:.2f}",
        f"engine/raw p50 ratio: {ratio:.2f}",
    ]
    for line in lines:
        print(line)
    if args.record:
        command = "python bench/engine_step.py" + (" --quick" if args.quick else f" -n {n}")
        if args.url:
            backend = "PostgreSQL (local)" if args.url.startswith("postgresql") else "given URL"
            record(lines, command + " --url URL --reset --record", backend)
        else:
            record(lines, command + " --record")


if __name__ == "__main__":
    main()
