"""The JSON API under /api/: bearer tokens, the inbox's tasks, claim and complete, instances.

Same rules as the pages: a user sees the tasks they may act on and the instances they started
or have a task in (an admin sees everything); anything else answers 404, never its data.
Requests carry ``Authorization: Bearer <token>`` from ``POST /api/tokens`` and never a
session cookie, which is why the blueprint is exempt from CSRF. Errors are JSON,
``{"error": "...", "errors": {field: [...]}}``, in Indonesian unless ``Accept-Language``
asks for English. The OpenAPI document (webui/openapi.py) is served at /api/openapi.json.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from datetime import UTC, datetime, time, timedelta
from math import ceil
from types import SimpleNamespace
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

import forms
from engine.errors import InvalidInput, InvalidState, JenjangError, NotAllowed, NotFound, StaleTask
from engine.models import Instance, ProcessVersion, TaskModel, User, utcnow
from engine.queries import (
    actionable_filter,
    completion,
    count_up_to,
    instance_summary,
    list_processes,
    mine_filter,
    task_dict,
    team_filter,
)
from engine.runtime import (
    claim_task,
    complete_task,
    get_instance,
    is_admin,
    may_act,
    may_start,
    start_instance,
    unclaim_task,
)
from engine.step import VersionRef
from engine.tokens import DEFAULT_LIFETIME, issue_token, revoke_token, user_for_token
from webui import openapi
from webui.auth import MAX_PASSWORD, MAX_USERNAME, authenticate, throttle
from webui.db import get_db

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")
PUBLIC = {"api.create_token", "api.openapi_document"}
SCOPES = ("all", "mine", "team")
DUE_FILTERS = ("overdue", "today", "week", "none")
SORTS = ("due", "-due", "created", "-created", "updated")
MAX_PER_PAGE = 100
MAX_SEARCH = 100
REALM = 'Bearer realm="jenjang"'


class ApiError(Exception):
    """An answer other than success: status, one message, messages per field, headers."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def locale() -> str:
    """The answer's language: Indonesian unless Accept-Language prefers English."""
    found = request.accept_languages.best_match(forms.LOCALES, default=forms.DEFAULT_LOCALE)
    return found or forms.DEFAULT_LOCALE


def text(msgid: str, **params: Any) -> str:
    """A message of the web app's catalogue in the answer's language."""
    with force_locale(locale()):
        return str(_(msgid, **params))


def form_text(msgid: str) -> str:
    """A message of the forms' catalogue in the answer's language."""
    return forms.gettext(msgid, locale())


def error_response(error: ApiError) -> ResponseReturnValue:
    """The JSON body and headers of an error."""
    return jsonify({"error": error.message, "errors": error.errors}), error.status, error.headers


def fail(status: int, message: str, errors: dict[str, list[str]] | None = None) -> NoReturn:
    """Stop the request with a JSON error."""
    raise ApiError(status, message, errors)


def current_user() -> User:
    """The user the request's bearer token belongs to."""
    user: User = g.api_user
    return user


@bp.before_request
def require_token() -> None:
    """Every route but the token and OpenAPI ones needs a live bearer token."""
    if request.endpoint in PUBLIC:
        return
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401, text("Please log in to see this page."), headers={"WWW-Authenticate": REALM}
        )
    user = user_for_token(get_db(), token, utcnow())
    if user is None:
        raise ApiError(
            401,
            text("Please log in to see this page."),
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    g.api_user = user


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one; {} for an allowed empty body)."""
    if optional and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        fail(400, form_text("Expected an object of field names and values."))
    return body


def object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A field of the body that must be a JSON object ({} when absent; 400 otherwise)."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(
            400,
            text("Invalid input"),
            {name: [form_text("Expected an object of field names and values.")]},
        )
    return value


# --- tokens -------------------------------------------------------------------------------


def token_lifetime() -> timedelta:
    """API_TOKEN_LIFETIME from the config (a timedelta or seconds), else 12 hours."""
    value = current_app.config.get("API_TOKEN_LIFETIME", DEFAULT_LIFETIME)
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


@bp.post("/tokens")
def create_token() -> ResponseReturnValue:
    """Exchange a username and password for a bearer token (throttled like the login page)."""
    body = json_body()
    fields = {name: body.get(name) for name in ("username", "password")}
    missing = {
        name: [form_text("This field is required.")]
        for name, value in fields.items()
        if not isinstance(value, str) or not value.strip()
    }
    if missing:
        fail(422, text("Please correct the marked fields."), missing)
    username = str(fields["username"]).strip()[:MAX_USERNAME]
    password = str(fields["password"])[:MAX_PASSWORD]
    key, now, guard = username.lower(), utcnow(), throttle()
    until = guard.locked_until(key, now)
    if until is not None:
        seconds = max(1, int((until - now).total_seconds()))
        message = text(
            "Too many failed logins for this username. Try again in %(minutes)s minutes.",
            minutes=-(-seconds // 60),
        )
        raise ApiError(429, message, headers={"Retry-After": str(seconds)})
    user = authenticate(username, password)
    if user is None:
        guard.failed(key, now)
        raise ApiError(
            401, text("Wrong username or password."), headers={"WWW-Authenticate": REALM}
        )
    guard.succeeded(key)
    lifetime = token_lifetime()
    token = issue_token(get_db(), user, lifetime, now)
    answer = {
        "token": token,
        "token_type": "Bearer",
        "expires_at": (now + lifetime).isoformat(timespec="seconds"),
        "expires_in": int(lifetime.total_seconds()),
        "username": user.username,
    }
    return answer, 201, {"Cache-Control": "no-store"}


@bp.delete("/tokens/current")
def revoke_current_token() -> ResponseReturnValue:
    """End the token this request carries (a client logging out); later calls get 401."""
    _scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    revoke_token(get_db(), token.strip())
    return "", 204


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi.document())


# --- tasks --------------------------------------------------------------------------------


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _choice(name: str, choices: tuple[str, ...], default: str, errors: dict[str, list[str]]) -> str:
    value = request.args.get(name, default)
    if value not in choices:
        errors[name] = [form_text("Not a valid choice.")]
        return default
    return value


def _number(name: str, default: int, top: int, errors: dict[str, list[str]]) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        errors[name] = [form_text("Not a valid integer value.")]
        return default
    return int(raw)


def end_of_today() -> datetime:
    """The end of today where the agency is (BABEL_DEFAULT_TIMEZONE), as naive UTC."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Jakarta")
    local = utcnow().replace(tzinfo=UTC).astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=zone)
    return midnight.astimezone(UTC).replace(tzinfo=None)


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = get_db().execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {user_id: username for user_id, username in rows}


def task_view(row: TaskModel) -> dict[str, Any]:
    """One task as the API shows it."""
    ids = {i for i in (row.assignee_id, row.claimed_by_id, row.completed_by_id) if i}
    return task_dict(row, _names(ids))


@bp.get("/tasks")
def tasks() -> ResponseReturnValue:
    """Open tasks the user may act on (scope all, mine or team), filtered, sorted and paged."""
    user, session = current_user(), get_db()
    errors: dict[str, list[str]] = {}
    scope = _choice("scope", SCOPES, "all", errors)
    due = _choice("due", DUE_FILTERS, "", errors) if "due" in request.args else ""
    sort = _choice("sort", SORTS, "due", errors)
    page = _number("page", 1, 10**6, errors)
    per_page = _number("per_page", current_app.config["INBOX_PAGE_SIZE"], MAX_PER_PAGE, errors)
    if errors:
        fail(400, text("Invalid input"), errors)
    query = select(TaskModel).join(Instance, TaskModel.instance_id == Instance.id)
    if scope == "mine":
        query = query.where(mine_filter(user))
    elif scope == "team":
        query = query.where(team_filter(user))
    else:  # the two tabs together: what may_act allows, as SQL
        query = query.where(actionable_filter(user))
    if process := request.args.get("process", "").strip():
        query = query.where(TaskModel.process_key == process[:255])
    if element := request.args.get("task", "").strip():
        query = query.where(TaskModel.element_id == element[:255])
    now = utcnow()
    if due == "overdue":
        query = query.where(TaskModel.due_at < now)
    elif due == "today":
        query = query.where(TaskModel.due_at < end_of_today())
    elif due == "week":
        query = query.where(TaskModel.due_at < now + timedelta(days=7))
    elif due == "none":
        query = query.where(TaskModel.due_at.is_(None))
    if search := request.args.get("q", "").strip()[:MAX_SEARCH]:
        query = query.where(TaskModel.business_key.ilike(_like(search), escape="\\"))
    cap = current_app.config["INBOX_COUNT_CAP"]
    total = count_up_to(session, query, cap)
    order = {
        "due": (TaskModel.due_at.is_(None), TaskModel.due_at, TaskModel.created_at),
        "-due": (TaskModel.due_at.is_(None), TaskModel.due_at.desc(), TaskModel.created_at),
        "created": (TaskModel.created_at,),
        "-created": (TaskModel.created_at.desc(),),
        "updated": (Instance.updated_at.desc(), TaskModel.created_at),  # last changed first
    }[sort]
    rows = list(
        session.scalars(
            query.order_by(*order, TaskModel.id).offset((page - 1) * per_page).limit(per_page)
        )
    )
    ids = {i for r in rows for i in (r.assignee_id, r.claimed_by_id, r.completed_by_id) if i}
    names = _names(ids)
    return {
        "tasks": [task_dict(r, names) for r in rows],
        "total": min(total, cap),
        "total_capped": total > cap,
        "page": page,
        "per_page": per_page,
        "pages": max(1, ceil(total / per_page)),
    }


# The task, its instance's starter and its version, in one statement built once.
_OPEN_TASK = (
    select(
        *TaskModel.__table__.columns,
        Instance.started_by_id,
        Instance.process_version_id,
        ProcessVersion.dialect,
        ProcessVersion.sha256,
    )
    .join(Instance, TaskModel.instance_id == Instance.id)
    .join(ProcessVersion, Instance.process_version_id == ProcessVersion.id)
    .where(TaskModel.id == bindparam("p_id"))
)


def open_task(task_id: int) -> tuple[SimpleNamespace, VersionRef]:
    """An open task the user may act on (its columns) and its version: 404 if it is not
    theirs, 409 if done or taken."""
    user, session = current_user(), get_db()
    found = session.connection().execute(_OPEN_TASK, {"p_id": task_id}).first()
    if found is None:
        fail(404, text("Not found"))
    row = SimpleNamespace(**found._asdict())
    if not may_act(session, user, row, row.started_by_id):
        fail(404, text("Not found"))
    if row.completed_at is not None:
        fail(409, text("This task has already been completed."))
    if row.claimed_by_id not in (None, user.id) and not is_admin(user):
        fail(409, text("Someone else took this task meanwhile."))
    return row, VersionRef(row.process_version_id, row.dialect, row.sha256)


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> ResponseReturnValue:
    """Claim a task: it becomes the user's until given back or completed."""
    open_task(task_id)
    try:
        row = claim_task(get_db(), task_id, current_user())
    except (NotAllowed, StaleTask):
        fail(409, text("Someone else took this task meanwhile."))
    return {"task": task_view(row)}


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int) -> ResponseReturnValue:
    """Give a claimed task back to its role."""
    open_task(task_id)
    row = unclaim_task(get_db(), task_id, current_user())
    return {"task": task_view(row)}


def _documents(body: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """``files: {field: {filename, content_base64}}`` as the forms take uploads."""
    documents: dict[str, tuple[str, bytes]] = {}
    errors: dict[str, list[str]] = {}
    for name, item in object_field(body, "files").items():
        filename = item.get("filename") if isinstance(item, dict) else None
        content = item.get("content_base64") if isinstance(item, dict) else None
        if not isinstance(filename, str) or not filename or not isinstance(content, str):
            errors[name] = [form_text("Invalid input.")]
            continue
        try:
            documents[name] = (filename[:255], base64.b64decode(content, validate=True))
        except (binascii.Error, ValueError):
            errors[name] = [form_text("Invalid input.")]
    if errors:
        fail(400, text("Invalid input"), errors)
    return documents


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> ResponseReturnValue:
    """Complete a task with JSON data checked by the task's form (as the page and the CLI)."""
    body = json_body()
    data, files = object_field(body, "data"), _documents(body)
    row, version = open_task(task_id)
    session, user = get_db(), current_user()
    meta = version.task_meta(session).get(row.element_id, {})
    result = forms.validate(
        row.form_key, data, files, locale=locale(), fields=meta.get("fields") or None
    )
    if not result.ok:
        fail(422, text("Please correct the marked fields."), dict(result.errors))
    try:
        outcome = complete_task(session, task_id, user, result.data)
    except NotAllowed:  # claimed by someone else between the check and the step
        fail(409, text("Someone else took this task meanwhile."))
    # Committed before the answer is read: the step holds the audit chain's lock (every
    # writer waits for it) until its commit, so reading first would make them all wait longer.
    session.commit()
    # The instance without its history: GET /api/instances/<id> has that.
    return completion(session, task_id, outcome.instance_id)


# --- instances and processes --------------------------------------------------------------


def instance_view(instance_id: int) -> dict[str, Any]:
    """An instance's summary, with each history entry's detail as JSON rather than text."""
    summary = instance_summary(get_db(), instance_id)
    for entry in summary["history"]:
        if isinstance(entry["detail"], str):
            with contextlib.suppress(ValueError):
                entry["detail"] = json.loads(entry["detail"])
    return summary


def may_see_instance(user: User, instance: Instance) -> bool:
    """Admins, the starter, and whoever has (or had) a task in the instance."""
    if is_admin(user) or instance.started_by_id == user.id:
        return True
    involved = or_(
        TaskModel.assignee_id == user.id,
        TaskModel.claimed_by_id == user.id,
        TaskModel.completed_by_id == user.id,
        actionable_filter(user),
    )
    found = get_db().scalar(
        select(TaskModel.id).where(TaskModel.instance_id == instance.id, involved).limit(1)
    )
    return found is not None


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int) -> ResponseReturnValue:
    """State, version, open tasks and history of an instance the user may see."""
    try:
        found = get_instance(get_db(), instance_id)
    except NotFound:
        fail(404, text("Not found"))
    if not may_see_instance(current_user(), found):
        fail(404, text("Not found"))
    return instance_view(instance_id)


@bp.post("/processes/<key>/instances")
def start(key: str) -> ResponseReturnValue:
    """Start the latest version of a process with initial data and an optional business key."""
    body = json_body(optional=True)
    data = object_field(body, "data")
    business_key = body.get("business_key")
    if business_key is not None and not isinstance(business_key, str):
        fail(400, text("Invalid input"), {"business_key": [form_text("Invalid input.")]})
    if not may_start(get_db(), current_user(), key):
        fail(403, text("Not allowed"))
    started = start_instance(get_db(), key, current_user(), data, business_key or None)
    location = f"{bp.url_prefix}/instances/{started.id}"
    return instance_view(started.id), 201, {"Location": location}


@bp.get("/processes")
def processes() -> ResponseReturnValue:
    """Deployed processes (latest version, every version number) and decisions."""
    session = get_db()
    versions: dict[str, list[int]] = {}
    for key, number in session.execute(
        select(ProcessVersion.key, ProcessVersion.version).order_by(
            ProcessVersion.key, ProcessVersion.version
        )
    ):
        versions.setdefault(key, []).append(number)
    listed = list_processes(session)
    return {
        "processes": [
            {**p, "versions": versions.get(p["key"], [])} for p in listed if p["kind"] == "process"
        ],
        "decisions": [p for p in listed if p["kind"] == "decision"],
    }


# --- errors -------------------------------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> ResponseReturnValue:
    return error_response(error)


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> ResponseReturnValue:
    return error_response(ApiError(404, text("Not found")))


@bp.errorhandler(NotAllowed)
def _not_allowed(error: NotAllowed) -> ResponseReturnValue:
    return error_response(ApiError(403, text("You may not do this.")))


@bp.errorhandler(StaleTask)
@bp.errorhandler(StaleDataError)
def _stale(error: Exception) -> ResponseReturnValue:
    return error_response(ApiError(409, text("Changed meanwhile")))


@bp.errorhandler(InvalidState)
def _invalid_state(error: InvalidState) -> ResponseReturnValue:
    return error_response(ApiError(409, text("The process is not in a state that allows this.")))


@bp.errorhandler(InvalidInput)
def _invalid_input(error: InvalidInput) -> ResponseReturnValue:
    message = text("The data sent cannot be used: %(reason)s", reason=str(error))
    return error_response(ApiError(422, message, {"data": [message]}))


@bp.errorhandler(JenjangError)
def _engine_error(error: JenjangError) -> ResponseReturnValue:
    return error_response(ApiError(409, text("The process is not in a state that allows this.")))


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    """An HTTP error as JSON (also for /api/ paths no route matched, via webui.db)."""
    code = error.code or 500
    message = {
        404: text("Not found"),
        405: text("This address does not take this request."),
        413: text("The files sent are too large."),
    }.get(code, text("The request could not be handled."))
    allowed = getattr(error, "valid_methods", None)
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return error_response(ApiError(code, message, headers=headers))


@bp.errorhandler(Exception)
def _server_error(error: Exception) -> ResponseReturnValue:
    log.exception("unhandled error in the API", exc_info=error)
    return error_response(ApiError(500, text("Something went wrong")))


# Deploying and reading process versions: routes on this blueprint, kept in their own module.
from webui import api_messages, api_processes  # noqa: E402, F401
