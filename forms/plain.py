"""The plain data form: a task with no form key and no Camunda fields takes a flat JSON object.

Its keys become task data as they are, so they must be names a process expression can use;
its values are scalars, so a submission cannot smuggle structures into the workflow.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping
from gettext import NullTranslations
from typing import Any

from forms.base import FORM_ERRORS, INVALID_INPUT, NOT_AN_OBJECT, Files, FormResult
from forms.i18n import lazy_gettext, localize, translations

MAX_FIELDS = 100
MAX_TEXT = 2000
# The script sandbox provides these names; task data must not hide them (docs/modelling.md).
SANDBOX_NAMES = frozenset({"datetime", "date", "timedelta", "Decimal"})


def is_data_key(name: object) -> bool:
    """A name usable as task data: an identifier, not ``_``-prefixed, no keyword or helper."""
    return (
        isinstance(name, str)
        and name.isidentifier()
        and name.isascii()
        and not name.startswith("_")
        and not keyword.iskeyword(name)
        and name not in SANDBOX_NAMES
    )


def validate_plain(data: object, files: Files | None = None, *, locale: str) -> FormResult:
    """Accept a flat object of str/int/float/bool/None values and pass it through."""
    translator = translations(locale)
    form_errors: list[str] = []
    errors: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        return FormResult(False, {}, {FORM_ERRORS: [localize(translator, NOT_AN_OBJECT)]})
    if files:
        names = ", ".join(sorted(map(str, files)))
        form_errors.append(lazy_gettext("Unknown files: %(names)s.", names=names))
    if len(data) > MAX_FIELDS:
        form_errors.append(lazy_gettext("Too many fields: at most %(max)s.", max=MAX_FIELDS))
    bad_names = sorted(str(key) for key in data if not is_data_key(key))
    if bad_names:
        message = lazy_gettext(
            "Invalid field names: %(names)s. Use letters, digits and underscores; "
            "do not start with an underscore or a digit.",
            names=", ".join(bad_names),
        )
        form_errors.append(message)
    for key, value in data.items():
        problem = _value_problem(value, translator)
        if problem is not None and is_data_key(key):
            errors[key] = [problem]
    if form_errors:
        errors[FORM_ERRORS] = [localize(translator, message) for message in form_errors]
    if errors:
        return FormResult(False, {}, errors)
    return FormResult(True, dict(data), {})


def _value_problem(value: Any, translator: NullTranslations) -> str | None:
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else localize(translator, INVALID_INPUT)
    if isinstance(value, str):
        if len(value) <= MAX_TEXT:
            return None
        text = translator.ngettext(
            "Field cannot be longer than %(max)d character.",
            "Field cannot be longer than %(max)d characters.",
            MAX_TEXT,
        )
        return text % {"max": MAX_TEXT}
    message = lazy_gettext("Only text, numbers, true/false or null are allowed here.")
    return localize(translator, message)
