"""Uploaded documents on the web: stored from task forms, downloaded by who may see them.

Files live under ``UPLOAD_FOLDER`` (default ``instance/uploads``): outside ``static/``, so the
web server never serves them itself. A download is always an attachment with
``X-Content-Type-Options: nosniff``, so a browser never renders an uploaded file as a page.
Someone who may not see a document gets the same 404 as for one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_file
from flask.typing import ResponseReturnValue
from flask_login import login_required

from engine.documents import Document, DocumentNotFound, may_see_instance, open_document, store
from engine.models import TaskModel
from webui.auth import current_account
from webui.db import get_db

bp = Blueprint("documents", __name__)
CSV = "text/csv"


def upload_root() -> Path:
    """Where uploaded files are stored (``UPLOAD_FOLDER``, else ``<instance>/uploads``)."""
    configured = current_app.config.get("UPLOAD_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def store_uploads(
    row: TaskModel, data: dict[str, Any], uploads: Mapping[str, tuple[str, bytes]]
) -> None:
    """Store each validated upload of a task and put its document id into the task data."""
    session, user = get_db(), current_account()
    for name, (_filename, content) in uploads.items():
        described = data.get(name)
        if not isinstance(described, dict) or "sha256" not in described:
            continue  # the form did not keep this file: nothing to store
        document = store(
            session,
            upload_root(),
            instance_id=row.instance_id,
            task_id=row.id,
            field=name,
            filename=str(described.get("nama_file") or name),
            content=content,
            # The type the form read from the content; a score file is CSV text.
            mime=str(described.get("jenis") or CSV),
            uploaded_by=user.id,
        )
        described["dokumen_id"] = document.id


@bp.get("/dokumen/<int:document_id>")
@login_required
def download(document_id: int) -> ResponseReturnValue:
    """The file, as an attachment, to who may see its instance; 404 to anyone else."""
    session = get_db()
    found = session.get(Document, document_id)
    if found is None or not may_see_instance(session, current_account(), found.instance_id):
        abort(404)
    try:
        document, content = open_document(session, upload_root(), document_id)
    except DocumentNotFound:
        abort(404)
    response = send_file(
        BytesIO(content),
        mimetype=document.mime,
        as_attachment=True,
        download_name=document.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
