"""Process versions: listing, the diff of two versions by element id, the instance highlights."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import InvalidInput, ProcessNotFound
from engine.instance_view import highlights, instance_data
from engine.runtime import complete_task, start_instance
from engine.versions import diff_versions, list_versions, process_overview
from tests.conftest import DATA, make_user
from tests.helpers import only_task, stored_instance

CUTI = (DATA / "cuti.bpmn").read_text()

# Version 2 of cuti: the approval is renamed, due in 5 days instead of 3 and moves to the
# Pegawai lane; the script and a condition change; "perbaiki" is removed; "arsipkan" is new.
CUTI_V2 = (
    CUTI.replace('name="Setujui cuti"', 'name="Setujui cuti (atasan)"')
    .replace('value="P3D"', 'value="P5D"')
    .replace("sisa = 12 - hari", "sisa = 14 - hari")
    .replace("disetujui == True", "disetujui is True")
    .replace(
        "<bpmn:flowNodeRef>persetujuan</bpmn:flowNodeRef>\n",
        "",
    )
    .replace(
        "<bpmn:flowNodeRef>perbaiki</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>persetujuan</bpmn:flowNodeRef>",
    )
    .replace(
        """    <bpmn:userTask id="perbaiki" name="Baca penolakan">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="cuti.baca"/>
          <spiffworkflow:property name="assignee" value="starter"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f5" sourceRef="perbaiki" targetRef="ditolak"/>""",
        """    <bpmn:userTask id="arsipkan" name="Arsipkan penolakan"/>
    <bpmn:sequenceFlow id="f5" sourceRef="arsipkan" targetRef="ditolak"/>""",
    )
    .replace('targetRef="perbaiki"', 'targetRef="arsipkan"')
)


def deploy_text(session: Session, text: str, name: str = "cuti.bpmn") -> None:
    """Deploy BPMN text and commit."""
    deploy(session, [(name, text.encode())], "pemilik1")
    session.commit()


def test_diff_lists_added_removed_and_changed_elements_with_old_and_new_values(
    session: Session,
) -> None:
    deploy_text(session, CUTI)
    deploy_text(session, CUTI_V2)

    diff = diff_versions(session, "cuti", 1, 2)

    assert [e.id for e in diff.added] == ["arsipkan"]
    assert diff.added[0].type == "userTask"
    assert diff.added[0].name == "Arsipkan penolakan"
    assert [e.id for e in diff.removed] == ["perbaiki"]
    changes = {c.element.id: {p: (o, n) for p, o, n in c.fields} for c in diff.changed}
    assert changes["persetujuan"] == {
        "name": ("Setujui cuti", "Setujui cuti (atasan)"),
        "due": ("P3D", "P5D"),
        "lane": ("Atasan", "Pegawai"),
        "role": ("atasan", "pegawai"),
    }
    assert changes["hitung"] == {"script": ("sisa = 12 - hari", "sisa = 14 - hari")}
    assert changes["f_setuju"] == {
        "conditionExpression": ("disetujui == True", "disetujui is True")
    }
    assert changes["f_tolak"] == {"targetRef": ("perbaiki", "arsipkan")}
    assert changes["f5"] == {"sourceRef": ("perbaiki", "arsipkan")}
    assert set(changes) == {"persetujuan", "hitung", "f_setuju", "f_tolak", "f5"}


def test_diff_backwards_swaps_added_and_removed(session: Session) -> None:
    deploy_text(session, CUTI)
    deploy_text(session, CUTI_V2)

    diff = diff_versions(session, "cuti", 2, 1)

    assert [e.id for e in diff.added] == ["perbaiki"]
    assert [e.id for e in diff.removed] == ["arsipkan"]
    assert diff.as_dict()["changed"][0]["changes"]


def test_diff_refuses_the_same_version_and_unknown_versions(session: Session) -> None:
    deploy_text(session, CUTI)

    with pytest.raises(InvalidInput, match="two different versions"):
        diff_versions(session, "cuti", 1, 1)
    with pytest.raises(ProcessNotFound, match="has no version 7"):
        diff_versions(session, "cuti", 1, 7)
    with pytest.raises(ProcessNotFound, match="'nope' has no version 1"):
        diff_versions(session, "nope", 1, 2)


def test_versions_count_the_instances_that_run_on_each(session: Session) -> None:
    boss = make_user(session, "atasan1", "atasan")
    staff = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    assert boss.id
    deploy_text(session, CUTI)
    start_instance(session, "cuti", staff, {"hari": 2})
    start_instance(session, "cuti", staff, {"hari": 3})
    session.commit()
    deploy_text(session, CUTI_V2)
    start_instance(session, "cuti", staff, {"hari": 1})
    session.commit()

    versions = list_versions(session, "cuti")
    overview = process_overview(session)

    assert [(v["version"], v["active_instances"]) for v in versions] == [(2, 1), (1, 2)]
    assert versions[1]["instances"] == {"running": 2}
    assert overview[0]["key"] == "cuti"
    assert overview[0]["version"] == 2
    assert overview[0]["active_by_version"] == {1: 2, 2: 1}
    with pytest.raises(ProcessNotFound):
        list_versions(session, "nope")


def test_highlights_mark_the_path_taken_and_the_current_task(session: Session) -> None:
    make_user(session, "atasan1", "atasan")
    staff = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    deploy_text(session, CUTI)
    inst = start_instance(session, "cuti", staff, {"hari": 2})
    session.commit()
    complete_task(session, only_task(session, inst.id, "isi_permohonan").id, staff, {"hari": 2})
    session.commit()

    marks = highlights(session, stored_instance(session, inst.id))

    assert marks.completed == ["isi_permohonan", "mulai"]
    assert marks.current == ["persetujuan"]
    assert marks.error == []
    assert marks.flows == ["f1", "f2"]
    assert instance_data(session, stored_instance(session, inst.id))["hari"] == 2


def test_highlights_mark_the_failed_element_as_error(session: Session) -> None:
    boss = make_user(session, "atasan1", "atasan")
    staff = make_user(session, "pegawai1", "pegawai", supervisor="atasan1")
    deploy_text(session, CUTI)
    inst = start_instance(session, "cuti", staff)  # no "hari": the script fails
    session.commit()
    complete_task(session, only_task(session, inst.id, "isi_permohonan").id, staff, {})
    complete_task(session, only_task(session, inst.id, "persetujuan").id, boss, {"disetujui": True})
    session.commit()

    stored = stored_instance(session, inst.id)
    marks = highlights(session, stored)

    assert stored.state == "error"
    assert marks.error == ["hitung"]
    assert "hitung" not in marks.current + marks.completed
    assert {"f_setuju", "f3"} <= set(marks.flows)
    assert "f_tolak" not in marks.flows
