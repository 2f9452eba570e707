"""What an applicant is told about an application: its stages, and which of them are news.

The stages come from the application's audit trail (engine.queries.instance_summary, or the
rows of engine.notifications): registration, the applicant's own submissions, the staff's
answers, the committee's announcements and deadlines. Results are read from the `Lamaran`
row only once the committee has announced them, so an applicant never learns a verification
result before everyone else. The stages marked `notify` are the in-app notifications.

The announcements are named by their BPMN message names and the staff's answers by their
form keys (the form registry's names), not by task ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.recruitment import Lamaran
from webui.taskpage import field_labels, show_value

ANNOUNCE_ADMIN, ANNOUNCE_SKD, ANNOUNCE_FINAL = (
    "pengumuman_administrasi",
    "pengumuman_skd",
    "pengumuman_akhir",
)
VERIFICATION = "lamaran.verifikasi_administrasi"
VERDICT = "memenuhi_syarat"


@dataclass(frozen=True)
class Answer:
    """A staff decision the applicant hears about: its yes/no field, its text, two outcomes."""

    decision: str
    text: str
    yes: Any
    no: Any


ANSWERS = {
    "lamaran.jawab_sanggah_administrasi": Answer(
        "sanggah_diterima",
        "jawaban_sanggah",
        _l("Objection accepted"),
        _l("Objection rejected"),
    ),
    "lamaran.jawab_sanggah_akhir": Answer(
        "sanggah_akhir_diterima",
        "jawaban_sanggah_akhir",
        _l("Objection accepted"),
        _l("Objection rejected"),
    ),
    "lamaran.verifikasi_pemberkasan": Answer(
        "pemberkasan_lengkap",
        "alasan_pemberkasan",
        _l("Documents complete"),
        _l("Documents sent back"),
    ),
    "lamaran.persetujuan_usul_nip": Answer(
        "usul_nip_disetujui",
        "alasan_usul_nip",
        _l("NIP proposal approved"),
        _l("NIP proposal sent back"),
    ),
}
STATUS = {
    "terdaftar": _l("Registered"),
    "ms": _l("Meets the requirements (MS)"),
    "tms": _l("Does not meet the requirements (TMS)"),
    "sanggah": _l("Objection filed"),
    "batal": _l("Cancelled: documents not uploaded in time"),
    "usul_nip": _l("NIP proposed"),
}
CHECKING = _l("Being checked")


@dataclass
class Stage:
    """One step of an application as the applicant sees it."""

    id: int
    at: datetime | None
    title: str
    outcome: str = ""
    good: bool | None = None  # True/False colours a result; None is neutral
    details: list[tuple[str, str]] = field(default_factory=list)
    notify: bool = False
    lamaran_id: int | None = None
    nomor_peserta: str = ""


@dataclass
class Event:
    """One audit row, reduced to what the stages need."""

    id: int
    at: datetime | None
    actor: str
    action: str
    element: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: Mapping[str, Any], ident: int = 0) -> Event:
        """From an `instance_summary` history entry (or an audit row's columns)."""
        at = row["at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        try:
            detail = json.loads(row.get("detail") or "{}")
        except ValueError:
            detail = {}
        element = row.get("element") or row.get("element_id")
        return cls(ident, at, row["actor"], row["action"], element, detail)


def _verdict_label(value: Any) -> str:
    return str(STATUS["ms"] if value is True else STATUS["tms"])


def _reasons(data: Mapping[str, Any], form_key: str) -> list[tuple[str, str]]:
    labels = field_labels(form_key)
    return [
        (labels.get(k, k), show_value(v))
        for k, v in data.items()
        if k != VERDICT and isinstance(v, str) and v.strip()
    ]


def _score(value: Any) -> str:
    return "—" if value is None else str(value)


def _announcement(name: str, row: Lamaran, verdict: Mapping[str, Any]) -> Stage | None:
    if name == ANNOUNCE_ADMIN:
        passed = verdict.get(VERDICT)
        stage = Stage(0, None, _("Administrative selection result"), _verdict_label(passed))
        stage.good = passed is True
        if passed is not True:
            stage.details = _reasons(verdict, VERIFICATION)
        return stage
    if name == ANNOUNCE_SKD:
        if row.masuk_skb:
            outcome, good = _("Passed SKD: continues to SKB"), True
        elif row.skd_lulus:
            outcome, good = _("Passed the SKD passing grade but not ranked into SKB"), False
        else:
            outcome, good = _("Did not pass SKD"), False
        details = [
            ("TWK", _score(row.twk)),
            ("TIU", _score(row.tiu)),
            ("TKP", _score(row.tkp)),
            (_("SKD total"), _score(row.skd_total)),
            (_("SKD ranking"), _score(row.peringkat_skd)),
        ]
        if row.skd_alasan and not row.skd_lulus:
            details.append((_("Reason"), row.skd_alasan))
        return Stage(0, None, _("SKD result"), outcome, good, details)
    if name == ANNOUNCE_FINAL:
        passed = row.lulus_akhir is True
        outcome = _("Passed the selection") if passed else _("Did not pass the selection")
        details = [
            (_("SKB score"), _score(row.skb_nilai)),
            (_("Final score"), _score(row.nilai_akhir)),
            (_("Final ranking"), _score(row.peringkat_akhir)),
        ]
        return Stage(0, None, _("Final selection result"), outcome, passed, details)
    return None


def stages(
    events: Iterable[Event], task_meta: Mapping[str, Any], row: Lamaran, applicant: str
) -> list[Stage]:
    """The application's stages, oldest first (results only once announced)."""
    found: list[Stage] = []
    verdict: dict[str, Any] = {}  # the verifier's last decision, told at the announcement
    for event in events:
        meta = task_meta.get(event.element or "", {})
        name = str(meta.get("name") or event.element or "")
        stage: Stage | None = None
        if event.action == "started":
            stage = Stage(0, None, _("Registered"))
            stage.details = [(_("Registration number"), row.nomor_peserta)]
        elif event.action == "completed":
            form_key = str(meta.get("form_key") or "")
            data = event.detail.get("data") or {}
            answer = ANSWERS.get(form_key)
            if form_key == VERIFICATION:
                verdict = dict(data)
                stage = Stage(0, None, name, _("Checked; the result will be announced"))
            elif answer is not None:
                decided = data.get(answer.decision) is True
                stage = Stage(0, None, name, str(answer.yes if decided else answer.no), decided)
                if data.get(answer.text):
                    stage.details = [(_("Explanation"), show_value(data[answer.text]))]
                stage.notify = True
            elif event.actor == applicant:
                stage = Stage(0, None, name, _("Sent"))
            else:
                stage = Stage(0, None, name, _("Done"))
        elif event.action == "message":
            stage = _announcement(str(event.detail.get("name") or ""), row, verdict)
            if stage is not None:
                stage.notify = True
        elif event.action == "timer":
            stage = Stage(0, None, _("A deadline has passed"))
        elif event.action == "cancelled":
            stage = Stage(0, None, _("Cancelled by the administrator"), good=False, notify=True)
            stage.details = [(_("Reason"), str(event.detail.get("reason") or ""))]
        if stage is not None:
            stage.id, stage.at = event.id, event.at
            stage.lamaran_id, stage.nomor_peserta = row.id, row.nomor_peserta
            found.append(stage)
    return found


def announced_status(row: Lamaran, found: Iterable[Stage]) -> str:
    """The application's state as the applicant may know it (a verdict once announced)."""
    announced = any(s.notify for s in found)
    if row.status in ("ms", "tms", "sanggah") and not announced:
        return str(CHECKING)
    return str(STATUS.get(row.status, row.status))
