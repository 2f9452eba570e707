"""Forms of the open selection for a senior post (`seleksi_jpt`, DOMAIN §5).

Lists of applicants and per-applicant results are text areas, one applicant per line, so a
form stays the same whatever the number of applicants. The forms check the format (names,
MS/TMS with a reason, scores in range, no applicant twice); what needs the instance's data —
every applicant scored, the shortlist drawn from those still in the selection and as long as
``jumlah_usulan``, the PPK's pick being one of the shortlist — is checked by script tasks in
the diagram, which send the task back with the reason (``kesalahan_*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from wtforms import DateField, Field, StringField, TextAreaField
from wtforms.validators import Length

from forms import DateAfter, TaskForm, labels, register
from forms.fields import LinesArea, LinesField, duplicate, requirement, submitted_text
from forms.i18n import lazy_gettext as _l

MAX_LINES = 500
MAX_NAME = 200
MAX_TEXT = 2000
SCORE_MIN, SCORE_MAX = 0, 100
SEPARATOR = ";"
NUMBER = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{1,2})?")


class ResultLinesField(Field):
    """One line per applicant, ``name; value[; more]``: parsed by `parse_line` into a dict.

    Subclasses say what a value is; the data is ``{name: parsed value}`` in the order given.
    """

    widget = LinesArea()

    def __init__(
        self, label: str | None = None, validators: Sequence[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(label, [requirement(True), *validators], **kwargs)

    def parse_line(self, parts: list[str], number: int) -> Any:
        """The value of one line's parts after the name; raise ValueError when unusable."""
        raise NotImplementedError

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse every line; the first unusable line becomes the field's error."""
        if not valuelist:
            return
        result: dict[str, Any] = {}
        lines = [line for line in str(valuelist[0]).splitlines() if line.strip()]
        if len(lines) > MAX_LINES:
            raise ValueError(_l("At most %(max)s lines.", max=MAX_LINES))
        for number, line in enumerate(lines, start=1):
            parts = [part.strip() for part in line.split(SEPARATOR)]
            name = parts[0]
            if not name or len(name) > MAX_NAME:
                raise ValueError(
                    _l("Line %(line)s: write the applicant's name first.", line=number)
                )
            if name in result:
                raise ValueError(duplicate(name))
            result[name] = self.parse_line(parts[1:], number)
        self.data = result

    def _value(self) -> str:
        raw = submitted_text(self)
        if raw is not None:
            return raw
        return "\n".join(self.format_line(name, value) for name, value in (self.data or {}).items())

    def format_line(self, name: str, value: Any) -> str:
        """One line of the text area for a stored value."""
        return f"{name}{SEPARATOR} {value}"


class AdministrationField(ResultLinesField):
    """``name; MS`` (eligible) or ``name; TMS; reason`` per applicant -> {status, alasan}."""

    def parse_line(self, parts: list[str], number: int) -> dict[str, Any]:
        """MS with no reason, or TMS with one."""
        status = parts[0].upper() if parts else ""
        reason = SEPARATOR.join(parts[1:]).strip()
        if status not in ("MS", "TMS"):
            raise ValueError(_l("Line %(line)s: write MS or TMS after the name.", line=number))
        if status == "TMS" and not reason:
            raise ValueError(_l("Line %(line)s: TMS needs a reason.", line=number))
        if len(reason) > MAX_TEXT:
            raise ValueError(_l("Line %(line)s is too long.", line=number))
        return {"status": status, "alasan": reason or None}

    def format_line(self, name: str, value: Any) -> str:
        """``name; TMS; reason`` or ``name; MS``."""
        parts = [name, value.get("status", "")]
        if value.get("alasan"):
            parts.append(value["alasan"])
        return f"{SEPARATOR} ".join(parts)


class ScoreLinesField(ResultLinesField):
    """``name; score`` per applicant, a score from SCORE_MIN to SCORE_MAX (two decimals at most)."""

    def parse_line(self, parts: list[str], number: int) -> int | float:
        """The score, a whole number where it has no fraction."""
        text = parts[0] if len(parts) == 1 else ""
        if not NUMBER.fullmatch(text):
            raise ValueError(_l("Line %(line)s: write one score after the name.", line=number))
        value = Decimal(text.replace(",", "."))
        if not SCORE_MIN <= value <= SCORE_MAX:
            raise ValueError(
                _l(
                    "Line %(line)s: the score must be from %(min)s to %(max)s.",
                    line=number,
                    min=SCORE_MIN,
                    max=SCORE_MAX,
                )
            )
        return int(value) if value == value.to_integral_value() else float(value)


SCORES_HELP = _l("One line per applicant: name; score (0-100).")


@register("seleksi_jpt.buka_pendaftaran")
class BukaPendaftaran(TaskForm):
    """The committee opens registration: the post and the registration window."""

    jabatan = StringField(_l("Post"), [requirement(True), Length(max=MAX_NAME)])
    tanggal_buka = DateField(_l("Registration opens"), [requirement(True)])
    tanggal_tutup = DateField(
        _l("Registration closes"), [requirement(True), DateAfter("tanggal_buka")]
    )


@register("seleksi_jpt.tutup_pendaftaran")
class TutupPendaftaran(TaskForm):
    """The committee closes registration before the closing date."""

    catatan_penutupan = TextAreaField(labels.NOTES, [Length(max=MAX_TEXT)])


@register("seleksi_jpt.catat_pelamar")
class CatatPelamar(TaskForm):
    """The applicants, one name or username per line (none is allowed: the selection stops)."""

    pelamar = LinesField(
        _l("Applicants"),
        required=False,
        description=_l("One applicant per line."),
    )


@register("seleksi_jpt.seleksi_administrasi")
class SeleksiAdministrasi(TaskForm):
    """The administrative check: MS or TMS (with a reason) for every applicant."""

    hasil_administrasi = AdministrationField(
        _l("Administrative check"),
        description=_l("One line per applicant: name; MS, or name; TMS; reason."),
    )


@register("seleksi_jpt.penulisan_makalah")
class PenulisanMakalah(TaskForm):
    """Scores of the written paper."""

    nilai_makalah = ScoreLinesField(_l("Written paper scores"), description=SCORES_HELP)


@register("seleksi_jpt.asesmen_kompetensi")
class AsesmenKompetensi(TaskForm):
    """Scores of the managerial and socio-cultural competency assessment."""

    nilai_kompetensi = ScoreLinesField(
        _l("Managerial and socio-cultural assessment scores"), description=SCORES_HELP
    )


@register("seleksi_jpt.presentasi_wawancara")
class PresentasiWawancara(TaskForm):
    """Scores of the presentation and interview."""

    nilai_wawancara = ScoreLinesField(
        _l("Presentation and interview scores"), description=SCORES_HELP
    )


@register("seleksi_jpt.rekam_jejak")
class RekamJejak(TaskForm):
    """Scores of the track record."""

    nilai_rekam_jejak = ScoreLinesField(_l("Track record scores"), description=SCORES_HELP)


@register("seleksi_jpt.usulkan_calon")
class UsulkanCalon(TaskForm):
    """The committee's shortlist for the PPK, one name per line."""

    usulan = LinesField(_l("Proposed candidates"), description=_l("One candidate per line."))
    pertimbangan = TextAreaField(_l("Considerations"), [Length(max=MAX_TEXT)])


@register("seleksi_jpt.pilih_pejabat")
class PilihPejabat(TaskForm):
    """The PPK's pick (the diagram checks that it is one of the shortlist)."""

    pilihan = StringField(_l("Chosen candidate"), [requirement(True), Length(max=MAX_NAME)])
    catatan = TextAreaField(labels.NOTES, [Length(max=MAX_TEXT)])
