"""Task forms: one WTForms class per user task, bound to its form key; plain WTForms, plain dicts.

Nothing here imports Flask, the engine or a database (tests/test_layering.py): a form turns a
submitted JSON object and uploaded files into clean task data, or into messages per field in
Indonesian (default) or English. ``validate(form_key, data, files, locale=..., fields=...)``
is the one call the engine's callers need.

Writing the forms of a process: one module per process, ``forms/<process>.py`` (it is found
and imported on the first lookup), one class per user task, registered under the task's
``formKey``. Field names are the task-data keys; texts go through the catalogue::

    from wtforms import TextAreaField
    from wtforms.validators import Length

    from forms import RequiredIf, TaskForm, YesNoField, labels, register
    from forms.i18n import lazy_gettext as _l

    @register("pelatihan.persetujuan_atasan")
    class PersetujuanAtasan(TaskForm):
        disetujui = YesNoField(labels.DECISION, yes_label=labels.APPROVE, no_label=labels.REJECT)
        alasan = TextAreaField(labels.REASON, [RequiredIf("disetujui", False), Length(max=2000)])
        catatan = TextAreaField(_l("Notes for the employee"), [Length(max=2000)])

Fields from `forms.fields`: `NikField`, `NipField`, `ScoreField` (``min=``, ``max=``),
`YesNoField`, `ChoiceField` (``choices={value: label}``), `DocumentField` (one per required
document: KTP, ijazah, …), `LinesField` (one item per line, as a list), and the
validators `DateAfter`, `RequiredIf`, `Nik`, `Nip`. Any WTForms field works too (pass
choices as a dict, not tuples: tuples are deprecated), with
``forms.fields.requirement(required)`` as its first validator. Checks across fields go in
``validate_form(self)`` (raise ``ValidationError``); checks that need stored records (quota,
an employee's rank) belong to the engine, not to a form.

Every new English msgid (``_l("…")``) needs an entry in both catalogues,
``forms/translations/{id,en}/LC_MESSAGES/jenjang.po``, or Indonesian pages show it in English
(tests/test_forms.py checks every module of forms/). To list a module's msgids:
``pybabel extract -k lazy_gettext -k _l -o /tmp/jenjang.pot forms``; to compile:
``pybabel -q compile -d forms/translations -D jenjang`` (the forms also compile a missing or
stale ``.mo`` themselves, on first use).
"""

from forms.base import FormResult, TaskForm
from forms.fields import (
    ChoiceField,
    DateAfter,
    DocumentField,
    Nik,
    NikField,
    Nip,
    NipField,
    RequiredIf,
    ScoreField,
    YesNoField,
)
from forms.i18n import DEFAULT_LOCALE, LOCALES, gettext, lazy_gettext
from forms.registry import form_class, register, registered_keys, validate
from forms.uploads import JPEG, MAX_DOCUMENT_BYTES, PDF, Upload

__all__ = [
    "DEFAULT_LOCALE",
    "JPEG",
    "LOCALES",
    "MAX_DOCUMENT_BYTES",
    "PDF",
    "ChoiceField",
    "DateAfter",
    "DocumentField",
    "FormResult",
    "Nik",
    "NikField",
    "Nip",
    "NipField",
    "RequiredIf",
    "ScoreField",
    "TaskForm",
    "Upload",
    "YesNoField",
    "form_class",
    "gettext",
    "lazy_gettext",
    "register",
    "registered_keys",
    "validate",
]
