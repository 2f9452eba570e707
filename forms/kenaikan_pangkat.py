"""Forms of the rank promotion (`kenaikan_pangkat`, DOMAIN §5).

Eligibility is not asked here: the `kelayakan_kenaikan_pangkat` decision reads the employee
record. These forms take the proposal's documents, the Verifikator's MS/TMS, the PPK's
decision, BKN's technical approval (its number, date and the TMT of the new rank) and the
decree. Every refusal carries its reason (``alasan``).
"""

from __future__ import annotations

from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import Length

from forms import (
    PDF,
    ChoiceField,
    DocumentField,
    RequiredIf,
    TaskForm,
    YesNoField,
    labels,
    register,
)
from forms.fields import requirement
from forms.i18n import lazy_gettext as _l

MAX_TEXT = 2000
MAX_NUMBER = 100


@register("kenaikan_pangkat.informasi_tidak_layak")
class InformasiTidakLayak(TaskForm):
    """The Atasan reads why the employee is not eligible; completing it closes the case."""

    catatan = TextAreaField(labels.NOTES, [requirement(False), Length(max=MAX_TEXT)])


@register("kenaikan_pangkat.usulkan_kenaikan")
class UsulkanKenaikan(TaskForm):
    """The Atasan proposes the promotion with its documents (PDF or JPEG, at most 2 MB)."""

    sk_pangkat_terakhir = DocumentField(_l("Decree of the current rank (SK pangkat terakhir)"))
    skp_tahun_lalu = DocumentField(_l("Performance appraisal (SKP) of last year"))
    skp_dua_tahun_lalu = DocumentField(_l("Performance appraisal (SKP) of two years ago"))
    catatan = TextAreaField(labels.NOTES, [requirement(False), Length(max=MAX_TEXT)])


@register("kenaikan_pangkat.verifikasi_berkas")
class VerifikasiBerkas(TaskForm):
    """The Verifikator checks the documents: MS, or TMS with the reason (back to the Atasan)."""

    hasil_verifikasi = ChoiceField(
        _l("Verification result"),
        choices={
            "MS": _l("Meets the requirements (MS)"),
            "TMS": _l("Does not meet the requirements (TMS)"),
        },
    )
    alasan = TextAreaField(
        labels.REASON, [RequiredIf("hasil_verifikasi", "TMS"), Length(max=MAX_TEXT)]
    )


@register("kenaikan_pangkat.persetujuan_ppk")
class PersetujuanPpk(TaskForm):
    """The PPK approves the proposal or rejects it with the reason."""

    disetujui_ppk = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT)
    alasan = TextAreaField(
        labels.REASON, [RequiredIf("disetujui_ppk", False), Length(max=MAX_TEXT)]
    )


@register("kenaikan_pangkat.catat_pertimbangan_bkn")
class CatatPertimbanganBkn(TaskForm):
    """Admin BKPSDM records BKN's technical consideration (pertek) as BKN answered it."""

    disetujui_bkn = YesNoField(
        _l("BKN's technical approval"), yes_label=labels.APPROVED, no_label=_l("Not approved")
    )
    nomor_pertek = StringField(
        _l("Number of BKN's technical consideration"),
        [requirement(True), Length(max=MAX_NUMBER)],
    )
    tanggal_pertek = DateField(_l("Date of BKN's technical consideration"), [requirement(True)])
    tmt = DateField(_l("Effective date of the new rank (TMT)"), [RequiredIf("disetujui_bkn", True)])
    alasan = TextAreaField(
        labels.REASON, [RequiredIf("disetujui_bkn", False), Length(max=MAX_TEXT)]
    )


@register("kenaikan_pangkat.terbitkan_sk")
class TerbitkanSk(TaskForm):
    """Admin BKPSDM records the signed promotion decree (SK); the new rank is then recorded."""

    nomor_sk = StringField(_l("Decree number"), [requirement(True), Length(max=MAX_NUMBER)])
    tanggal_sk = DateField(_l("Decree date"), [requirement(True)])
    dokumen_sk = DocumentField(_l("Signed decree"), kinds=(PDF,))
