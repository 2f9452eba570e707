"""Open selection for a senior post (seleksi terbuka JPT, DOMAIN §5): stages, shortlist, PPK."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

import forms
from engine.models import User, utcnow
from engine.runtime import latest_version, start_instance
from engine.timers import due_instances, fire_timers
from tests.conftest import make_user
from tests.helpers import deploy_workflows, form_errors, only_task, submit
from tests.helpers import instance_data as data_of
from tests.helpers import stored_instance as instance

APPLICANTS = ["andi", "budi", "citra", "dewi"]
ELIGIBLE = ["andi", "budi", "citra"]
STAGES = [
    ("penulisan_makalah", "nilai_makalah"),
    ("asesmen_kompetensi", "nilai_kompetensi"),
    ("presentasi_wawancara", "nilai_wawancara"),
    ("rekam_jejak", "nilai_rekam_jejak"),
]


@pytest.fixture
def org(session: Session) -> dict[str, User]:
    """A committee member and the PPK; the process deployed."""
    deploy_workflows(session, "seleksi_jpt.bpmn")
    return {
        "panitia": make_user(session, "panitia1", "panitia_seleksi"),
        "ppk": make_user(session, "walikota", "ppk"),
    }


def lines(values: dict[str, Any]) -> str:
    """A text area of ``name; value`` lines."""
    return "\n".join(f"{name}; {value}" for name, value in values.items())


def open_registration(
    session: Session, org: dict[str, User], start_data: dict[str, Any] | None = None
) -> tuple[int, date]:
    """The committee starts a selection and opens registration for two weeks."""
    inst = start_instance(session, "seleksi_jpt", org["panitia"], start_data or {})
    session.commit()
    closes = date.today() + timedelta(days=14)
    form = only_task(session, inst.id, "buka_pendaftaran")
    assert form.role == "panitia_seleksi"
    assert "tanggal_tutup" in form_errors(
        form,
        {
            "jabatan": "Kepala Dinas Pendidikan",
            "tanggal_buka": date.today().isoformat(),
            "tanggal_tutup": (date.today() - timedelta(days=1)).isoformat(),
        },
    )
    submit(
        session,
        form,
        org["panitia"],
        {
            "jabatan": "Kepala Dinas Pendidikan",
            "tanggal_buka": date.today().isoformat(),
            "tanggal_tutup": closes.isoformat(),
        },
    )
    return inst.id, closes


def close_and_list(session: Session, org: dict[str, User], inst: int, names: list[str]) -> None:
    """The committee closes registration early and records the applicants."""
    submit(session, only_task(session, inst, "tutup_pendaftaran"), org["panitia"], {})
    submit(
        session,
        only_task(session, inst, "catat_pelamar"),
        org["panitia"],
        {"pelamar": "\n".join(names)},
    )


def run_stages(session: Session, org: dict[str, User], inst: int) -> None:
    """Administrative check (dewi is TMS) and the four scored stages, all complete."""
    submit(
        session,
        only_task(session, inst, "seleksi_administrasi"),
        org["panitia"],
        {"hasil_administrasi": "andi; MS\nbudi; MS\ncitra; MS\ndewi; TMS; Belum eselon III"},
    )
    for number, (element, field) in enumerate(STAGES):
        scores = {name: 70 + number + i * 5 for i, name in enumerate(ELIGIBLE)}
        submit(session, only_task(session, inst, element), org["panitia"], {field: lines(scores)})


def shortlist(session: Session, org: dict[str, User], inst: int) -> None:
    """The committee proposes the three eligible candidates."""
    submit(
        session,
        only_task(session, inst, "usulkan_calon"),
        org["panitia"],
        {"usulan": "citra\nbudi\nandi", "pertimbangan": "Peringkat tiga teratas"},
    )


def test_every_user_task_has_a_registered_form(session: Session, org: dict[str, User]) -> None:
    meta = latest_version(session, "seleksi_jpt").task_meta
    assert meta
    for element, info in meta.items():
        assert info["form_key"] == f"seleksi_jpt.{element}"
        assert forms.form_class(info["form_key"]) is not None, element


def test_selection_closes_at_the_deadline_runs_every_stage_and_the_ppk_picks_one(
    session: Session, org: dict[str, User]
) -> None:
    inst, closes = open_registration(session, org)
    only_task(session, inst, "tutup_pendaftaran")
    data = data_of(session, inst)
    assert (data["minimal_pelamar"], data["jumlah_usulan"]) == (3, 3)
    # Registration closes at 23:59:59 WIB (UTC+7) on the closing date: 16:59:59 UTC.
    assert instance(session, inst).next_timer_at == datetime.combine(
        closes, datetime.min.time()
    ) + timedelta(hours=16, minutes=59, seconds=59)
    noon = datetime.combine(closes, datetime.min.time()) + timedelta(hours=12)
    assert due_instances(session, noon) == []
    next_day = noon + timedelta(days=1)
    assert due_instances(session, next_day) == [inst]
    assert fire_timers(session, inst, next_day) == ["batas_pendaftaran_tercapai"]
    session.commit()

    listing = only_task(session, inst, "catat_pelamar")
    assert form_errors(listing, {"pelamar": "andi\nandi"}) == {
        "pelamar": [
            forms.gettext(forms.lazy_gettext("%(name)s is listed more than once.", name="andi"))
        ]
    }
    submit(session, listing, org["panitia"], {"pelamar": "\n".join(APPLICANTS)})

    check = only_task(session, inst, "seleksi_administrasi")
    assert "hasil_administrasi" in form_errors(check, {"hasil_administrasi": "dewi; TMS"})
    # An incomplete check comes back to the committee with what is missing.
    submit(session, check, org["panitia"], {"hasil_administrasi": "andi; MS\nbudi; MS"})
    check = only_task(session, inst, "seleksi_administrasi")
    assert data_of(session, inst)["kesalahan_administrasi"] == "Belum diperiksa: citra, dewi. "

    submit(
        session,
        check,
        org["panitia"],
        {"hasil_administrasi": "andi; MS\nbudi; MS\ncitra; ms\ndewi; TMS; Belum eselon III"},
    )
    paper = only_task(session, inst, "penulisan_makalah")
    assert data_of(session, inst)["lolos_administrasi"] == ELIGIBLE
    assert "nilai_makalah" in form_errors(paper, {"nilai_makalah": "andi; 101"})
    submit(session, paper, org["panitia"], {"nilai_makalah": "andi; 80\ndewi; 90"})
    paper = only_task(session, inst, "penulisan_makalah")
    assert data_of(session, inst)["kesalahan_nilai"] == (
        "Belum dinilai: budi, citra. Bukan peserta: dewi."
    )
    submit(session, paper, org["panitia"], {"nilai_makalah": "andi; 80\nbudi; 85,5\ncitra; 90"})
    for element, field in STAGES[1:]:
        submit(
            session,
            only_task(session, inst, element),
            org["panitia"],
            {field: lines({"andi": 70, "budi": 75, "citra": 72})},
        )

    only_task(session, inst, "usulkan_calon")
    data = data_of(session, inst)
    assert data["nilai_makalah"] == {"andi": 80, "budi": 85.5, "citra": 90}
    assert data["peringkat"] == ["budi", "citra", "andi"]
    shortlist(session, org, inst)

    pick = only_task(session, inst, "pilih_pejabat")
    assert pick.role == "ppk" and pick.due_at is not None
    assert "pilihan" in form_errors(pick, {"pilihan": ""})
    submit(session, pick, org["ppk"], {"pilihan": "citra", "catatan": "Rekam jejak terbaik"})

    assert instance(session, inst).state == "completed"
    data = data_of(session, inst)
    assert data["status_seleksi"] == "selesai"
    assert data["pejabat_terpilih"] == "citra"
    assert data["pengumuman"] == "Pejabat terpilih untuk jabatan Kepala Dinas Pendidikan: citra."


def test_selection_with_two_applicants_is_cancelled(session: Session, org: dict[str, User]) -> None:
    inst, _ = open_registration(session, org)
    close_and_list(session, org, inst, ["andi", "budi"])

    assert instance(session, inst).state == "completed"
    data = data_of(session, inst)
    assert data["status_seleksi"] == "dibatalkan"
    assert data["alasan_pembatalan"] == ("Pelamar kurang dari 3 orang: seleksi terbuka dibatalkan.")
    assert "pejabat_terpilih" not in data


def test_the_minimum_number_of_applicants_comes_from_the_start_data(
    session: Session, org: dict[str, User]
) -> None:
    inst, _ = open_registration(session, org, {"minimal_pelamar": 2})
    close_and_list(session, org, inst, ["andi", "budi"])
    assert only_task(session, inst, "seleksi_administrasi").role == "panitia_seleksi"


def test_selection_is_cancelled_when_fewer_than_three_pass_the_administrative_check(
    session: Session, org: dict[str, User]
) -> None:
    inst, _ = open_registration(session, org)
    close_and_list(session, org, inst, APPLICANTS)
    submit(
        session,
        only_task(session, inst, "seleksi_administrasi"),
        org["panitia"],
        {"hasil_administrasi": "andi; MS\nbudi; MS\ncitra; TMS; Usia\ndewi; TMS; Pangkat"},
    )
    assert instance(session, inst).state == "completed"
    assert data_of(session, inst)["status_seleksi"] == "dibatalkan"


def test_a_shortlist_of_other_than_three_eligible_names_is_sent_back(
    session: Session, org: dict[str, User]
) -> None:
    inst, _ = open_registration(session, org)
    close_and_list(session, org, inst, APPLICANTS)
    run_stages(session, org, inst)
    submit(
        session, only_task(session, inst, "usulkan_calon"), org["panitia"], {"usulan": "andi\ndewi"}
    )
    only_task(session, inst, "usulkan_calon")
    assert data_of(session, inst)["kesalahan_usulan"] == (
        "Usulkan tepat 3 nama. Bukan peserta seleksi: dewi."
    )


def test_a_ppk_choice_outside_the_shortlist_is_refused(
    session: Session, org: dict[str, User]
) -> None:
    inst, _ = open_registration(session, org)
    close_and_list(session, org, inst, APPLICANTS)
    run_stages(session, org, inst)
    shortlist(session, org, inst)

    # dewi applied but is not on the shortlist: the task comes back with the reason.
    submit(session, only_task(session, inst, "pilih_pejabat"), org["ppk"], {"pilihan": "dewi"})
    again = only_task(session, inst, "pilih_pejabat")
    assert instance(session, inst).state == "running"
    assert data_of(session, inst)["kesalahan_pilihan"] == (
        "Pilihan harus salah satu dari: citra, budi, andi."
    )
    submit(session, again, org["ppk"], {"pilihan": "budi"})
    assert instance(session, inst).state == "completed"
    assert data_of(session, inst)["pejabat_terpilih"] == "budi"


def test_the_registration_deadline_follows_the_closing_date(
    session: Session, org: dict[str, User]
) -> None:
    inst, closes = open_registration(session, org)
    assert due_instances(session, utcnow()) == []
    submit(session, only_task(session, inst, "tutup_pendaftaran"), org["panitia"], {})
    # Closed early by the committee: no timer is left waiting.
    assert instance(session, inst).next_timer_at is None
    assert data_of(session, inst)["batas_pendaftaran"] == f"{closes.isoformat()}T23:59:59+07:00"
