"""Forms of training enrolment (`pelatihan`, DOMAIN §2).

Whether the training exists, has seats left and fits the budget needs stored records: the
diagram asks the engine (services `catat_pendaftaran`, `info_pelatihan` and the
`keputusan_pelatihan` decision). These forms check what a submission alone shows.

The employee's motivation is ``motivasi``, not ``alasan``: task data is one flat namespace, and
``alasan`` is the supervisor's reason (and later the decision table's).
"""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from forms import ChoiceField, RequiredIf, ScoreField, TaskForm, YesNoField, labels, register
from forms.fields import requirement
from forms.i18n import lazy_gettext as _l

MAX_TEXT = 2000
# The catalogue's code column (engine/hr.py Training.kode) holds at most 32 characters.
MAX_CODE = 32
# Feedback uses the 1-5 scale of the agency's other evaluations (DOMAIN §2).
RATING_MIN, RATING_MAX = 1, 5
ATTENDANCE = {"hadir": _l("Attended"), "tidak_hadir": _l("Did not attend")}
RATING_HELP = _l("1 = very poor, 5 = very good.")


def _rating(label: str) -> ScoreField:
    return ScoreField(label, min=RATING_MIN, max=RATING_MAX, description=RATING_HELP)


@register("pelatihan.ajukan_pelatihan")
class AjukanPelatihan(TaskForm):
    """The employee picks a training from the catalogue and says why."""

    kode = StringField(
        _l("Training code"),
        [requirement(True), Length(max=MAX_CODE)],
        description=_l("The code of the training in the catalogue."),
    )
    motivasi = TextAreaField(
        _l("Motivation"),
        [requirement(True), Length(max=MAX_TEXT)],
        description=_l("Why this training, and how it helps your work."),
    )


@register("pelatihan.persetujuan_atasan")
class PersetujuanAtasan(TaskForm):
    """The direct supervisor approves the request, or rejects it with a reason."""

    disetujui = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT)
    alasan = TextAreaField(labels.REASON, [RequiredIf("disetujui", False), Length(max=MAX_TEXT)])


@register("pelatihan.catat_kehadiran")
class CatatKehadiran(TaskForm):
    """Admin BKPSDM records whether the participant attended."""

    kehadiran = ChoiceField(_l("Attendance"), choices=ATTENDANCE)
    catatan_kehadiran = TextAreaField(labels.NOTES, [requirement(False), Length(max=MAX_TEXT)])


@register("pelatihan.isi_umpan_balik")
class IsiUmpanBalik(TaskForm):
    """The participant rates the material, the method and the trainer, and comments."""

    nilai_materi = _rating(_l("Material (1-5)"))
    nilai_metode = _rating(_l("Method (1-5)"))
    nilai_pengajar = _rating(_l("Trainer (1-5)"))
    komentar = TextAreaField(_l("Comments"), [requirement(False), Length(max=MAX_TEXT)])
