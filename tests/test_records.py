"""Employee records edited by the HR admin, and the demo agency."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.demo import seed
from engine.errors import InvalidInput, NotAllowed
from engine.hr import Training
from engine.models import AuditEntry, User
from engine.passwords import check_password
from engine.records import add_sanction, employee_record, set_predicate, update_employee
from engine.users import get_user

TODAY = date(2026, 11, 24)


@pytest.fixture
def demo(session: Session) -> Session:
    seed(session, "rahasia-demo", today=TODAY)
    session.commit()
    return session


def test_demo_creates_every_role_once(demo: Session) -> None:
    names = set(demo.scalars(select(User.username)))
    expected = {f"pelamar{i}" for i in (1, 2, 3)} | {f"pegawai{i}" for i in (1, 2, 3)}
    expected |= {"verifikator1", "panitia1", "ppk1", "atasan1", "mentor1", "admin1", "pemilik1"}
    assert expected <= names
    assert get_user(demo, "pegawai1").supervisor_id == get_user(demo, "atasan1").id
    assert check_password(get_user(demo, "admin1").password_hash, "rahasia-demo")
    assert not check_password(get_user(demo, "admin1").password_hash, "salah")
    assert seed(demo, "lagi").users == []  # idempotent
    assert demo.scalar(select(func.count()).select_from(Training)) == 5


def test_record_reads_rank_predicates_sanctions_and_jp(demo: Session) -> None:
    record = employee_record(demo, "pegawai1")
    assert record["golongan"] == "III/b" and record["predikat_tahun_lalu"] == "Sangat Baik"
    assert employee_record(demo, "pegawai2")["jp_tahun_ini"] >= 24
    with clock.at(datetime(TODAY.year, TODAY.month, TODAY.day, 9)):
        assert employee_record(demo, "pegawai3")["hukuman_disiplin"] is True
    with clock.at(datetime(TODAY.year + 1, 2, 1)):
        assert employee_record(demo, "pegawai3")["hukuman_disiplin"] is False


def test_only_hr_may_edit_and_bad_values_are_refused(demo: Session) -> None:
    admin, pegawai = get_user(demo, "admin1"), get_user(demo, "pegawai2")
    with pytest.raises(NotAllowed):
        update_employee(demo, pegawai, "pegawai1", golongan="IV/e")
    with pytest.raises(InvalidInput, match="golongan 'IIIb' must look like III/a"):
        update_employee(demo, admin, "pegawai1", golongan="IIIb")
    with pytest.raises(InvalidInput, match="NIP '123' must be 18 digits"):
        update_employee(demo, admin, "pegawai1", nip="123")
    with pytest.raises(InvalidInput, match="predikat 'Hebat'"):
        set_predicate(demo, admin, "pegawai1", 2025, "Hebat")
    with pytest.raises(InvalidInput, match="selesai must not be before mulai"):
        add_sanction(demo, admin, "pegawai1", "ringan", "2026-05-01", "2026-04-01")
    update_employee(demo, admin, "pegawai1", golongan="III/c", tmt_golongan="2026-04-01")
    demo.commit()
    assert employee_record(demo, "pegawai1")["golongan"] == "III/c"
    audited = demo.scalar(
        select(func.count()).where(
            AuditEntry.action == "record_updated", AuditEntry.actor == "admin1"
        )
    )
    assert audited == 1


def test_demo_instances_are_in_flight_without_errors(demo: Session) -> None:
    from engine.demo import seed_instances
    from engine.models import Instance
    from tests.helpers import deploy_workflows

    deploy_workflows(
        demo,
        "keputusan_pelatihan.dmn",
        "predikat_kinerja.dmn",
        "kelayakan_kenaikan_pangkat.dmn",
        "pelatihan.bpmn",
        "penilaian_kinerja.bpmn",
        "kenaikan_pangkat.bpmn",
        "mentoring.bpmn",
        "seleksi_jpt.bpmn",
        "skd_kelulusan.dmn",
        "bobot_nilai_akhir.dmn",
        "rekrutmen.bpmn",
    )
    started = seed_instances(demo)
    demo.commit()
    assert started == [
        "seleksi_formasi",
        "seleksi_formasi",
        "lamaran",
        "lamaran",
        "lamaran",
        "pelatihan",
        "penilaian_kinerja",
        "mentoring",
        "kenaikan_pangkat",
        "seleksi_jpt",
    ]
    states = {(i.process_key, i.business_key): i.state for i in demo.scalars(select(Instance))}
    assert "error" not in states.values(), states
    assert states[("lamaran", "F-001/pelamar1")] == "running"
