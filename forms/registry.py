"""The form registry: form key (``"<process>.<task>"``) -> `TaskForm` class.

This is the one place where Python names a BPMN task. Process modules (``forms/<process>.py``)
register their forms with `register`; they are imported on the first lookup, so adding a
module is enough. A task whose key is not registered gets a form built from its Camunda fields,
or else the plain data form (the engine warns about both at deploy).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from forms.base import FORM_ERRORS, RESERVED_NAMES, Files, FormResult, TaskForm
from forms.dynamic import FormDefinitionError, dynamic_form_class
from forms.i18n import lazy_gettext, localize, normalize_locale, translations
from forms.plain import is_data_key, validate_plain

FORM_KEY = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
F = TypeVar("F", bound=type[TaskForm])

_forms: dict[str, type[TaskForm]] = {}
_discovered = False
_discover_lock = threading.Lock()


def register(form_key: str) -> Callable[[F], F]:
    """Class decorator: bind `form_key` to this form class."""
    if not FORM_KEY.fullmatch(form_key):
        raise ValueError(f"form key {form_key!r} is not '<process>.<task>' in snake_case")

    def decorate(cls: F) -> F:
        if not (isinstance(cls, type) and issubclass(cls, TaskForm)):
            raise TypeError(f"@register({form_key!r}) needs a TaskForm subclass")
        bad = [
            name for name in _field_names(cls) if not is_data_key(name) or name in RESERVED_NAMES
        ]
        if bad:
            raise ValueError(f"{cls.__qualname__}: field names not usable as task data: {bad}")
        existing = _forms.get(form_key)
        # The same class again (a module reloaded) replaces itself; another class is a clash.
        if existing is not None and _qualified(existing) != _qualified(cls):
            raise ValueError(f"form key {form_key!r} is already {_qualified(existing)}")
        cls.form_key = form_key
        _forms[form_key] = cls
        return cls

    return decorate


def _field_names(cls: type[TaskForm]) -> list[str]:
    return [name for name in dir(cls) if hasattr(getattr(cls, name), "_formfield")]


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _discover() -> None:
    """Import every module of this package once, so that process modules register."""
    global _discovered
    if _discovered:
        return
    with _discover_lock:
        if not _discovered:
            package = __name__.rpartition(".")[0]
            modules = pkgutil.iter_modules([str(Path(__file__).parent)])
            for module in sorted(modules, key=lambda info: info.name):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{package}.{module.name}")
            _discovered = True


def form_class(form_key: str | None) -> type[TaskForm] | None:
    """The form class registered for `form_key`, or None."""
    _discover()
    return _forms.get(form_key) if form_key else None


def registered_keys() -> list[str]:
    """Every registered form key, sorted."""
    _discover()
    return sorted(_forms)


def validate(
    form_key: str | None,
    data: Mapping[str, Any],
    files: Files | None = None,
    *,
    locale: str = "id",
    fields: Sequence[Mapping[str, Any]] | None = None,
) -> FormResult:
    """Validate a task submission with its form, its Camunda fields, or the plain data form."""
    locale = normalize_locale(locale)
    cls = form_class(form_key)
    if cls is None and fields:
        try:
            cls = dynamic_form_class(fields)
        except FormDefinitionError as error:
            message = lazy_gettext(
                "This task's form is defined wrongly in its diagram: %(reason)s",
                reason=str(error),
            )
            return FormResult(False, {}, {FORM_ERRORS: [localize(translations(locale), message)]})
    if cls is None:
        return validate_plain(data, files, locale=locale)
    return cls(data, files, locale=locale).result()
