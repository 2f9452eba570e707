"""`TaskForm`: a plain WTForms form fed with a task's submitted JSON and files.

No Flask here: the web layer adds CSRF by subclassing (its Meta sets ``csrf``); the API and
the CLI use the form as it is. The form's answer is plain task data (`TaskForm.to_data`) and
per-field messages in its locale (`TaskForm.error_messages`).
"""

from __future__ import annotations

import datetime
import gettext
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, is_dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar

from wtforms import Form, SelectField, SelectMultipleField
from wtforms.form import BaseForm
from wtforms.validators import ValidationError

from forms.i18n import DEFAULT_LOCALE, lazy_gettext, localize, normalize_locale, translations
from forms.uploads import Upload

FORM_ERRORS = "_form"
INVALID_INPUT = lazy_gettext("Invalid input.")
NOT_AN_OBJECT = lazy_gettext("Expected an object of field names and values.")
Files = Mapping[str, tuple[str, bytes]]


@dataclass(frozen=True)
class FormResult:
    """The outcome of validating a submission: clean task data, or messages per field."""

    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


class SubmittedValues:
    """Submitted values in the multi-dict shape WTForms reads (``getlist``), all as strings.

    JSON types become what an HTML form would send (``true`` -> ``"true"``, ``7`` -> ``"7"``),
    so each field parses and reports them the same way whatever the client; strings are
    stripped, and empty strings and nulls count as not given.
    """

    def __init__(self, values: Mapping[str, list[Any]]) -> None:
        self._values = dict(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def getlist(self, key: str) -> list[Any]:
        """The values given for `key` (empty when none)."""
        return list(self._values.get(key, []))


def _as_text(value: Any) -> str | None:
    """One submitted scalar as a form would send it; None when empty; ValueError if not a scalar."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not a finite number")
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip() or None
    raise ValueError(f"not a scalar: {type(value).__name__}")


def to_plain(value: Any) -> Any:
    """A field's data as JSON-ready task data: ISO dates, numbers, upload descriptions."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Upload):
        return value.to_data()
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    raise TypeError(f"cannot put {type(value).__name__} into task data")


class TaskForm(Form):
    """Base class of every user-task form.

    ``TaskForm(data, files, locale="id")``: `data` is the submitted JSON object (None: not
    submitted, e.g. to show the form with ``initial`` values), `files` maps a document
    field to ``(file name, bytes)``. Override `validate_form` for checks across fields.
    """

    form_key: ClassVar[str | None] = None  # set by forms.registry.register

    class Meta:
        locales: Any = (DEFAULT_LOCALE,)

        def get_translations(self, form: BaseForm) -> gettext.NullTranslations:
            """Our catalogue for the form's locale, with WTForms' messages translated too."""
            return translations(self.locales[0] if self.locales else DEFAULT_LOCALE)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        files: Files | None = None,
        *,
        locale: str = DEFAULT_LOCALE,
        initial: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.locale = normalize_locale(locale)
        self._input_errors: dict[str, str] = {}
        self._form_input_errors: list[str] = []
        self._validated = False
        submitted: set[str] = set()
        unknown_files: list[str] = []
        formdata = None
        if data is not None or files is not None:
            values = self._read_data({} if data is None else data, submitted)
            unknown_files = self._read_files(files or {}, values)
            formdata = SubmittedValues(values)
        super().__init__(formdata, data=initial, meta={**(meta or {}), "locales": [self.locale]})
        self._translator = self.meta.get_translations(self)
        self._localize_texts()
        unknown = sorted(key for key in submitted if key not in self._fields)
        if unknown:
            message = lazy_gettext("Unknown fields: %(names)s.", names=", ".join(unknown))
            self._form_input_errors.append(message)
        if unknown_files:
            names = ", ".join(sorted(unknown_files))
            self._form_input_errors.append(lazy_gettext("Unknown files: %(names)s.", names=names))

    def _field_classes(self) -> dict[str, type]:
        # FormMeta lists the declared fields before __init__ runs; the fields are bound later.
        return {name: unbound.field_class for name, unbound in self._unbound_fields}

    def _read_data(self, data: Mapping[str, Any], submitted: set[str]) -> dict[str, list[Any]]:
        if not isinstance(data, Mapping):
            self._form_input_errors.append(NOT_AN_OBJECT)
            return {}
        classes = self._field_classes()
        values: dict[str, list[Any]] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                submitted.add(repr(key))
                continue
            submitted.add(key)
            field_class = classes.get(key)
            if getattr(field_class, "takes_upload", False):
                if value is not None:
                    self._input_errors[key] = lazy_gettext("Send this document as a file.")
                continue
            many = field_class is not None and issubclass(field_class, SelectMultipleField)
            try:
                items = value if many and isinstance(value, list | tuple) else [value]
                if not many and isinstance(value, list | tuple):
                    raise ValueError("a list for a single value")
                texts = [_as_text(item) for item in items]
            except ValueError:
                self._input_errors[key] = INVALID_INPUT
                continue
            values[key] = [text for text in texts if text is not None]
        return values

    def _read_files(self, files: Files, values: dict[str, list[Any]]) -> list[str]:
        classes = self._field_classes()
        unknown = []
        for key, pair in files.items():
            if not getattr(classes.get(key), "takes_upload", False):
                unknown.append(str(key))
                continue
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"files[{key!r}] must be a (file name, bytes) pair")
            values[key] = [Upload.received(*pair)]
        return unknown

    def _localize_texts(self) -> None:
        """Labels, descriptions and choice labels in the form's locale."""
        for bound in self._fields.values():
            bound.label.text = localize(self._translator, bound.label.text)
            if bound.description:
                bound.description = localize(self._translator, bound.description)
            if not isinstance(bound, SelectField):
                continue
            if isinstance(bound.choices, dict):
                bound.choices = {
                    value: localize(self._translator, label) if isinstance(label, str) else label
                    for value, label in bound.choices.items()
                }
            elif isinstance(bound.choices, list):
                bound.choices = [self._localize_choice(choice) for choice in bound.choices]

    def _localize_choice(self, choice: Any) -> Any:
        if isinstance(choice, tuple) and len(choice) >= 2 and isinstance(choice[1], str):
            return (choice[0], localize(self._translator, choice[1]), *choice[2:])
        label = getattr(choice, "label", None)  # WTForms' SelectChoice
        if isinstance(label, str) and is_dataclass(choice) and not isinstance(choice, type):
            return replace(choice, label=localize(self._translator, label))
        return choice

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Validate every field, then the whole form; messages come out in the form's locale."""
        self.form_errors = []  # validating twice reports each problem once
        super().validate(extra_validators)
        for bound in self._fields.values():
            if bound.process_errors:  # an unreadable value: the checks on its value are noise
                bound.errors = list(bound.process_errors)
        for name, message in self._input_errors.items():
            if name in self._fields:
                self[name].errors = [message]  # the value was unusable: other messages are noise
        self.form_errors.extend(self._form_input_errors)
        if not self._has_errors():
            try:
                self.validate_form()
            except ValidationError as error:
                self.form_errors.append(error.args[0])
        for bound in self._fields.values():
            bound.errors = [localize(self._translator, message) for message in bound.errors]
        self.form_errors = [localize(self._translator, message) for message in self.form_errors]
        self._validated = not self._has_errors()
        return self._validated

    def validate_form(self) -> None:
        """Checks across fields, run once every field is valid: raise ``ValidationError``."""

    def _has_errors(self) -> bool:
        return bool(self.form_errors) or any(bound.errors for bound in self._fields.values())

    def error_messages(self) -> dict[str, list[str]]:
        """Messages per field name, and under ``"_form"`` those about the whole submission."""
        messages = {
            name: [localize(self._translator, message) for message in bound.errors]
            for name, bound in self._fields.items()
            if bound.errors
        }
        if self.form_errors:
            messages[FORM_ERRORS] = [localize(self._translator, m) for m in self.form_errors]
        return messages

    def to_data(self) -> dict[str, Any]:
        """The task data: every field (None when left empty), JSON-ready; needs a valid form."""
        if not self._validated:
            raise RuntimeError("to_data() needs a successful validate() first")
        skip = {self.meta.csrf_field_name} if self.meta.csrf else set()
        return {name: to_plain(b.data) for name, b in self._fields.items() if name not in skip}

    def result(self) -> FormResult:
        """Validate and answer with the task data or the messages."""
        if self.validate():
            return FormResult(True, self.to_data(), {})
        return FormResult(False, {}, self.error_messages())


# Names a field may not take: they would hide the form's own attributes and methods.
RESERVED_NAMES = frozenset(dir(TaskForm)) | {"locale", "meta", "form_errors"}
