"""Running instances: start, claim, complete, who may act, errors, cancel, retry, persistence."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.decisions import decide
from engine.errors import InvalidInput, InvalidState, NotAllowed, ProcessNotFound, StaleTask
from engine.models import AuditEntry, Instance, TaskModel
from engine.queries import instance_summary, list_tasks
from engine.runtime import (
    cancel_instance,
    claim_task,
    complete_task,
    retry_instance,
    start_instance,
    unclaim_task,
)
from tests.conftest import DATA, deploy_files, make_user


@pytest.fixture
def org(session: Session) -> dict[str, object]:
    """A small org chart: atasan1 supervises pegawai1; an admin; a stranger."""
    deploy_files(session, "cuti.bpmn", "nilai.dmn", "camunda_ujian.bpmn", "four_tasks.bpmn")
    return {
        "atasan": make_user(session, "atasan1", "atasan", unit="bidang_a"),
        "pegawai": make_user(session, "pegawai1", "pegawai", supervisor="atasan1", unit="bidang_a"),
        "pegawai2": make_user(session, "pegawai2", "pegawai"),
        "admin": make_user(session, "admin1", "admin"),
        "panitia": make_user(session, "panitia1", "panitia_seleksi"),
    }


def _open(session: Session, instance_id: int) -> list[TaskModel]:
    return list(
        session.scalars(
            select(TaskModel).where(
                TaskModel.instance_id == instance_id, TaskModel.completed_at.is_(None)
            )
        )
    )


def test_happy_path_with_lanes_assignee_gateway_and_script(session: Session, org: dict) -> None:
    inst = start_instance(session, "cuti", org["pegawai"], {"hari": 3}, business_key="CUTI-1")
    session.commit()
    assert inst.state == "running"
    [task] = _open(session, inst.id)
    assert (task.element_id, task.role, task.form_key) == (
        "isi_permohonan",
        "pegawai",
        "cuti.permohonan",
    )

    complete_task(session, task.id, org["pegawai"], {"alasan": "keluarga"})
    session.commit()
    [approval] = _open(session, inst.id)
    assert approval.element_id == "persetujuan"
    assert approval.assignee_id == org["atasan"].id  # supervisor_of(starter)
    assert approval.due_at is not None and (approval.due_at - approval.created_at).days == 3
    with pytest.raises(NotAllowed):
        complete_task(session, approval.id, org["pegawai2"], {"disetujui": True})
    complete_task(session, approval.id, org["atasan"], {"disetujui": True})
    session.commit()
    summary = instance_summary(session, inst.id)
    assert summary["state"] == "completed"
    assert [h["action"] for h in summary["history"]] == ["started", "completed", "completed"]
    assert json.loads(summary["history"][2]["detail"]) == {"data": {"disetujui": True}}
    state = json.loads(zlib.decompress(session.get(Instance, inst.id).workflow_state))
    assert "spec" not in state  # the spec is stored once per version, not per instance


def test_rejection_goes_back_to_the_starter(session: Session, org: dict) -> None:
    inst = start_instance(session, "cuti", org["pegawai"], {"hari": 2})
    [t1] = _open(session, inst.id)
    complete_task(session, t1.id, org["pegawai"], {})
    [t2] = _open(session, inst.id)
    complete_task(session, t2.id, org["atasan"], {"disetujui": False})
    [t3] = _open(session, inst.id)
    assert t3.element_id == "perbaiki" and t3.assignee_id == org["pegawai"].id


def test_claim_makes_a_task_belong_to_the_claimer(session: Session, org: dict) -> None:
    inst = start_instance(session, "ujian", org["admin"], {})
    session.commit()
    [task] = _open(session, inst.id)
    other = make_user(session, "panitia2", "panitia_seleksi")
    with pytest.raises(NotAllowed):
        claim_task(session, task.id, org["pegawai"])  # wrong role
    claim_task(session, task.id, org["panitia"])
    session.commit()
    with pytest.raises(NotAllowed, match="claimed by someone else"):
        claim_task(session, task.id, other)
    with pytest.raises(NotAllowed, match="claimed by someone else"):
        complete_task(session, task.id, other, {"skor": 70})
    assert [t["id"] for t in list_tasks(session, user=other)] == []
    unclaim_task(session, task.id, org["panitia"])
    session.commit()
    assert [t["id"] for t in list_tasks(session, user=other)] == [task.id]
    claim_task(session, task.id, other)
    complete_task(session, task.id, other, {"skor": 70})
    session.commit()
    inst = session.get(Instance, inst.id)
    assert inst.state == "waiting"  # only the timer is left


def test_business_rule_task_uses_the_deployed_decision(session: Session, org: dict) -> None:
    inst = start_instance(session, "ujian", org["admin"], {})
    [task] = _open(session, inst.id)
    complete_task(session, task.id, org["panitia"], {"skor": 82})
    session.commit()
    from engine.runtime import Step

    step = Step(session, session.get(Instance, inst.id))
    data = step.wf.get_tasks(spec_name="tunggu")[0].data
    assert (data["predikat"], data["lulus"]) == ("Baik", True)


@pytest.mark.parametrize(
    ("skor", "predikat", "lulus"),
    [(80, "Baik", True), (79, "Cukup", True), (65, "Cukup", True), (64, "Kurang", False)],
)
def test_decide_at_the_boundaries(
    session: Session, org: dict, skor: int, predikat: str, lulus: bool
) -> None:
    assert decide(session, "predikat_nilai", {"skor": skor}) == {
        "predikat": predikat,
        "lulus": lulus,
    }


def test_decide_with_missing_input_is_a_clear_error(session: Session, org: dict) -> None:
    with pytest.raises(InvalidInput, match=r"decision 'predikat_nilai': .*skor"):
        decide(session, "predikat_nilai", {})


def test_completing_a_completed_task_is_a_clear_error(session: Session, org: dict) -> None:
    inst = start_instance(session, "four_tasks", org["admin"], {"skip": False})
    [task] = _open(session, inst.id)
    complete_task(session, task.id, org["admin"], {})
    session.commit()
    with pytest.raises(StaleTask, match=f"task {task.id} is already completed"):
        complete_task(session, task.id, org["admin"], {})


def test_script_error_puts_instance_in_error_and_retry_recovers(
    session: Session, org: dict
) -> None:
    inst = start_instance(session, "cuti", org["pegawai"], {"hari": "tiga"})
    [t1] = _open(session, inst.id)
    complete_task(session, t1.id, org["pegawai"], {})
    [t2] = _open(session, inst.id)
    complete_task(session, t2.id, org["atasan"], {"disetujui": True})
    session.commit()
    inst = session.get(Instance, inst.id)
    assert inst.state == "error"
    assert inst.error_element == "hitung"
    assert "TypeError" in inst.error_message
    with pytest.raises(NotAllowed):
        retry_instance(session, inst.id, org["pegawai"], {"hari": 3})
    retry_instance(session, inst.id, org["admin"], {"hari": 3})
    session.commit()
    assert session.get(Instance, inst.id).state == "completed"
    actions = [
        a
        for a in session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == inst.id))
    ]
    assert actions == ["started", "completed", "completed", "error", "retried"]


def test_forbidden_script_is_an_error_with_the_reason(session: Session, org: dict) -> None:
    # A process deployed before the sandbox rule changed cannot escape at run time either.
    from engine.deploy import deploy

    xml = (
        (DATA / "four_tasks.bpmn")
        .read_text()
        .replace('id="four_tasks"', 'id="skrip"')
        .replace(
            '<bpmn:userTask id="t1" name="Langkah 1">',
            '<bpmn:scriptTask id="t0"><bpmn:script>x = [c for c in ().__class__.__mro__]'
            '</bpmn:script></bpmn:scriptTask><bpmn:userTask id="t1" name="Langkah 1">',
        )
    )
    from engine.errors import DeploymentRejected

    with pytest.raises(DeploymentRejected, match="t0: script does not compile"):
        deploy(session, [("skrip.bpmn", xml.encode())], "pemilik1")


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ('x = "{0.__class__}".format(1)', "str.format is not allowed"),
        ("while True:\n    pass", "time limit"),
        ("x = 1 / 0", "ZeroDivisionError"),
    ],
)
def test_script_refused_or_failing_at_run_time_puts_the_instance_in_error(
    session: Session, org: dict, script: str, reason: str
) -> None:
    from engine.deploy import deploy

    xml = (DATA / "four_tasks.bpmn").read_text().replace('id="four_tasks"', 'id="skrip"')
    xml = xml.replace(
        '<bpmn:userTask id="t1" name="Langkah 1">',
        f'<bpmn:scriptTask id="t0"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
        '<bpmn:userTask id="t1" name="Langkah 1">',
    ).replace('sourceRef="start" targetRef="t1"', 'sourceRef="start" targetRef="t0"')
    xml = xml.replace(
        '<bpmn:sequenceFlow id="s2"',
        '<bpmn:sequenceFlow id="s0" sourceRef="t0" targetRef="t1"/><bpmn:sequenceFlow id="s2"',
    )
    deploy(session, [("skrip.bpmn", xml.encode())], "pemilik1")
    inst = start_instance(session, "skrip", org["admin"], {"skip": False})
    session.commit()
    assert inst.state == "error"
    assert inst.error_element == "t0"
    assert reason in (inst.error_message or "")
    assert _open(session, inst.id) == []


def test_cancel_requires_admin_and_reason(session: Session, org: dict) -> None:
    inst = start_instance(session, "four_tasks", org["pegawai"], {"skip": False})
    session.commit()
    with pytest.raises(NotAllowed):
        cancel_instance(session, inst.id, org["pegawai"], "tidak jadi")
    with pytest.raises(InvalidInput):
        cancel_instance(session, inst.id, org["admin"], "  ")
    cancel_instance(session, inst.id, org["admin"], "formasi ditutup")
    session.commit()
    assert session.get(Instance, inst.id).state == "cancelled"
    assert _open(session, inst.id) == []
    with pytest.raises(InvalidState):
        cancel_instance(session, inst.id, org["admin"], "lagi")


def test_running_instances_stay_on_their_version(session: Session, org: dict) -> None:
    old = start_instance(session, "four_tasks", org["admin"], {"skip": False})
    session.commit()
    from engine.deploy import deploy

    xml = (DATA / "four_tasks.bpmn").read_bytes().replace(b"Langkah 2", b"Langkah dua")
    deploy(session, [("four_tasks.bpmn", xml)], "pemilik1")
    session.commit()
    new = start_instance(session, "four_tasks", org["admin"], {"skip": False})
    for inst in (old, new):
        [t] = _open(session, inst.id)
        complete_task(session, t.id, org["admin"], {})
    assert [t.name for t in _open(session, old.id)] == ["Langkah 2"]
    assert [t.name for t in _open(session, new.id)] == ["Langkah dua"]
    assert (old.process_version.version, new.process_version.version) == (1, 2)


def test_bad_input_is_refused(session: Session, org: dict) -> None:
    with pytest.raises(ProcessNotFound, match="process 'nope' is not deployed"):
        start_instance(session, "nope", org["admin"], {})
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        start_instance(session, "cuti", org["admin"], [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="field name '__class__' is not allowed"):
        start_instance(session, "cuti", org["admin"], {"__class__": 1})


def test_due_dates_with_an_offset_are_stored_as_utc() -> None:
    from datetime import datetime

    from engine.runtime import _due_at

    now = datetime(2026, 11, 24, 8, 0)
    assert _due_at('"2026-11-30T17:00:00+07:00"', {}, now) == datetime(2026, 11, 30, 10, 0)
    assert _due_at("P3D", {}, now) == datetime(2026, 11, 27, 8, 0)
    assert _due_at("batas", {"batas": "2026-12-01"}, now) == datetime(2026, 12, 1)
