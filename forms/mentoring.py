"""Forms of coaching and mentoring (`mentoring`, DOMAIN §3).

Whether a mentor is senior enough (a higher rank than the mentee, not the mentee's
subordinate) needs employee records, so the diagram checks it after the assignment (a service
task reads both ranks); these forms check what a submission alone shows.
"""

from __future__ import annotations

import datetime
from typing import Any

from wtforms import DateField, StringField, TextAreaField
from wtforms.form import BaseForm
from wtforms.validators import Length, Regexp, ValidationError

from forms import RequiredIf, ScoreField, TaskForm, YesNoField, labels, register
from forms.fields import LinesField, requirement
from forms.i18n import lazy_gettext as _l

MAX_TEXT = 4000
MAX_GOALS = 20
# The engine's username rule (engine/users.py); forms may not import the engine.
USERNAME = Regexp(
    r"^[a-z0-9][a-z0-9._-]{0,63}$",
    message=_l("Use the username: lowercase letters, digits, '.', '_' or '-'."),
)
# Progress and achievement are rated on the 1-5 scale of the agency's other evaluations.
RATING_MIN, RATING_MAX = 1, 5
# A session is recorded after it took place; one day of slack because the server runs on UTC
# while the agency's day (WIB to WIT) starts up to nine hours earlier.
FUTURE_SLACK = datetime.timedelta(days=1)


def _notes(label: str, required: bool = False) -> TextAreaField:
    return TextAreaField(label, [requirement(required), Length(max=MAX_TEXT)])


def _rating(label: str) -> ScoreField:
    return ScoreField(label, min=RATING_MIN, max=RATING_MAX)


class NotInFuture:
    """The date is not later than tomorrow (UTC): it records something that happened."""

    def __call__(self, form: BaseForm, field: Any) -> None:
        if field.data is None:
            return
        if field.data > datetime.datetime.now(datetime.UTC).date() + FUTURE_SLACK:
            raise ValidationError(_l("The date must not be in the future."))


@register("mentoring.pilih_mentor")
class PilihMentor(TaskForm):
    """Admin BKPSDM names a mentor (and the mentee, when the request has none)."""

    mentor = StringField(_l("Mentor (username)"), [requirement(True), USERNAME])
    mentee = StringField(
        _l("Mentee (username)"),
        [requirement(False), USERNAME],
        description=_l("Only when the request names no mentee; empty keeps the current one."),
    )
    catatan_admin = _notes(labels.NOTES)

    def validate_form(self) -> None:
        """The mentor is someone other than the mentee named here."""
        if self.mentee.data and self.mentee.data == self.mentor.data:
            raise ValidationError(_l("The mentor must not be the mentee."))

    def to_data(self) -> dict[str, Any]:
        """Leave the instance's mentee as it is when none was given."""
        data = super().to_data()
        if not data.get("mentee"):
            del data["mentee"]
        return data


@register("mentoring.tanggapi_permintaan")
class TanggapiPermintaan(TaskForm):
    """The mentor accepts, or declines with a reason."""

    bersedia = YesNoField(labels.DECISION, yes_label=_l("Accept"), no_label=_l("Decline"))
    alasan = TextAreaField(labels.REASON, [RequiredIf("bersedia", False), Length(max=MAX_TEXT)])


@register("mentoring.susun_sasaran")
class SusunSasaran(TaskForm):
    """The mentee drafts the goals: items of an individual development plan."""

    sasaran = LinesField(
        _l("Development goals"),
        max_items=MAX_GOALS,
        description=_l("One goal of your individual development plan per line."),
    )
    target_selesai = DateField(_l("Target date"), [requirement(False)])


@register("mentoring.setujui_sasaran")
class SetujuiSasaran(TaskForm):
    """The mentor agrees to the goals, or sends them back with a reason."""

    sasaran_disetujui = YesNoField(
        labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT
    )
    alasan = TextAreaField(
        labels.REASON, [RequiredIf("sasaran_disetujui", False), Length(max=MAX_TEXT)]
    )


@register("mentoring.catat_sesi")
class CatatSesi(TaskForm):
    """The mentor records a session and says whether more sessions follow."""

    tanggal_sesi = DateField(_l("Session date"), [requirement(True), NotInFuture()])
    topik_sesi = StringField(_l("Topic"), [requirement(True), Length(max=200)])
    catatan_sesi = _notes(labels.NOTES, required=True)
    sesi_lagi = YesNoField(_l("More sessions before the next evaluation?"))


@register("mentoring.tindak_lanjut_pengingat")
class TindakLanjutPengingat(TaskForm):
    """After 30 days without a session: the mentor plans the next one."""

    rencana_sesi = DateField(_l("Planned session date"), [requirement(True)])
    catatan_pengingat = _notes(labels.NOTES)


@register("mentoring.evaluasi_tengah_mentor")
class EvaluasiTengahMentor(TaskForm):
    """The mentor's mid-term evaluation."""

    kemajuan_tengah_mentor = _rating(_l("Progress towards the goals (1-5)"))
    catatan_tengah_mentor = _notes(labels.NOTES, required=True)


@register("mentoring.evaluasi_tengah_mentee")
class EvaluasiTengahMentee(TaskForm):
    """The mentee's mid-term evaluation."""

    kemajuan_tengah_mentee = _rating(_l("Progress towards the goals (1-5)"))
    catatan_tengah_mentee = _notes(labels.NOTES, required=True)


@register("mentoring.evaluasi_akhir_mentor")
class EvaluasiAkhirMentor(TaskForm):
    """The mentor's final evaluation."""

    capaian_akhir_mentor = _rating(_l("Goals achieved (1-5)"))
    catatan_akhir_mentor = _notes(labels.NOTES, required=True)
    rekomendasi = _notes(_l("Recommendation for further development"))


@register("mentoring.evaluasi_akhir_mentee")
class EvaluasiAkhirMentee(TaskForm):
    """The mentee's final evaluation."""

    capaian_akhir_mentee = _rating(_l("Goals achieved (1-5)"))
    catatan_akhir_mentee = _notes(labels.NOTES, required=True)


@register("mentoring.pengesahan_atasan")
class PengesahanAtasan(TaskForm):
    """The mentee's supervisor signs the mentoring off."""

    catatan_atasan = _notes(labels.NOTES)
