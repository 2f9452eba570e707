"""What the task page shows: the task's form, the instance's data, earlier decisions, history.

The form is the task's registered WTForms class, else one built from its Camunda fields, else
a plain key/value form. Submissions are checked by `forms.validate`, exactly as the CLI does.
The instance's data is read from its stored workflow state (the only place it lives); the
decisions and history come from the audit trail through `engine.queries.instance_summary`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import RadioField, SelectMultipleField

import forms
from engine.documents import Document, documents_of
from engine.models import Instance, TaskModel
from engine.queries import instance_summary, task_data
from forms.base import FORM_ERRORS, TaskForm
from forms.dynamic import FormDefinitionError, dynamic_form_class
from webui.documents import store_uploads

PLAIN_ROWS = 6
MAX_SHOWN = 300
ACTIONS = {
    "started": _l("Started"),
    "claimed": _l("Claimed"),
    "unclaimed": _l("Given back to the team"),
    "completed": _l("Completed"),
    "error": _l("Error"),
    "cancelled": _l("Cancelled"),
    "retried": _l("Retried"),
    "timer": _l("Timer fired"),
    "message": _l("Message received"),
    "assignment_failed": _l("Assignment failed"),
}
STATES = {
    "running": _l("Running"),
    "waiting": _l("Waiting"),
    "completed": _l("Completed"),
    "error": _l("Error"),
    "cancelled": _l("Cancelled"),
}


def locale() -> str:
    """The page's language code (``id`` or ``en``)."""
    return str(get_locale() or "id")


def humanize(key: str) -> str:
    """``tanggal_mulai`` -> ``Tanggal mulai`` (when no form names the field)."""
    return key.replace("_", " ").strip().capitalize()


def show_value(value: Any) -> str:
    """A task-data value as short text: yes/no, lists, uploaded files by name."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Mapping) and "nama_file" in value:  # an uploaded document
        return str(value["nama_file"])
    if isinstance(value, list | tuple):
        text = ", ".join(show_value(item) for item in value)
    elif isinstance(value, Mapping):
        text = "; ".join(f"{humanize(str(k))}: {show_value(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def field_labels(form_key: str | None, fields: Any = None) -> dict[str, str]:
    """Field name -> label in the page's language, from the task's form (empty if none)."""
    cls = _form_class(form_key, fields)
    if cls is None:
        return {}
    return {f.name: str(f.label.text) for f in cls(None, None, locale=locale())}


def _form_class(form_key: str | None, fields: Any) -> type[TaskForm] | None:
    cls = forms.form_class(form_key)
    if cls is None and fields:
        try:
            cls = dynamic_form_class(fields)
        except FormDefinitionError:
            return None
    return cls


def _scalar(text: str) -> Any:
    """A plain-form value: JSON numbers, true/false and null as such, anything else as text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if value is None or isinstance(value, bool | int | float) else text


@dataclass
class TaskPage:
    """The task page's content; `submit` validates a POST and keeps its messages."""

    row: TaskModel
    instance: Instance
    meta: dict[str, Any]
    form: TaskForm | None
    process_name: str
    definition_error: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    plain_rows: list[tuple[str, str]] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # the task's data, as stored
    preview_first: bool = False  # a submission is previewed before it completes the task

    @classmethod
    def build(cls, session: Session, row: TaskModel, instance: Instance) -> TaskPage:
        """Collect the form and the context for one open task."""
        version = instance.process_version
        meta = version.task_meta.get(row.element_id, {})
        form_cls, problem = None, None
        try:
            form_cls = forms.form_class(row.form_key)
            if form_cls is None and meta.get("fields"):
                form_cls = dynamic_form_class(meta["fields"])
        except FormDefinitionError as error:
            problem = str(error)
        page = cls(
            row=row,
            instance=instance,
            meta=meta,
            form=form_cls(None, None, locale=locale()) if form_cls else None,
            process_name=version.name or version.key,
            definition_error=problem,
            plain_rows=[("", "")] * PLAIN_ROWS,
        )
        page._load_context(session)
        return page

    @property
    def multipart(self) -> bool:
        """Whether the form takes files (then it is sent as multipart/form-data)."""
        return self.form is not None and any(getattr(f, "takes_upload", False) for f in self.form)

    @property
    def form_errors(self) -> list[str]:
        """Messages about the whole submission rather than one field."""
        return self.errors.get(FORM_ERRORS, [])

    def is_group(self, bound: Any) -> bool:
        """Fields shown as a group of choices (a fieldset with a legend)."""
        return isinstance(bound, RadioField)

    def submit(self, posted: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> Any:
        """Validate a POSTed form with the task's form; keep values and messages for re-display."""
        if self.form is not None:
            data: dict[str, Any] = {}
            for bound in self.form:
                if bound.name not in posted:
                    continue
                values = posted.getlist(bound.name)
                data[bound.name] = values if isinstance(bound, SelectMultipleField) else values[0]
            uploads = {
                name: (storage.filename or name, storage.read())
                for name, storage in files.items()
                if storage.filename and any(f.name == name for f in self.form)
            }
        else:
            keys, values = posted.getlist("kunci"), posted.getlist("nilai")
            pairs = [(k.strip(), v) for k, v in zip(keys, values, strict=False)]
            data = {k: _scalar(v.strip()) for k, v in pairs if k}
            uploads = {}
            self.plain_rows = [(k, v) for k, v in pairs if k] + [("", "")] * 2
        result = forms.validate(
            self.row.form_key,
            data,
            uploads,
            locale=locale(),
            fields=self.meta.get("fields") or None,
        )
        if result.ok and uploads:
            store_uploads(self.row, result.data, uploads)  # same transaction as the completion
        if not result.ok:
            self.errors = dict(result.errors)
            if self.form is not None:
                self.form = type(self.form)({k: v for k, v in data.items()}, None, locale=locale())
        return result

    def _load_context(self, session: Session) -> None:
        version = self.instance.process_version
        self.values = task_data(session, self.instance, self.row.spiff_task_id)
        summary = instance_summary(session, self.instance.id)
        self.summary = summary
        self.documents = documents_of(session, self.instance.id)
        task_meta = version.task_meta
        labels: dict[str, str] = {}
        for entry in summary["history"]:
            at = datetime.fromisoformat(entry["at"]) if entry["at"] else None
            element = entry["element"]
            name = task_meta.get(element, {}).get("name") if element else None
            self.history.append(
                {
                    "at": at,
                    "actor": entry["actor"],
                    "action": str(ACTIONS.get(entry["action"], entry["action"])),
                    "element": name or element or "",
                }
            )
            if entry["action"] != "completed":
                continue
            meta = task_meta.get(element, {})
            these = field_labels(meta.get("form_key"), meta.get("fields"))
            labels.update(these)
            detail = json.loads(entry["detail"] or "{}")
            submitted = detail.get("data") or {}
            self.decisions.append(
                {
                    "at": at,
                    "actor": entry["actor"],
                    "task": name or element or "",
                    "fields": [
                        (these.get(k, humanize(k)), show_value(v)) for k, v in submitted.items()
                    ],
                }
            )
        self.data = [
            (labels.get(key, humanize(key)), show_value(value))
            for key, value in sorted(self.values.items())
            if not key.startswith("_") and key != "starter"
        ]

    def state_label(self) -> str:
        """The instance's state in the page's language."""
        return str(STATES.get(self.summary.get("state", ""), self.summary.get("state", "")))
