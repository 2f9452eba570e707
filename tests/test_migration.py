"""Moving running instances from version N to version M: dry run, refusals, the real move."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import InvalidInput, NotAllowed
from engine.migration import MigrationRefused, migrate_instance, plan_migration
from engine.models import AuditEntry
from engine.runtime import complete_task, retry_instance, start_instance
from engine.timers import fire_timers
from engine.users import get_user
from tests.conftest import DATA, make_user
from tests.helpers import only_task, open_tasks, stored_instance
from tests.test_cli import Cli

FOUR = (DATA / "four_tasks.bpmn").read_text()


def four_v2() -> str:
    """Version 2: "Langkah 1" (t1) is gone, t2 is renamed, a new "Langkah 5" (t5) follows t4."""
    text = re.sub(
        r'<bpmn:userTask id="t1".*?</bpmn:userTask>\s*<bpmn:sequenceFlow id="s2"[^>]*/>',
        "",
        FOUR,
        flags=re.S,
    )
    return (
        text.replace('sourceRef="start" targetRef="t1"', 'sourceRef="start" targetRef="t2"')
        .replace(
            "<bpmn:flowNodeRef>t1</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>t5</bpmn:flowNodeRef>"
        )
        .replace('name="Langkah 2"', 'name="Langkah 2 (baru)"')
        .replace(
            '<bpmn:sequenceFlow id="s6" sourceRef="t4" targetRef="end"/>',
            '<bpmn:sequenceFlow id="s6" sourceRef="t4" targetRef="t5"/>'
            '<bpmn:userTask id="t5" name="Langkah 5"/>'
            '<bpmn:sequenceFlow id="s7" sourceRef="t5" targetRef="end"/>',
        )
    )


def deploy_text(session: Session, text: str, name: str = "four_tasks.bpmn") -> None:
    """Deploy BPMN text and commit."""
    deploy(session, [(name, text.encode())], "pemilik1")
    session.commit()


def audit_count(session: Session) -> int:
    """How many audit rows there are."""
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def run_to_end(session: Session, instance_id: int, user: object) -> list[str]:
    """Complete every task as it comes; the elements done, in order."""
    done = []
    while tasks := open_tasks(session, instance_id):
        done.append(tasks[0]["element_id"])
        complete_task(session, tasks[0]["id"], user, {"skip": False})  # type: ignore[arg-type]
        session.commit()
    return done


@pytest.fixture
def two_versions(session: Session) -> dict[str, int]:
    """An instance at t2 (past t1) and one at t1, both on v1; then v2 is deployed."""
    staff = make_user(session, "staf1", "staf")
    make_user(session, "admin1", "admin")
    deploy_text(session, FOUR)
    ahead = start_instance(session, "four_tasks", staff)
    behind = start_instance(session, "four_tasks", staff)
    session.commit()
    complete_task(session, only_task(session, ahead.id, "t1").id, staff, {})
    session.commit()
    deploy_text(session, four_v2())
    return {"ahead": ahead.id, "behind": behind.id}


def test_dry_run_lists_who_can_move_and_why_not_and_changes_nothing(
    session: Session, two_versions: dict[str, int]
) -> None:
    before = audit_count(session)

    plan = plan_migration(session, "four_tasks", 1, 2)

    rows = {c.instance_id: c for c in plan.candidates}
    assert rows[two_versions["ahead"]].can_move
    assert rows[two_versions["ahead"]].current == ["t2"]
    assert not rows[two_versions["behind"]].can_move
    assert rows[two_versions["behind"]].reasons == [
        "current element 't1' (Langkah 1) does not exist in version 2"
    ]
    assert audit_count(session) == before
    assert stored_instance(session, two_versions["ahead"]).process_version.version == 1


def test_moved_instance_continues_on_the_new_versions_path(
    session: Session, two_versions: dict[str, int]
) -> None:
    admin = make_user(session, "admin2", "admin")
    task_before = only_task(session, two_versions["ahead"], "t2")

    migrate_instance(session, two_versions["ahead"], admin, "four_tasks", 1, 2, "aturan 2027")
    session.commit()

    moved = stored_instance(session, two_versions["ahead"])
    assert moved.process_version.version == 2
    task_after = only_task(session, moved.id, "t2")
    assert task_after.id == task_before.id  # the same open task, claims and all
    assert task_after.name == "Langkah 2 (baru)"  # with version 2's name
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "migrated")).one()
    assert entry.instance_id == moved.id
    assert entry.actor == "admin2"
    assert json.loads(entry.detail) == {"from": 1, "to": 2, "reason": "aturan 2027"}

    worker = get_user(session, "staf1")
    assert run_to_end(session, moved.id, worker) == ["t2", "t3", "t4", "t5"]
    assert stored_instance(session, moved.id).state == "completed"
    # The instance left behind on version 1 keeps version 1's path: no t5.
    assert run_to_end(session, two_versions["behind"], worker) == ["t1", "t2", "t3", "t4"]
    assert stored_instance(session, two_versions["behind"]).process_version.version == 1


def test_refused_migration_writes_nothing(session: Session, two_versions: dict[str, int]) -> None:
    admin = make_user(session, "admin2", "admin")
    before = audit_count(session)

    with pytest.raises(MigrationRefused, match=r"current element 't1' \(Langkah 1\)"):
        migrate_instance(session, two_versions["behind"], admin, "four_tasks", 1, 2)
    session.rollback()

    assert audit_count(session) == before
    assert stored_instance(session, two_versions["behind"]).process_version.version == 1
    assert only_task(session, two_versions["behind"], "t1").name == "Langkah 1"


def test_only_admins_and_process_owners_move_instances_between_two_versions(
    session: Session, two_versions: dict[str, int]
) -> None:
    staff = make_user(session, "staf2", "staf")
    owner = make_user(session, "pemilik1", "pemilik_proses")

    with pytest.raises(NotAllowed):
        migrate_instance(session, two_versions["ahead"], staff, "four_tasks", 1, 2)
    with pytest.raises(InvalidInput, match="must differ"):
        plan_migration(session, "four_tasks", 2, 2)
    migrate_instance(session, two_versions["ahead"], owner, "four_tasks", 1, 2)
    session.commit()
    with pytest.raises(MigrationRefused, match="runs on version 2"):
        migrate_instance(session, two_versions["ahead"], owner, "four_tasks", 1, 2)


def test_an_instance_in_error_moves_to_a_fixed_version_and_retries_there(
    session: Session,
) -> None:
    boss = make_user(session, "atasan1", "atasan")
    staff = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    admin = make_user(session, "admin1", "admin")
    cuti = (DATA / "cuti.bpmn").read_text()
    deploy_text(session, cuti, "cuti.bpmn")
    inst = start_instance(session, "cuti", staff)  # no "hari": v1's script fails
    session.commit()
    complete_task(session, only_task(session, inst.id, "isi_permohonan").id, staff, {})
    complete_task(session, only_task(session, inst.id, "persetujuan").id, boss, {"disetujui": True})
    session.commit()
    assert stored_instance(session, inst.id).state == "error"
    fixed = cuti.replace("sisa = 12 - hari", "sisa = 12")
    deploy_text(session, fixed, "cuti.bpmn")

    migrate_instance(session, inst.id, admin, "cuti", 1, 2, "skrip diperbaiki")
    session.commit()
    moved = stored_instance(session, inst.id)
    assert (moved.state, moved.process_version.version) == ("error", 2)
    errors = session.scalar(
        select(func.count()).where(AuditEntry.action == "error", AuditEntry.instance_id == inst.id)
    )
    assert errors == 1  # the move records no second error

    retry_instance(session, inst.id, admin, reason="versi 2")
    session.commit()
    assert stored_instance(session, inst.id).state == "completed"


TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_tunggu" targetNamespace="http://jenjang.test/tunggu">
  <bpmn:process id="tunggu" name="Tunggu" isExecutable="true">
    <bpmn:laneSet id="LaneSet_t">
      <bpmn:lane id="Lane_staf" name="Staf">
        <bpmn:flowNodeRef>tugas</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tugas"/>
    <bpmn:userTask id="tugas" name="NAME"/>
    <bpmn:boundaryEvent id="batas" attachedToRef="tugas">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="tugas" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="batas" targetRef="lewat"/>
    <bpmn:endEvent id="end"/>
    <bpmn:endEvent id="lewat"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_waiting_timer_keeps_its_due_time_when_the_instance_moves(session: Session) -> None:
    staff = make_user(session, "staf1", "staf")
    admin = make_user(session, "admin1", "admin")
    deploy_text(session, TIMER.replace("NAME", "Kerjakan"), "tunggu.bpmn")
    inst = start_instance(session, "tunggu", staff)
    session.commit()
    due = stored_instance(session, inst.id).next_timer_at
    assert due is not None
    deploy_text(session, TIMER.replace("NAME", "Kerjakan segera"), "tunggu.bpmn")

    migrate_instance(session, inst.id, admin, "tunggu", 1, 2)
    session.commit()

    moved = stored_instance(session, inst.id)
    assert moved.next_timer_at == due
    assert only_task(session, inst.id, "tugas").name == "Kerjakan segera"
    assert run_to_end(session, inst.id, staff) == ["tugas"]
    assert stored_instance(session, inst.id).state == "completed"


def test_a_moved_instance_still_fires_its_timer_on_the_new_version(session: Session) -> None:
    staff = make_user(session, "staf1", "staf")
    admin = make_user(session, "admin1", "admin")
    deploy_text(session, TIMER.replace("NAME", "Kerjakan"), "tunggu.bpmn")
    inst = start_instance(session, "tunggu", staff)
    session.commit()
    deploy_text(session, TIMER.replace("NAME", "Kerjakan segera"), "tunggu.bpmn")
    migrate_instance(session, inst.id, admin, "tunggu", 1, 2)
    session.commit()
    due = stored_instance(session, inst.id).next_timer_at
    assert due is not None

    fired = fire_timers(session, inst.id, due + timedelta(seconds=1))
    session.commit()

    assert fired == ["batas"]
    assert stored_instance(session, inst.id).state == "completed"
    assert open_tasks(session, inst.id) == []


def test_cli_migrate_dry_run_then_moves_and_names_what_did_not(
    session: Session, two_versions: dict[str, int], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(db_url, capsys)
    ahead, behind = two_versions["ahead"], two_versions["behind"]

    dry = cli("migrate", "four_tasks", "--from", "1", "--to", "2", "--dry-run")
    assert dry.stdout.splitlines() == [
        f"instance {ahead}: can move to v2",
        f"instance {behind}: cannot move: current element 't1' (Langkah 1) "
        "does not exist in version 2",
    ]
    missing_actor = cli("migrate", "four_tasks", "--from", "1", "--to", "2", ok=False)
    assert missing_actor.returncode == 2
    assert missing_actor.stderr.strip() == (
        "jenjang: --as: name the admin or process owner who moves the instances"
    )
    bad = cli("migrate", "four_tasks", "--from", "1", "--to", "9", "--as", "admin1", ok=False)
    assert bad.stderr.strip() == "jenjang: process 'four_tasks' has no version 9"

    run = cli(
        "migrate",
        "four_tasks",
        "--from",
        "1",
        "--to",
        "2",
        "--as",
        "admin1",
        "--reason",
        "baru",
        ok=False,
    )
    assert run.returncode == 2  # one instance could not move
    assert run.stdout.splitlines()[0] == f"instance {ahead}: moved v1 -> v2"
    assert run.stdout.splitlines()[1].startswith(f"instance {behind}: not moved: current element")
    session.rollback()  # a fresh transaction sees what the CLI committed
    assert stored_instance(session, ahead).process_version.version == 2
    assert stored_instance(session, behind).process_version.version == 1


SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_sub" targetNamespace="http://jenjang.test/sub">
  <bpmn:process id="berkas" name="Berkas" isExecutable="true">
    <bpmn:laneSet id="LaneSet_b">
      <bpmn:lane id="Lane_staf" name="Staf">
        <bpmn:flowNodeRef>terima</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>periksa</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>arsip</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="terima"/>
    <bpmn:userTask id="terima" name="Terima berkas"/>
    <bpmn:sequenceFlow id="f2" sourceRef="terima" targetRef="periksa"/>
    <bpmn:subProcess id="periksa" name="Periksa">
      <bpmn:startEvent id="periksa_mulai"/>
      <bpmn:sequenceFlow id="p1" sourceRef="periksa_mulai" targetRef="cek"/>
      <bpmn:userTask id="cek" name="Cek kelengkapan"/>
      <bpmn:sequenceFlow id="p2" sourceRef="cek" targetRef="periksa_selesai"/>
      <bpmn:endEvent id="periksa_selesai"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f3" sourceRef="periksa" targetRef="arsip"/>
    <bpmn:userTask id="arsip" name="Arsipkan"/>
    <bpmn:sequenceFlow id="f4" sourceRef="arsip" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_an_instance_inside_a_subprocess_continues_on_the_new_subprocess(
    session: Session,
) -> None:
    staff = make_user(session, "staf1", "staf")
    admin = make_user(session, "admin1", "admin")
    deploy_text(session, SUBPROCESS, "berkas.bpmn")
    inst = start_instance(session, "berkas", staff)
    session.commit()
    complete_task(session, only_task(session, inst.id, "terima").id, staff, {})
    session.commit()
    # Version 2 adds a second check inside the subprocess, after the one the instance is at.
    deploy_text(
        session,
        SUBPROCESS.replace(
            '<bpmn:sequenceFlow id="p2" sourceRef="cek" targetRef="periksa_selesai"/>',
            '<bpmn:sequenceFlow id="p2" sourceRef="cek" targetRef="cek_ulang"/>'
            '<bpmn:userTask id="cek_ulang" name="Cek ulang"/>'
            '<bpmn:sequenceFlow id="p3" sourceRef="cek_ulang" targetRef="periksa_selesai"/>',
        ),
        "berkas.bpmn",
    )

    plan = plan_migration(session, "berkas", 1, 2)
    assert [(c.current, c.can_move) for c in plan.candidates] == [(["cek", "periksa"], True)]
    migrate_instance(session, inst.id, admin, "berkas", 1, 2)
    session.commit()

    assert run_to_end(session, inst.id, staff) == ["cek", "cek_ulang", "arsip"]
    assert stored_instance(session, inst.id).state == "completed"
