"""Who may start a process for whom: the start event's `subject` and `startFor` properties."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.deploy import deploy
from engine.errors import DeploymentRejected, InvalidInput, NotAllowed
from engine.models import User
from engine.runtime import start_instance
from tests.conftest import make_user
from tests.helpers import deploy_workflows


@pytest.fixture
def org(session: Session) -> dict[str, User]:
    """kepala1 > atasan1 > pegawai1, pegawai2; atasan2 elsewhere; an HR admin."""
    deploy_workflows(
        session,
        "keputusan_pelatihan.dmn",
        "pelatihan.bpmn",
        "kelayakan_kenaikan_pangkat.dmn",
        "kenaikan_pangkat.bpmn",
    )
    users = {
        "kepala": make_user(session, "kepala1", "atasan"),
        "atasan": make_user(session, "atasan1", "atasan", supervisor="kepala1"),
        "atasan2": make_user(session, "atasan2", "atasan"),
        "pegawai": make_user(session, "pegawai1", "pegawai", supervisor="atasan1"),
        "pegawai2": make_user(session, "pegawai2", "pegawai", supervisor="atasan1"),
        "bkpsdm": make_user(session, "bkpsdm1", "admin_bkpsdm"),
    }
    session.commit()
    return users


def test_an_employee_requests_training_for_themself_but_not_for_a_colleague(
    session: Session, org: dict[str, User]
) -> None:
    start_instance(session, "pelatihan", org["pegawai"], {"pegawai": "pegawai1"})
    with pytest.raises(NotAllowed, match="pegawai1 may not start pelatihan for pegawai 'pegawai2'"):
        start_instance(session, "pelatihan", org["pegawai"], {"pegawai": "pegawai2"})


def test_hr_may_start_for_anyone_and_supervisors_only_where_the_diagram_says(
    session: Session, org: dict[str, User]
) -> None:
    start_instance(session, "pelatihan", org["bkpsdm"], {"pegawai": "pegawai2"})
    with pytest.raises(NotAllowed):  # pelatihan: startFor = diri, admin_bkpsdm
        start_instance(session, "pelatihan", org["atasan"], {"pegawai": "pegawai1"})
    promotion = {"jenis": "reguler", "golongan_tujuan": "III/c"}
    # kenaikan_pangkat: startFor = diri, atasan_berjenjang (anyone above), admin_bkpsdm.
    start_instance(session, "kenaikan_pangkat", org["kepala"], {"pegawai": "pegawai1", **promotion})
    with pytest.raises(NotAllowed, match="atasan2 may not start kenaikan_pangkat"):
        start_instance(
            session, "kenaikan_pangkat", org["atasan2"], {"pegawai": "pegawai1", **promotion}
        )


def test_an_unknown_subject_is_named(session: Session, org: dict[str, User]) -> None:
    with pytest.raises(InvalidInput, match="pegawai: 'hantu' is not a known user"):
        start_instance(session, "pelatihan", org["bkpsdm"], {"pegawai": "hantu"})


START_FOR_ONLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="mulai">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="%s" value="%s"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f" sourceRef="mulai" targetRef="selesai"/>
    <bpmn:endEvent id="selesai"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("startFor", "diri", "p.bpmn: mulai: startFor needs a subject field"),
        ("subject", "pegawai.nama", "p.bpmn: mulai: subject 'pegawai.nama' is not a data field"),
    ],
)
def test_a_bad_start_rule_refuses_the_deployment(
    session: Session, name: str, value: str, reason: str
) -> None:
    with pytest.raises(DeploymentRejected) as rejected:
        deploy(session, [("p.bpmn", START_FOR_ONLY % (name.encode(), value.encode()))], "pemilik1")
    assert reason in str(rejected.value)
