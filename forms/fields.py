"""Fields and validators shared by the process forms, with messages from the catalogue.

Every field here takes ``required=True`` (``False`` makes it optional: an empty value skips
its checks). Validators leave empty values alone; whether a value must be given is the job
of ``required``, `RequiredIf` or WTForms' ``InputRequired``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup
from wtforms import Field, FileField, IntegerField, RadioField, SelectField, StringField
from wtforms.form import BaseForm
from wtforms.validators import (
    InputRequired,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import TextArea

from forms.i18n import lazy_gettext, localize
from forms.uploads import JPEG, KIND_NAMES, MAX_DOCUMENT_BYTES, PDF, Upload, sniff

REQUIRED = lazy_gettext("This field is required.")
YES = lazy_gettext("Yes")
NO = lazy_gettext("No")
_TRUE = frozenset({"true", "1", "ya", "y", "yes", "on"})
_FALSE = frozenset({"false", "0", "tidak", "no", "n", "off"})
# LinesField: how many lines by default, and how long each may be.
MAX_LINES = 500
MAX_LINE_LENGTH = 200


def requirement(required: bool) -> InputRequired | Optional:
    """The first validator of a field: a value must be given, or an empty value is fine."""
    return InputRequired(message=REQUIRED) if required else Optional()


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Digits:
    """The value is exactly `length` ASCII digits (Unicode digits such as ``٣`` are refused)."""

    def __init__(self, length: int, message: str) -> None:
        self.pattern = re.compile(rf"[0-9]{{{length}}}")
        self.message = message

    def __call__(self, form: BaseForm, field: Any) -> None:
        if _is_empty(field.data):
            return
        if not isinstance(field.data, str) or not self.pattern.fullmatch(field.data):
            raise ValidationError(localize(field, self.message))


class Nik(Digits):
    """A NIK (Nomor Induk Kependudukan): exactly 16 digits."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(16, message or lazy_gettext("NIK must be exactly 16 digits."))


class Nip(Digits):
    """A NIP (Nomor Induk Pegawai): exactly 18 digits."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(18, message or lazy_gettext("NIP must be exactly 18 digits."))


class DateAfter:
    """This date comes after the date in field `other` (or on it, with ``allow_equal``)."""

    def __init__(self, other: str, *, allow_equal: bool = False, message: str | None = None):
        self.other = other
        self.allow_equal = allow_equal
        self.message = message

    def __call__(self, form: BaseForm, field: Any) -> None:
        if self.other not in form:
            raise LookupError(f"DateAfter({self.other!r}): the form has no such field")
        other = form[self.other]
        if field.data is None or other.data is None:
            return
        if field.data > other.data or (self.allow_equal and field.data == other.data):
            return
        if self.message is not None:
            message = self.message
        elif self.allow_equal:
            message = lazy_gettext("Must not be earlier than %(other)s.")
        else:
            message = lazy_gettext("Must be later than %(other)s.")
        raise ValidationError(localize(field, message) % {"other": other.label.text})


class RequiredIf:
    """Required when field `other` holds `value` (a rejection needs its reason), else optional.

    ``RequiredIf("disetujui", False)`` or ``RequiredIf("keputusan", "tolak")``.
    """

    def __init__(self, other: str, value: object, message: str | None = None) -> None:
        self.other = other
        self.value = value
        self.message = message

    def __call__(self, form: BaseForm, field: Any) -> None:
        if self.other not in form:
            raise LookupError(f"RequiredIf({self.other!r}): the form has no such field")
        if not _is_empty(field.data):
            return
        if form[self.other].data == self.value:
            raise StopValidation(localize(field, self.message or REQUIRED))
        # Not needed now: like Optional, an empty value skips the checks after this one.
        field.errors[:] = []
        raise StopValidation()


class NikField(StringField):
    """A NIK: 16 digits."""

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        required: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, [requirement(required), Nik(), *validators], **kwargs)


class NipField(StringField):
    """A NIP: 18 digits."""

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        required: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, [requirement(required), Nip(), *validators], **kwargs)


class ScoreField(IntegerField):
    """A whole-number score from `min` to `max` inclusive.

    ``ScoreField(_l("TWK score"), min=0, max=150)``.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        min: int = 0,
        max: int = 100,
        required: bool = True,
        **kwargs: Any,
    ) -> None:
        checks = [requirement(required), NumberRange(min, max), *validators]
        super().__init__(label, checks, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Only plain digits: ``int()`` would also take ``"1_0"``, ``" 7"`` or Arabic digits."""
        if valuelist and not re.fullmatch(r"-?[0-9]{1,9}", str(valuelist[0])):
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)


def parse_bool(value: object) -> bool:
    """True/False from JSON booleans and the words a form or a person sends (ya/tidak, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


class YesNoField(RadioField):
    """A yes/no decision (``disetujui``) shown as two choices; stored as True or False.

    Unlike WTForms' ``BooleanField`` (a checkbox: anything but "false" is true), an
    unreadable answer is an error and a missing one is not taken as "no".
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        required: bool = True,
        yes_label: str = YES,
        no_label: str = NO,
        **kwargs: Any,
    ) -> None:
        choices = {"true": yes_label, "false": no_label}
        checks = [requirement(required), *validators]
        super().__init__(label, checks, coerce=parse_bool, choices=choices, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the first submitted value as yes or no."""
        if not valuelist:
            return
        try:
            self.data = parse_bool(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(self.gettext("Not a valid choice.")) from None

    def pre_validate(self, form: BaseForm) -> None:
        """Nothing to do: `process_formdata` accepted only yes or no."""


class ChoiceField(SelectField):
    """One of a fixed set of values: ``ChoiceField(_l("Decision"), choices={"setuju": ...})``.

    Pass choices as a dict of value to label; an empty optional field is no error.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        choices: Mapping[str, str],
        required: bool = True,
        **kwargs: Any,
    ) -> None:
        checks = [requirement(required), *validators]
        super().__init__(label, checks, choices=dict(choices), **kwargs)

    def pre_validate(self, form: BaseForm) -> None:
        """Check the value against the choices, once there is one."""
        if self.data is not None:
            super().pre_validate(form)


class DocumentCheck:
    """An upload is not empty, not larger than `max_bytes`, and its content is of `kinds`."""

    def __init__(self, max_bytes: int, kinds: Sequence[str]) -> None:
        self.max_bytes = max_bytes
        self.kinds = tuple(kinds)

    def __call__(self, form: BaseForm, field: Any) -> None:
        upload = field.data
        if upload is None:
            return
        if not isinstance(upload, Upload):
            raise StopValidation(localize(field, lazy_gettext("Send this document as a file.")))
        if not upload.content:
            raise StopValidation(localize(field, lazy_gettext("The file is empty.")))
        if upload.size > self.max_bytes:
            message = lazy_gettext("The file is larger than %(size)s MB.")
            raise StopValidation(localize(field, message) % {"size": megabytes(self.max_bytes)})
        if sniff(upload.content) not in self.kinds:
            message = lazy_gettext("The file must be a document of type %(kinds)s.")
            raise StopValidation(localize(field, message) % {"kinds": kind_names(self.kinds)})


def megabytes(size: int) -> str:
    """``2097152`` -> ``"2"``; ``1572864`` -> ``"1.5"``."""
    return f"{size / (1024 * 1024):g}"


def kind_names(kinds: Sequence[str]) -> str:
    """``("application/pdf", "image/jpeg")`` -> ``"PDF/JPEG"``."""
    return "/".join(KIND_NAMES.get(kind, kind) for kind in kinds)


class DocumentField(FileField):
    """One required document (KTP, ijazah, …), checked by its content: PDF or JPEG, ≤ 2 MB.

    Its data is an `Upload`; the task data gets `Upload.to_data` (name, type, size, sha256).
    ``kinds=(JPEG,)`` for a photo; ``max_bytes`` for another size limit.
    """

    takes_upload = True  # TaskForm reads this field from the uploaded files, not the data

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        required: bool = True,
        kinds: Sequence[str] = (PDF, JPEG),
        max_bytes: int = MAX_DOCUMENT_BYTES,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = [kind for kind in kinds if kind not in KIND_NAMES]
        if unknown or not kinds:
            raise ValueError(f"DocumentField kinds must be some of {sorted(KIND_NAMES)}")
        if description is None:
            description = lazy_gettext(
                "%(kinds)s, at most %(size)s MB.",
                kinds=kind_names(kinds),
                size=megabytes(max_bytes),
            )
        checks = [requirement(required), DocumentCheck(max_bytes, kinds), *validators]
        super().__init__(label, checks, description=description, **kwargs)


class LinesArea(TextArea):
    """A text area for a field that keeps a list or a dict rather than text."""

    def __call__(self, field: Any, **kwargs: object) -> Markup:
        """Render the field's text (`_value`) in a ``<textarea>``."""
        return super().__call__(field, **kwargs)


def duplicate(name: str) -> str:
    """The message for an item listed twice."""
    return lazy_gettext("%(name)s is listed more than once.", name=name)


def submitted_text(field: Any) -> str | None:
    """The text as submitted (to show it again after an error), if any."""
    raw = getattr(field, "raw_data", None)
    return str(raw[0]) if raw else None


class LinesField(Field):
    """Text with one item per line; its data is the list of non-empty lines, each stripped.

    An item may be listed once; ``required=False`` accepts an empty list.
    """

    widget = LinesArea()

    def __init__(
        self,
        label: str | None = None,
        validators: Sequence[Any] = (),
        *,
        required: bool = True,
        max_items: int = MAX_LINES,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, [requirement(required), *validators], default=list, **kwargs)
        self.max_items = max_items

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Split the submitted text into its non-empty lines."""
        if valuelist:
            self.data = [line.strip() for line in str(valuelist[0]).splitlines() if line.strip()]

    def _value(self) -> str:
        raw = submitted_text(self)
        return raw if raw is not None else "\n".join(self.data or [])

    def pre_validate(self, form: BaseForm) -> None:
        """At most `max_items` lines of at most MAX_LINE_LENGTH characters, none twice."""
        items: list[str] = self.data or []
        if len(items) > self.max_items:
            raise ValidationError(lazy_gettext("At most %(max)s lines.", max=self.max_items))
        seen: set[str] = set()
        for number, item in enumerate(items, start=1):
            if len(item) > MAX_LINE_LENGTH:
                raise ValidationError(lazy_gettext("Line %(line)s is too long.", line=number))
            if item in seen:
                raise ValidationError(duplicate(item))
            seen.add(item)
