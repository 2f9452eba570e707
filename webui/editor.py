"""The in-browser BPMN/DMN editor for process owners.

Vendor files (``make vendor``: ``npm ci --prefix webui`` with the exact pins of
``webui/package-lock.json``, then copied into the git-ignored
``webui/static/vendor/``), served as ``/static/vendor/...``:

- ``bpmn-js/bpmn-modeler.production.min.js`` (global ``BpmnJS``, the modeler),
  ``bpmn-js/bpmn-navigated-viewer.production.min.js`` and
  ``bpmn-js/bpmn-viewer.production.min.js`` (also global ``BpmnJS``),
  ``bpmn-js/assets/diagram-js.css``, ``bpmn-js/assets/bpmn-js.css``,
  ``bpmn-js/assets/bpmn-font/css/bpmn.css``
- ``bpmn-js-properties-panel/bpmn-js-properties-panel.umd.js`` (global
  ``BpmnJSPropertiesPanel``) and ``properties-panel/properties-panel.css``
- ``dmn-js/dmn-modeler.production.min.js`` (global ``DmnJS``),
  ``dmn-js/dmn-viewer.production.min.js``, ``dmn-js/assets/*.css`` and
  ``dmn-js/assets/dmn-font/css/dmn.css``
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from engine import drafts
from engine.deploy import latest_decisions, latest_processes
from engine.errors import DeploymentRejected, InvalidInput, NotFound, Problem
from engine.models import User
from forms.registry import registered_keys
from webui.auth import current_account
from webui.db import get_db

bp = Blueprint("editor", __name__, url_prefix="/editor")
EDITOR_ROLES = frozenset({"pemilik_proses", "admin"})


def may_edit(user: User) -> bool:
    """Whether the user edits and deploys diagrams (process owners and admins)."""
    return bool(user.role_names & EDITOR_ROLES)


@bp.before_request
@login_required
def process_owner_only() -> ResponseReturnValue | None:
    """Everyone else gets 404, as on the admin pages."""
    if not may_edit(current_account()):
        abort(404)
    return None


@bp.app_context_processor
def editor_globals() -> dict[str, Any]:
    """Whether the navigation shows the diagram editor."""
    if not current_user.is_authenticated:
        return {"editor_nav": False}
    try:
        return {"editor_nav": may_edit(current_account())}
    except SQLAlchemyError:  # an error page about the database still shows
        return {"editor_nav": False}


@bp.get("/")
def index() -> ResponseReturnValue:
    """Deployed processes and decisions to open, drafts, a new diagram, an import."""
    session = get_db()
    processes = sorted(latest_processes(session).values(), key=lambda p: p.key)
    decisions = sorted(latest_decisions(session).values(), key=lambda d: d.key)
    return render_template(
        "editor/index.html",
        processes=processes,
        decisions=decisions,
        drafts=drafts.list_drafts(session),
        standard_lanes=drafts.STANDARD_LANES,
    )


def _editor(file_name: str, kind: str, xml: str, **context: Any) -> ResponseReturnValue:
    config = {
        "kind": kind,
        "file": file_name,
        "xml": xml,
        "forms": registered_keys(),
        "urls": {
            "save": url_for("editor.save"),
            "validate": url_for("editor.validate"),
            "deploy": url_for("editor.deploy"),
        },
        "text": js_text(),
    }
    return render_template(
        "editor/edit.html", config=config, file_name=file_name, kind=kind, **context
    )


@bp.get("/proses/<key>")
def open_process(key: str) -> ResponseReturnValue:
    """The newest deployed version of a process, or the draft of its file."""
    return _open_deployed("bpmn", key)


@bp.get("/keputusan/<key>")
def open_decision(key: str) -> ResponseReturnValue:
    """The newest deployed version of a decision table, or the draft of its file."""
    return _open_deployed("dmn", key)


def _open_deployed(kind: str, key: str) -> ResponseReturnValue:
    session = get_db()
    deployed = drafts.deployed(session, kind, key)
    draft = drafts.get_draft(session, deployed.file_name)
    xml = draft.xml if draft is not None else deployed.xml
    return _editor(deployed.file_name, kind, xml, deployed=deployed, draft=draft)


@bp.get("/draf/<file_name>")
def open_draft(file_name: str) -> ResponseReturnValue:
    """A saved draft."""
    try:
        draft = drafts.get_draft(get_db(), file_name)
    except InvalidInput:
        abort(404)
    if draft is None:
        abort(404)
    deployed = None
    if draft.key:
        try:
            deployed = drafts.deployed(get_db(), draft.kind, draft.key)
        except NotFound:
            deployed = None  # a new process or table: not deployed yet
    return _editor(draft.file_name, draft.kind, draft.xml, deployed=deployed, draft=draft)


@bp.get("/baru")
def new_diagram() -> ResponseReturnValue:
    """A new process from the template: a pool with a lane for each standard role."""
    key = request.args.get("key", "").strip()[:64]
    name = request.args.get("name", "").strip()[:200]
    try:
        xml = drafts.new_process_xml(key, name)
    except InvalidInput as exc:
        flash(_("New diagram: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("editor.index"))
    file_name = f"{key}.bpmn"
    session = get_db()
    if key in latest_processes(session) or drafts.file_in_use(session, file_name):
        flash(_("A process or draft named %(key)s already exists: open it.", key=key), "error")
        return redirect(url_for("editor.index"))
    return _editor(file_name, "bpmn", xml, deployed=None, draft=None)


@bp.post("/impor")
def import_file() -> ResponseReturnValue:
    """Upload a .bpmn/.dmn file from another modeller (Camunda too): it becomes a draft."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Import: choose a .bpmn or .dmn file."), "error")
        return redirect(url_for("editor.index")), 303
    data = upload.read(drafts.MAX_FILE_BYTES + 1)
    try:
        file_name, xml = drafts.read_upload(upload.filename, data)
        draft = drafts.save_draft(get_db(), current_account().username, file_name, xml)
    except InvalidInput as exc:
        flash(_("Import refused: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("editor.index")), 303
    flash(_("%(file)s was imported as a draft.", file=draft.file_name), "success")
    return redirect(url_for("editor.open_draft", file_name=draft.file_name)), 303


@bp.post("/draf/<file_name>/hapus")
def discard(file_name: str) -> ResponseReturnValue:
    """Throw a draft away; what is deployed stays."""
    try:
        drafts.discard_draft(get_db(), current_account().username, file_name)
    except (InvalidInput, NotFound):
        abort(404)
    flash(_("The draft %(file)s was discarded.", file=file_name), "success")
    return redirect(url_for("editor.index")), 303


def _json_body(*fields: str) -> dict[str, str]:
    """The named string fields of a JSON request; InvalidInput names a missing one."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body is not a JSON object")
    values = {}
    for name in fields:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{name}: missing")
        values[name] = value
    return values


def problem_json(problem: Problem) -> dict[str, str]:
    """A deployment problem as the editor (and the API) reads it."""
    return {
        "file": problem.file,
        "element": problem.element,
        "message": problem.message,
        "severity": problem.severity,
    }


def _refused(exc: Exception, status: int = 422) -> ResponseReturnValue:
    return jsonify(error=str(exc)), status


@bp.post("/simpan")
def save() -> ResponseReturnValue:
    """Store the editor's XML as the draft of its file (JSON: file, xml)."""
    try:
        body = _json_body("file", "xml")
        draft = drafts.save_draft(get_db(), current_account().username, body["file"], body["xml"])
    except InvalidInput as exc:
        return _refused(exc)
    return jsonify(
        file=draft.file_name, saved_by=draft.saved_by, saved_at=draft.saved_at.isoformat()
    )


@bp.post("/validasi")
def validate() -> ResponseReturnValue:
    """Run the deployment's full validation on the editor's XML; nothing is stored."""
    try:
        body = _json_body("file", "xml")
        problems = drafts.validate_xml(get_db(), body["file"], body["xml"])
    except InvalidInput as exc:
        return _refused(exc)
    errors = [p for p in problems if p.severity == "error"]
    return jsonify(valid=not errors, problems=[problem_json(p) for p in problems])


@bp.post("/deploy")
def deploy() -> ResponseReturnValue:
    """Deploy the saved draft of a file as the next version, only when it is valid."""
    session = get_db()
    try:
        body = _json_body("file")
        result = drafts.deploy_draft(session, current_account().username, body["file"])
    except DeploymentRejected as exc:
        return jsonify(deployed=[], problems=[problem_json(p) for p in exc.problems]), 422
    except NotFound as exc:
        return _refused(exc, 404)
    except InvalidInput as exc:
        return _refused(exc)
    items = [
        {"kind": i.kind, "key": i.key, "version": i.version, "changed": i.changed}
        for i in result.items
    ]
    return jsonify(deployed=items, problems=[problem_json(p) for p in result.warnings])


def js_text() -> dict[str, str]:
    """The sentences editor.js shows, in the reader's language."""
    return {
        "saved": _("Draft saved."),
        "unsaved": _("Unsaved changes"),
        "valid": _("No problems: this diagram can be deployed."),
        "invalid": _("Problems found: fix the marked elements before deploying."),
        "deployed": _("Deployed:"),
        "unchanged": _("Nothing changed since the deployed version."),
        "refused": _("Not deployed: fix the problems listed."),
        "failed": _("The request failed:"),
        "error": _("Error"),
        "warning": _("Warning"),
        "version": _("version"),
        "jenjang": _("Jenjang task"),
        "lane": _("Lane (role)"),
        "no_lane": _("No lane: only the starter or an admin may do this task"),
        "lane_help": _("Move the task to another lane on the canvas to change its role."),
        "form_key": _("Form"),
        "no_form": _("(none: a plain data form)"),
        "unknown_form": _("(not a registered form)"),
        "assignee": _("Assignee expression"),
        "assignee_help": _("e.g. starter, supervisor_of(pegawai); empty: anyone of the lane"),
        "due": _("Due date"),
        "due_help": _("A duration such as P5D (5 days), or an expression"),
        "confirm_leave": _("You have unsaved changes."),
    }
