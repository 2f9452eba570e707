"""A finished instance's state is stored compact, and reads back as the same workflow."""

from __future__ import annotations

import json
import zlib
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.instance_view import highlights, instance_data, restore
from engine.models import Instance
from engine.queries import end_reached, task_data
from engine.runtime import cancel_instance, complete_task, start_instance
from engine.serialization import FINISHED_FORMAT, dump_workflow, load_workflow
from tests.conftest import DATA, deploy_files, make_user
from tests.helpers import only_task, stored_instance


def _finished_cuti() -> tuple[object, tuple[object, dict[str, object]]]:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(DATA / "cuti.bpmn"))
    specs = (parser.get_spec("cuti"), parser.get_subprocess_specs("cuti"))
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    wf = BpmnWorkflow(*specs)
    wf.do_engine_steps()
    for data in ({"hari": 2}, {"disetujui": True}):
        [task] = wf.get_tasks(state=TaskState.READY, manual=True)
        task.data.update(data)
        task.run()
        wf.do_engine_steps()
    assert wf.is_completed()
    return wf, specs


def _shape(wf: object) -> list[tuple[str, int, str | None, str, bool]]:
    return [
        (
            t.task_spec.name,
            t.state,
            t.parent.task_spec.name if t.parent else None,
            json.dumps(t.data, sort_keys=True),
            t.task_spec.manual,
        )
        for t in wf.get_tasks()  # type: ignore[attr-defined]
    ]


def test_compact_form_restores_the_same_tree_data_and_user_task_ids() -> None:
    wf, specs = _finished_cuti()
    full = dump_workflow("spiff", wf)
    compact = dump_workflow("spiff", wf, finished=True)
    assert json.loads(zlib.decompress(compact))["format"] == FINISHED_FORMAT
    assert len(compact) < len(full) / 2

    again = load_workflow("spiff", compact, specs)
    before = load_workflow("spiff", full, specs)
    assert _shape(again) == _shape(before)
    assert again.data == before.data and again.is_completed()
    manual_ids = {str(t.id) for t in before.get_tasks() if t.task_spec.manual}
    assert manual_ids and manual_ids <= {str(t.id) for t in again.get_tasks()}
    assert again.last_task is not None and again.last_task.task_spec.name == "End"
    # Stored again from the restored workflow: the same compact bytes (stable).
    assert dump_workflow("spiff", again, finished=True) == compact


def _full_copy(session: Session, stored: Instance) -> SimpleNamespace:
    """The same instance with its state in the ordinary (uncompacted) form."""
    wf = restore(session, stored)
    return SimpleNamespace(
        process_version=stored.process_version,
        workflow_state=dump_workflow(stored.process_version.dialect, wf),
        state=stored.state,
        error_element=stored.error_element,
    )


def _views(session: Session, instance: object) -> tuple[object, ...]:
    inst: Any = instance
    return (highlights(session, inst).as_dict(), instance_data(session, inst))


def test_finished_instance_pages_read_the_compact_state(session: Session) -> None:
    make_user(session, "atasan1", "atasan")
    staff = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    deploy_files(session, "cuti.bpmn")
    inst = start_instance(session, "cuti", staff, {"hari": 2})
    session.commit()
    first = only_task(session, inst.id, "isi_permohonan")
    complete_task(session, first.id, staff, {"hari": 2})
    approval = only_task(session, inst.id, "persetujuan")
    from engine.users import get_user

    boss = get_user(session, "atasan1")
    complete_task(session, approval.id, boss, {"disetujui": True})
    session.commit()

    stored = stored_instance(session, inst.id)
    assert stored.state == "completed"
    assert json.loads(zlib.decompress(stored.workflow_state))["format"] == FINISHED_FORMAT
    marks = highlights(session, stored)
    assert marks.completed == [
        "gw_setuju",
        "hitung",
        "isi_permohonan",
        "mulai",
        "persetujuan",
        "selesai",
    ]
    assert marks.current == [] and marks.error == []
    assert instance_data(session, stored)["sisa"] == 10
    assert end_reached(session, stored) == "Selesai"
    # The approval's task row still finds its task in the tree (its id was kept).
    assert task_data(session, stored, approval.spiff_task_id)["disetujui"] is True
    assert _views(session, stored) == _views(session, _full_copy(session, stored))


def test_cancelled_instance_is_stored_compact_too(session: Session) -> None:
    admin = make_user(session, "admin1", "admin")
    deploy_files(session, "four_tasks.bpmn")
    inst = start_instance(session, "four_tasks", admin, {"skip": False})
    session.commit()
    cancel_instance(session, inst.id, admin, "salah input")
    session.commit()
    stored = stored_instance(session, inst.id)
    assert json.loads(zlib.decompress(stored.workflow_state))["format"] == FINISHED_FORMAT
    assert highlights(session, stored).current == []
    assert _views(session, stored) == _views(session, _full_copy(session, stored))
