"""Forms built from Camunda form fields, for tasks whose diagram has fields but no form key.

The engine hands the fields over as ``{"id", "label", "type", "options": [{"id", "name"}]}``
(an optional ``"required": true`` makes one required). Types: string, long, boolean, date and
enum; labels are the diagram's own text, shown as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from wtforms import DateField, IntegerField, StringField
from wtforms.validators import Length

from forms.base import RESERVED_NAMES, TaskForm
from forms.fields import ChoiceField, YesNoField, requirement
from forms.plain import MAX_TEXT, is_data_key


class FormDefinitionError(ValueError):
    """The diagram's form fields cannot make a form (a bad id, type or option list)."""


def _string(label: str, required: bool, spec: Mapping[str, Any]) -> Any:
    return StringField(label, [requirement(required), Length(max=MAX_TEXT)])


def _long(label: str, required: bool, spec: Mapping[str, Any]) -> Any:
    return IntegerField(label, [requirement(required)])


def _boolean(label: str, required: bool, spec: Mapping[str, Any]) -> Any:
    # Camunda shows a boolean as a checkbox: left alone, it is false.
    return YesNoField(label, required=required, default=None if required else False)


def _date(label: str, required: bool, spec: Mapping[str, Any]) -> Any:
    return DateField(label, [requirement(required)])


def _enum(label: str, required: bool, spec: Mapping[str, Any]) -> Any:
    options = spec.get("options") or []
    choices: dict[str, str] = {}
    for option in options:
        if not isinstance(option, Mapping) or not option.get("id"):
            raise FormDefinitionError(f"field {spec['id']!r}: an enum value has no id")
        choices[str(option["id"])] = str(option.get("name") or option["id"])
    if not choices:
        raise FormDefinitionError(f"field {spec['id']!r}: an enum needs at least one value")
    return ChoiceField(label, choices=choices, required=required)


BUILDERS: dict[str, Callable[[str, bool, Mapping[str, Any]], Any]] = {
    "string": _string,
    "long": _long,
    "boolean": _boolean,
    "date": _date,
    "enum": _enum,
}


def dynamic_form_class(fields: Sequence[Mapping[str, Any]]) -> type[TaskForm]:
    """A `TaskForm` class with one field per Camunda form field, in the diagram's order."""
    attrs: dict[str, Any] = {}
    for spec in fields:
        if not isinstance(spec, Mapping):
            raise FormDefinitionError("a form field is not an object")
        name = spec.get("id")
        if not is_data_key(name) or name in RESERVED_NAMES:
            raise FormDefinitionError(f"field id {name!r} cannot be a task data name")
        if name in attrs:
            raise FormDefinitionError(f"field id {name!r} is used twice")
        kind = spec.get("type") or "string"
        if kind not in BUILDERS:
            known = ", ".join(BUILDERS)
            raise FormDefinitionError(f"field {name!r}: type {kind!r} is not one of {known}")
        label = str(spec.get("label") or name)
        attrs[str(name)] = BUILDERS[kind](label, bool(spec.get("required", False)), spec)
    return cast(type[TaskForm], type("CamundaFieldsForm", (TaskForm,), attrs))
