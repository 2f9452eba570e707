"""Score files on the task page: a preview of what an SKD/SKB file would change, then apply.

When the committee uploads a score file, the page does not complete the task at once: it
checks the file with the engine's `check_skd_csv` / `check_skb_csv` against the task's formasi
and shows every problem with its line and every score that would change (old → new). Nothing
is stored then. "Terapkan" (only offered for a file without problems) sends the same file back,
signed into the page and bound to the task, and only that completes the task with it; the
workflow's import service then stores the scores, checking the file once more.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict

import forms
from engine.errors import JenjangError
from engine.models import TaskModel, utcnow
from engine.recruitment_import import ImportCheck, check_skb_csv, check_skd_csv
from forms.rekrutmen import UnggahNilaiSkb, UnggahNilaiSkd
from webui.taskpage import TaskPage, locale

APPLY = "terapkan"  # the hidden field that carries the previewed file back
SALT = "jenjang.impor-nilai"
CSV = "text/csv"
Checker = Callable[[Session, str, bytes, Mapping[str, Any]], ImportCheck]
CHECKS: dict[type, tuple[str, Checker]] = {
    UnggahNilaiSkd: ("skd", check_skd_csv),
    UnggahNilaiSkb: ("skb", check_skb_csv),
}
SCORES = {"skd": ("twk", "tiu", "tkp", "skd_total"), "skb": ("skb",)}


@dataclass
class Preview:
    """What the preview page shows: the file, its check (or why it could not be checked)."""

    filename: str
    kind: str
    check: ImportCheck | None
    problem: str | None
    token: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The scores a row of this kind of file sets."""
        return SCORES[self.kind]

    @property
    def changed(self) -> list[Any]:
        """Rows that change at least one score."""
        return [c for c in self.check.changes if c.changed] if self.check else []

    @property
    def unchanged(self) -> int:
        """How many valid rows leave the scores as they are."""
        return len(self.check.changes) - len(self.changed) if self.check else 0

    @property
    def may_apply(self) -> bool:
        """Whether "Terapkan" is offered: the file was checked and has no problem."""
        return self.problem is None and self.check is not None and self.check.ok


def is_score_import(row: TaskModel) -> bool:
    """Whether the task takes a score file that is previewed before it is applied."""
    return forms.form_class(row.form_key) in CHECKS


def _upload_field(row: TaskModel) -> str:
    cls = forms.form_class(row.form_key)
    return next(f.name for f in cls(None, None) if getattr(f, "takes_upload", False))  # type: ignore[misc]


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=SALT)


def _sign(row: TaskModel, filename: str, content: bytes) -> str:
    return str(_signer().dumps([row.id, filename, base64.b64encode(content).decode()]))


def _signed_file(row: TaskModel) -> tuple[str, bytes] | None:
    """The previewed file sent back with "Terapkan", if its signature holds for this task."""
    token = request.form.get(APPLY, "")
    if not token:
        return None
    try:
        task_id, filename, content = _signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if task_id != row.id or not isinstance(filename, str) or not isinstance(content, str):
        return None
    return filename, base64.b64decode(content)


def _check(session: Session, page: TaskPage, content: bytes) -> tuple[ImportCheck | None, str]:
    _kind, checker = CHECKS[forms.form_class(page.row.form_key)]  # type: ignore[index]
    try:
        found = checker(
            session,
            str(page.values.get("formasi_id", "")),
            content,
            page.values.get("rentang_nilai") or {},
        )
    except JenjangError as error:  # wrong stage, unknown formasi, ranges missing
        return None, str(error)
    return found, ""


def confirmed_upload(session: Session, page: TaskPage) -> MultiDict[str, FileStorage] | None:
    """The previewed file as an upload, when "Terapkan" was pressed and it still checks clean."""
    signed = _signed_file(page.row)
    if signed is None:
        return None
    filename, content = signed
    found, problem = _check(session, page, content)
    if problem or found is None or not found.ok:
        return None
    storage = FileStorage(BytesIO(content), filename=filename, content_type=CSV)
    return MultiDict({_upload_field(page.row): storage})


def preview(session: Session, page: TaskPage) -> ResponseReturnValue:
    """Check the uploaded (or sent back) file and show what it would change; store nothing."""
    row, field = page.row, _upload_field(page.row)
    signed = _signed_file(row)
    if signed is None:
        storage = request.files.get(field)
        content = storage.read() if storage is not None and storage.filename else b""
        signed = (storage.filename or field, content) if content and storage else None
    result = forms.validate(row.form_key, {}, {field: signed} if signed else {}, locale=locale())
    if signed is None or not result.ok:  # the form's own messages: no file, not a CSV, ...
        page.errors = dict(result.errors)
        return render_template("task.html", page=page, row=row, now=utcnow()), 422
    filename, content = signed
    kind = CHECKS[forms.form_class(row.form_key)][0]  # type: ignore[index]
    found, problem = _check(session, page, content)
    shown = Preview(filename, kind, found, problem or None, _sign(row, filename, content))
    status = 200 if shown.may_apply else 422
    return render_template("import_preview.html", page=page, row=row, preview=shown), status
