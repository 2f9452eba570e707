"""Forms of the performance appraisal (SKP, `penilaian_kinerja`, DOMAIN §4).

The plan is a text area with one target per line; its task data is the list of targets. The
annual rating takes the two ratings the `predikat_kinerja` decision reads (``hasil_kerja`` and
``perilaku``: diatas, sesuai or dibawah); the predicate itself comes from the decision, never
from a form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from wtforms import Field, TextAreaField
from wtforms.form import BaseForm
from wtforms.validators import Length, ValidationError
from wtforms.widgets import TextArea

from forms import ChoiceField, RequiredIf, TaskForm, YesNoField, labels, register
from forms.fields import requirement
from forms.i18n import lazy_gettext as _l

MAX_TARGETS = 20
MAX_TARGET_LENGTH = 500
MAX_TEXT = 2000
RATINGS = {
    "diatas": _l("Above expectations"),
    "sesuai": _l("Meets expectations"),
    "dibawah": _l("Below expectations"),
}


class TargetsArea(TextArea):
    """A text area for a field that keeps a list rather than text."""

    def __call__(self, field: Any, **kwargs: object) -> Markup:
        """Render the field's text (`_value`) in a ``<textarea>``."""
        return super().__call__(field, **kwargs)


class TargetsField(Field):
    """Targets, one per line (a text area); its data is the list of non-empty lines, stripped."""

    widget = TargetsArea()

    def __init__(
        self, label: str | None = None, validators: Sequence[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(label, [requirement(True), *validators], default=list, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Split the submitted text into its non-empty lines."""
        if valuelist:
            self.data = [line.strip() for line in str(valuelist[0]).splitlines() if line.strip()]

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "\n".join(self.data or [])

    def pre_validate(self, form: BaseForm) -> None:
        """At most MAX_TARGETS lines of at most MAX_TARGET_LENGTH characters."""
        targets = self.data or []
        if len(targets) > MAX_TARGETS:
            raise ValidationError(_l("At most %(max)s lines.", max=MAX_TARGETS))
        for number, target in enumerate(targets, start=1):
            if len(target) > MAX_TARGET_LENGTH:
                raise ValidationError(_l("Line %(line)s is too long.", line=number))


@register("penilaian_kinerja.susun_rencana")
class SusunRencana(TaskForm):
    """The employee drafts (or revises) the year's performance targets."""

    target = TargetsField(
        _l("Performance targets"),
        description=_l("One target per line: what, how much, by when."),
    )


@register("penilaian_kinerja.setujui_rencana")
class SetujuiRencana(TaskForm):
    """The Atasan agrees the plan, or sends it back with the reason."""

    disetujui = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=_l("Send back"))
    alasan = TextAreaField(labels.REASON, [RequiredIf("disetujui", False), Length(max=MAX_TEXT)])


@register("penilaian_kinerja.evaluasi_periodik")
class EvaluasiPeriodik(TaskForm):
    """The Atasan's quarterly evaluation: progress against the targets, and any follow-up."""

    capaian = TextAreaField(
        _l("Progress against the targets"), [requirement(True), Length(max=MAX_TEXT)]
    )
    tindak_lanjut = TextAreaField(_l("Follow-up"), [requirement(False), Length(max=MAX_TEXT)])


@register("penilaian_kinerja.penilaian_tahunan")
class PenilaianTahunan(TaskForm):
    """The Atasan's annual rating of results and behaviour (the seven BerAKHLAK values)."""

    hasil_kerja = ChoiceField(_l("Work results"), choices=RATINGS)
    perilaku = ChoiceField(_l("Work behaviour (BerAKHLAK)"), choices=RATINGS)
    catatan = TextAreaField(labels.NOTES, [requirement(False), Length(max=MAX_TEXT)])


@register("penilaian_kinerja.terima_predikat")
class TerimaPredikat(TaskForm):
    """The employee has seen the predicate; completing the task is the acknowledgement."""

    tanggapan = TextAreaField(_l("Your response"), [requirement(False), Length(max=MAX_TEXT)])
