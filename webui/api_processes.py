"""The API's process versions: validate and deploy BPMN/DMN files, list versions, read XML.

Routes on the API blueprint of webui/api.py (same bearer tokens, same JSON errors). Deploying
and validating are for process owners (``pemilik_proses``) and admins. A rejected deployment
answers 422 with every problem as ``{file, element, message, severity}`` and stores nothing.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from flask import Response, request
from flask.typing import ResponseReturnValue

from engine.deploy import deploy, validate_files
from engine.errors import DeploymentRejected, Problem
from engine.instance_admin import is_process_owner
from engine.versions import get_version, list_versions, version_xml
from webui.api import bp, current_user, fail, text
from webui.db import get_db

MAX_FILES = 50


def problem_dict(problem: Problem) -> dict[str, str]:
    """A deployment problem as structured data (the one-line text is str(problem))."""
    return {
        "file": problem.file,
        "element": problem.element,
        "message": problem.message,
        "severity": problem.severity,
    }


def _owner() -> None:
    if not is_process_owner(current_user()):
        fail(403, text("You may not do this."))


def _files() -> list[tuple[str, bytes]]:
    """The uploaded files of a multipart request (any field name), by their base name."""
    if not request.mimetype.startswith("multipart/form-data"):
        fail(
            400,
            text("Invalid input"),
            {"files": [text("Send the BPMN and DMN files as multipart/form-data.")]},
        )
    found = [
        (PurePath(storage.filename or name).name or name, storage.read())
        for name, storage in request.files.items(multi=True)
    ]
    if not found:
        fail(400, text("Invalid input"), {"files": [text("Send at least one BPMN or DMN file.")]})
    if len(found) > MAX_FILES:
        fail(
            400, text("Invalid input"), {"files": [text("Send at most %(n)s files.", n=MAX_FILES)]}
        )
    return found


def _rejected(problems: list[Problem]) -> ResponseReturnValue:
    """422: the API's error body, plus every problem as structured data."""
    errors = [p for p in problems if p.severity == "error"]
    answer = {
        "error": text("The files are not valid: %(n)s problems.", n=len(errors)),
        "errors": {"files": [str(p) for p in errors]},
        "problems": [problem_dict(p) for p in problems],
    }
    return answer, 422


@bp.post("/processes")
def deploy_processes() -> ResponseReturnValue:
    """Validate and deploy BPMN/DMN files (all or nothing); 422 lists every problem."""
    _owner()
    files = _files()
    try:
        result = deploy(get_db(), files, current_user().username)
    except DeploymentRejected as exc:
        return _rejected(exc.problems)
    changed = any(item.changed for item in result.items)
    answer = {
        "deployed": [
            {"kind": i.kind, "key": i.key, "version": i.version, "changed": i.changed}
            for i in result.items
        ],
        "problems": [problem_dict(p) for p in result.warnings],
    }
    return answer, 201 if changed else 200


@bp.post("/processes/validate")
def validate_processes() -> ResponseReturnValue:
    """Run the deployment's full validation without storing anything."""
    _owner()
    _docs, draft = validate_files(get_db(), _files())
    if any(p.severity == "error" for p in draft.problems) or draft.validation is None:
        return _rejected(draft.problems)
    return {"valid": True, "problems": [problem_dict(p) for p in draft.problems]}


@bp.get("/processes/<key>/versions")
def process_versions(key: str) -> ResponseReturnValue:
    """Every version of a process, newest first, with its instances counted by state."""
    _owner()
    return {"key": key, "versions": list_versions(get_db(), key)}


@bp.get("/processes/<key>/versions/<int:number>/xml")
def process_version_xml(key: str, number: int) -> ResponseReturnValue:
    """The BPMN XML of one version (JSON with the XML when Accept asks for JSON)."""
    _owner()
    session = get_db()
    pv = get_version(session, key, number)
    xml = version_xml(session, pv)
    best = request.accept_mimetypes.best_match(["application/xml", "application/json"])
    if best == "application/json":
        answer: dict[str, Any] = {"key": key, "version": number, "xml": xml}
        return answer
    return Response(xml, mimetype="application/xml")
