"""Forms of CASN recruitment: the selection of a formasi (`seleksi_formasi`) and an application
(`lamaran`), DOMAIN §1.

What needs stored records — a NIK applying once, the open registration period, a score file's
NIKs and ranges, the ranking — is checked by the engine's services (engine/recruitment.py);
these forms check what a submission alone shows: documents by their content, a score file's
encoding and columns, a TMS or a rejection with its reason. Task data is one flat namespace
per instance, so each decision and reason has its own name (``sanggah_diterima``,
``jawaban_sanggah``, ``pemberkasan_lengkap``, …). Document names (KTP, ijazah, …) are the
Indonesian terms in every language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wtforms import DateField, FileField, TextAreaField
from wtforms.form import BaseForm
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from forms import JPEG, DateAfter, DocumentField, RequiredIf, TaskForm, YesNoField, labels, register
from forms.fields import megabytes, requirement
from forms.i18n import lazy_gettext as _l
from forms.i18n import localize
from forms.uploads import Upload

MAX_TEXT = 2000
# A score file goes into the task data as text, and task data is capped at 1 MB per instance
# (engine.runtime.MAX_DATA_BYTES) with both files in it: 400 KB is ~10,000 SKD rows.
MAX_CSV_BYTES = 400 * 1024
SKD_COLUMNS = (("NIK",), ("TWK",), ("TIU",), ("TKP",))
SKB_COLUMNS = (("NIK",), ("NILAI", "SKB"))
MS_TMS = {
    "yes": _l("Meets the requirements (MS)"),
    "no": _l("Does not meet the requirements (TMS)"),
}
# The documents the verifier may reject, each with its own reason field (the diagram passes
# them to the engine as one dict).
DOCUMENT_REASONS = {
    "alasan_ktp": "KTP",
    "alasan_ijazah": "Ijazah",
    "alasan_transkrip": "Transkrip nilai",
    "alasan_pas_foto": "Pas foto",
    "alasan_dokumen_tambahan": _l("Additional documents"),
    "alasan_lainnya": _l("Other requirements"),
}


def _text(
    label: str, *validators: Any, required: bool | None = False, **kwargs: Any
) -> TextAreaField:
    """A text of at most MAX_TEXT; `required` None leaves it to the validators (`RequiredIf`)."""
    first = [] if required is None else [requirement(required)]
    return TextAreaField(label, [*first, *validators, Length(max=MAX_TEXT)], **kwargs)


# -- score files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvUpload(Upload):
    """An uploaded score file; its task data also carries the text (``isi``) for the engine."""

    def to_data(self) -> dict[str, object]:
        """The description of the file and its text, without a byte order mark."""
        return {**super().to_data(), "isi": self.content.decode("utf-8-sig")}


def header_names(first_line: str) -> set[str]:
    """The column names of a header line separated by ';' or ',' (Excel writes both)."""
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    return {cell.strip().strip('"').upper() for cell in first_line.split(delimiter)}


class CsvCheck:
    """A score file: UTF-8 text, at most `max_bytes`, its first line naming the columns."""

    def __init__(self, columns: Sequence[Sequence[str]], max_bytes: int) -> None:
        self.columns = columns
        self.max_bytes = max_bytes

    def __call__(self, form: BaseForm, field: Any) -> None:
        upload = field.data
        if upload is None:
            return
        if not isinstance(upload, Upload):
            raise StopValidation(localize(field, _l("Send this document as a file.")))
        if not upload.content.strip():
            raise StopValidation(localize(field, _l("The file is empty.")))
        if upload.size > self.max_bytes:
            message = _l("The file is larger than %(size)s MB.")
            raise StopValidation(localize(field, message) % {"size": megabytes(self.max_bytes)})
        try:
            text = upload.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise StopValidation(
                localize(field, _l("The file must be CSV text in UTF-8."))
            ) from None
        names = header_names(text.lstrip().splitlines()[0])
        missing = [" / ".join(alt) for alt in self.columns if not names & set(alt)]
        if missing:
            message = _l("The first line must name the columns %(names)s.")
            raise StopValidation(localize(field, message) % {"names": ", ".join(missing)})


class CsvFileField(FileField):
    """A score file from the test centre (CSV, UTF-8); see `CsvCheck`."""

    takes_upload = True

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        columns: Sequence[Sequence[str]],
        max_bytes: int = MAX_CSV_BYTES,
        **kwargs: Any,
    ) -> None:
        checks = [requirement(True), CsvCheck(columns, max_bytes), *validators]
        super().__init__(label, checks, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Keep the upload as a `CsvUpload`, so the task data gets its text."""
        super().process_formdata(valuelist)
        if isinstance(self.data, Upload):
            self.data = CsvUpload(self.data.filename, self.data.content)


def _columns(columns: Sequence[Sequence[str]]) -> str:
    return ", ".join(" / ".join(alt) for alt in columns)


# -- seleksi_formasi -------------------------------------------------------------------------


@register("seleksi_formasi.tetapkan_jadwal")
class TetapkanJadwal(TaskForm):
    """The committee sets the registration period (whole days, the agency's time zone)."""

    dibuka = DateField(_l("Registration opens"), [InputRequired()])
    ditutup = DateField(
        _l("Registration closes"), [InputRequired(), DateAfter("dibuka", allow_equal=True)]
    )


@register("seleksi_formasi.umumkan_administrasi")
class UmumkanAdministrasi(TaskForm):
    """The committee announces the administrative results (once every application is checked)."""

    catatan_pengumuman = _text(labels.NOTES)


@register("seleksi_formasi.unggah_nilai_skd")
class UnggahNilaiSkd(TaskForm):
    """The committee uploads the SKD scores from the test centre."""

    berkas_skd = CsvFileField(
        _l("SKD score file (CSV)"),
        columns=SKD_COLUMNS,
        description=_l(
            "One row per applicant; columns %(columns)s (also NAMA, NOMOR_PESERTA, TOTAL).",
            columns=_columns(SKD_COLUMNS),
        ),
    )


@register("seleksi_formasi.unggah_nilai_skb")
class UnggahNilaiSkb(TaskForm):
    """The committee uploads the SKB scores."""

    berkas_skb = CsvFileField(
        _l("SKB score file (CSV)"),
        columns=SKB_COLUMNS,
        description=_l(
            "One row per applicant; columns %(columns)s (also NAMA, NOMOR_PESERTA).",
            columns=_columns(SKB_COLUMNS),
        ),
    )


@register("seleksi_formasi.persetujuan_hasil")
class PersetujuanHasil(TaskForm):
    """The PPK approves the final ranking, or sends it back with a reason."""

    hasil_disetujui = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT)
    alasan_hasil = _text(labels.REASON, RequiredIf("hasil_disetujui", False), required=None)


# -- lamaran ---------------------------------------------------------------------------------


@register("lamaran.unggah_dokumen")
class UnggahDokumen(TaskForm):
    """The applicant uploads the documents every formasi requires, and the formasi's own."""

    ktp = DocumentField("KTP")
    ijazah = DocumentField("Ijazah")
    transkrip = DocumentField("Transkrip nilai")
    pas_foto = DocumentField("Pas foto", kinds=(JPEG,))
    dokumen_tambahan = DocumentField(
        _l("Additional documents"),
        required=False,
        description=_l("The documents this formasi also requires, in one PDF."),
    )


@register("lamaran.verifikasi_administrasi")
class VerifikasiAdministrasi(TaskForm):
    """The verifier finds the application MS, or TMS with a reason for each rejected document."""

    memenuhi_syarat = YesNoField(
        _l("Verification result"), yes_label=MS_TMS["yes"], no_label=MS_TMS["no"]
    )
    alasan_ktp = _text(DOCUMENT_REASONS["alasan_ktp"], description=labels.REASON)
    alasan_ijazah = _text(DOCUMENT_REASONS["alasan_ijazah"], description=labels.REASON)
    alasan_transkrip = _text(DOCUMENT_REASONS["alasan_transkrip"], description=labels.REASON)
    alasan_pas_foto = _text(DOCUMENT_REASONS["alasan_pas_foto"], description=labels.REASON)
    alasan_dokumen_tambahan = _text(
        DOCUMENT_REASONS["alasan_dokumen_tambahan"], description=labels.REASON
    )
    alasan_lainnya = _text(DOCUMENT_REASONS["alasan_lainnya"], description=labels.REASON)

    def validate_form(self) -> None:
        """TMS needs at least one reason; MS has none (a reason would say it is not met)."""
        given = [name for name in DOCUMENT_REASONS if (self[name].data or "").strip()]
        if self.memenuhi_syarat.data is False and not given:
            raise ValidationError(_l("TMS needs a reason for at least one document."))
        if self.memenuhi_syarat.data is True and given:
            raise ValidationError(_l("MS cannot have reasons for rejected documents."))


def _objection(decision: str) -> tuple[YesNoField, TextAreaField]:
    return (
        YesNoField(_l("File an objection?")),
        _text(
            _l("Objection"),
            RequiredIf(decision, True),
            required=None,
            description=_l("An objection cannot correct your own mistakes in your entries."),
        ),
    )


def _answer() -> tuple[YesNoField, TextAreaField]:
    return (
        YesNoField(labels.DECISION, yes_label=_l("Accept"), no_label=labels.REJECT),
        _text(_l("Answer to the objection"), required=True),
    )


@register("lamaran.sanggah_administrasi")
class SanggahAdministrasi(TaskForm):
    """A TMS applicant may object within the objection period."""

    ajukan_sanggah, alasan_sanggah = _objection("ajukan_sanggah")


@register("lamaran.jawab_sanggah_administrasi")
class JawabSanggahAdministrasi(TaskForm):
    """The committee accepts the objection (MS) or rejects it (stays TMS), with its answer."""

    sanggah_diterima, jawaban_sanggah = _answer()


@register("lamaran.sanggah_hasil_akhir")
class SanggahHasilAkhir(TaskForm):
    """Any applicant in the final ranking may object to it within the objection period."""

    ajukan_sanggah_akhir, alasan_sanggah_akhir = _objection("ajukan_sanggah_akhir")


@register("lamaran.jawab_sanggah_akhir")
class JawabSanggahAkhir(TaskForm):
    """The committee answers an objection to the final result."""

    sanggah_akhir_diterima, jawaban_sanggah_akhir = _answer()


@register("lamaran.dokumen_pemberkasan")
class DokumenPemberkasan(TaskForm):
    """A passing applicant submits the appointment documents."""

    drh = DocumentField("Daftar Riwayat Hidup (DRH)")
    surat_pernyataan = DocumentField(
        _l("Signed statements"), description=_l("The statement letters the agency requires.")
    )
    dokumen_pendukung = DocumentField(_l("Supporting documents"), required=False)


@register("lamaran.verifikasi_pemberkasan")
class VerifikasiPemberkasan(TaskForm):
    """The verifier checks the appointment documents; incomplete ones go back with a reason."""

    pemberkasan_lengkap = YesNoField(
        _l("Documents complete?"), yes_label=labels.APPROVE, no_label=_l("Send back")
    )
    alasan_pemberkasan = _text(
        labels.REASON, RequiredIf("pemberkasan_lengkap", False), required=None
    )


@register("lamaran.persetujuan_usul_nip")
class PersetujuanUsulNip(TaskForm):
    """The PPK approves the NIP proposal, or sends the documents back with a reason."""

    usul_nip_disetujui = YesNoField(
        labels.DECISION, yes_label=labels.APPROVE, no_label=_l("Send back")
    )
    alasan_usul_nip = _text(labels.REASON, RequiredIf("usul_nip_disetujui", False), required=None)
