"""Processes and their versions (/proses): list, versions, diff, migration; the instance view.

The process pages are for process owners (``pemilik_proses``) and admins; anyone else gets 404.
The instance view is for whoever may see the instance (engine.instance_admin); its admin
actions (cancel, retry, reassign) take a reason that goes into the audit trail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from engine.errors import InvalidInput, JenjangError, NotFound
from engine.instance_admin import (
    MAX_REASON,
    check_reason,
    eligible_users,
    is_process_owner,
    may_see_history_data,
    may_view_instance,
    reassign_task,
)
from engine.instance_view import highlights, instance_data
from engine.migration import MigrationPlan, migrate_instance, plan_migration
from engine.models import Instance, TaskModel, User
from engine.queries import instance_summary, list_tasks
from engine.runtime import cancel_instance, get_instance, is_admin, retry_instance
from engine.versions import (
    diff_versions,
    get_version,
    instances_of_version,
    list_versions,
    process_overview,
    version_elements,
    version_xml,
)
from webui.auth import current_account
from webui.db import get_db
from webui.taskpage import ACTIONS, STATES, show_value

bp = Blueprint("processes", __name__, url_prefix="/proses")
MAX_IDS = 500
ACTIONS_HERE = {
    **ACTIONS,
    "reassigned": _l("Reassigned"),
    "migrated": _l("Moved to another version"),
    "deployed": _l("Deployed"),
}
PROPERTIES = {
    "type": _l("Type"),
    "name": _l("Name"),
    "lane": _l("Lane"),
    "role": _l("Role"),
    "form_key": _l("Form key"),
    "assignee": _l("Assignee"),
    "due": _l("Due date"),
    "conditionExpression": _l("Condition"),
    "script": _l("Script"),
    "sourceRef": _l("From"),
    "targetRef": _l("To"),
    "default": _l("Default flow"),
    "calledDecisionId": _l("Decision"),
    "calledElement": _l("Called process"),
    "attachedToRef": _l("Attached to"),
}


class ReasonForm(FlaskForm):
    """A reason for an admin action (cancel)."""

    reason = TextAreaField(_l("Reason"), [Length(max=MAX_REASON)])


class RetryForm(ReasonForm):
    """A reason and, optionally, corrected data (a JSON object) for a retry."""

    data = TextAreaField(_l("Corrected data (JSON object, optional)"), [Length(max=100_000)])


class ReassignForm(ReasonForm):
    """The user who gets the task, and why."""

    user = SelectField(_l("New assignee"), validate_choice=False)


class MigrationForm(FlaskForm):
    """From which version to which, and for which instances (all when none is chosen)."""

    source = SelectField(_l("From version"), coerce=int, validate_choice=False)
    target = SelectField(_l("To version"), coerce=int, validate_choice=False)
    reason = StringField(_l("Reason"), [Length(max=MAX_REASON)])


def owner() -> User:
    """The logged-in process owner or admin; anyone else gets 404."""
    user = current_account()
    if not is_process_owner(user):
        abort(404)
    return user


def editor_url(key: str) -> str | None:
    """The diagram editor's page for a process, when the editor is installed."""
    try:
        return url_for("editor.open_process", key=key)
    except BuildError:
        return None


def property_label(name: str) -> str:
    """A diff property in the reader's language (technical paths as they are)."""
    label = PROPERTIES.get(name)
    return str(label) if label is not None else name


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    """Every process: latest version, who deployed it when, running instances per version."""
    owner()
    rows = process_overview(get_db())
    return render_template("processes/index.html", rows=rows, editor_url=editor_url)


@bp.get("/<key>")
@login_required
def versions(key: str) -> ResponseReturnValue:
    """The versions of a process with their instances, and a form to compare two of them."""
    owner()
    session = get_db()
    rows = list_versions(session, key)
    for row in rows:
        row["deployed"] = datetime.fromisoformat(row["deployed_at"]) if row["deployed_at"] else None
    running = {
        row["version"]: instances_of_version(
            session, get_version(session, key, row["version"]), active_only=True, limit=50
        )
        for row in rows
        if row["active_instances"]
    }
    return render_template(
        "processes/versions.html",
        key=key,
        rows=rows,
        running=running,
        editor_url=editor_url(key),
        states=STATES,
    )


@bp.get("/<key>/v<int:number>")
@login_required
def version(key: str, number: int) -> ResponseReturnValue:
    """One version on the diagram viewer, with the instances that run on it."""
    owner()
    session = get_db()
    pv = get_version(session, key, number)
    return render_template(
        "processes/version.html",
        pv=pv,
        xml=version_xml(session, pv),
        instances=instances_of_version(session, pv, limit=200),
        marks={"completed": [], "current": [], "error": [], "flows": []},
        states=STATES,
    )


@bp.get("/<key>/v<int:number>/xml")
@login_required
def version_file(key: str, number: int) -> ResponseReturnValue:
    """The BPMN XML of a version, as a download."""
    owner()
    session = get_db()
    pv = get_version(session, key, number)
    name = f"{key}-v{number}.bpmn"
    return Response(
        version_xml(session, pv),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _version_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


@bp.get("/<key>/beda")
@login_required
def diff(key: str) -> ResponseReturnValue:
    """Elements added, removed and changed between two versions."""
    owner()
    session = get_db()
    rows = list_versions(session, key)
    numbers = [r["version"] for r in rows]
    old, new = _version_arg("dari"), _version_arg("ke")
    if old is None or new is None or old not in numbers or new not in numbers or old == new:
        flash(_("Choose two different versions to compare."), "error")
        return redirect(url_for("processes.versions", key=key), 303)
    result = diff_versions(session, key, old, new)
    return render_template(
        "processes/diff.html", key=key, diff=result, numbers=numbers, label=property_label
    )


# --- migration ----------------------------------------------------------------------------


def _selected_ids() -> list[int] | None:
    raw = request.form.getlist("instance")
    ids = sorted({int(v) for v in raw if v.isdigit()})[:MAX_IDS]
    return ids or None


def _migrate_page(
    key: str, form: MigrationForm, plan: MigrationPlan | None, moved: list[int] | None
) -> str:
    """The migration page: the form, the dry run's table, what moved."""
    return render_template(
        "processes/migrate.html", states=STATES, key=key, form=form, plan=plan, moved=moved
    )


@bp.route("/<key>/migrasi", methods=["GET", "POST"])
@login_required
def migrate(key: str) -> ResponseReturnValue:
    """Move running instances of one version to another: a dry run first, then the move."""
    actor = owner()
    session = get_db()
    rows = list_versions(session, key)
    numbers = [r["version"] for r in rows]
    form = MigrationForm()
    form.source.choices = [(n, f"v{n}") for n in numbers]
    form.target.choices = [(n, f"v{n}") for n in numbers]
    if request.method == "GET":
        form.source.data = _version_arg("dari") or (numbers[1] if len(numbers) > 1 else numbers[0])
        form.target.data = _version_arg("ke") or numbers[0]
        return _migrate_page(key, form, None, None)
    valid = form.validate_on_submit()
    source, target = form.source.data, form.target.data
    if not valid or source not in numbers or target not in numbers:
        flash(_("Choose versions from the list."), "error")
        return _migrate_page(key, form, None, None), 422
    try:
        plan = plan_migration(session, key, source, target, _selected_ids())
    except JenjangError as exc:
        flash(_("Cannot move instances: %(reason)s", reason=str(exc)), "error")
        return _migrate_page(key, form, None, None), 422
    if request.form.get("action") != "run":
        return _migrate_page(key, form, plan, None)
    if not _selected_ids():  # nothing ticked: never "all" by accident
        flash(_("Choose at least one instance to move."), "error")
        page = _migrate_page(key, form, plan, None)
        return page, 422
    moved: list[int] = []
    failed: dict[int, str] = {}
    reason = (form.reason.data or "").strip() or None
    for candidate in plan.movable:
        try:
            migrate_instance(session, candidate.instance_id, actor, key, source, target, reason)
            session.commit()  # one transaction per instance
            moved.append(candidate.instance_id)
        except JenjangError as exc:
            session.rollback()
            failed[candidate.instance_id] = str(exc)
        actor = current_account()
    for candidate in plan.candidates:
        if candidate.instance_id in failed:
            candidate.reasons = [failed[candidate.instance_id]]
    flash(
        _(
            "%(moved)s instances moved to version %(target)s; %(left)s could not move.",
            moved=len(moved),
            target=target,
            left=len(plan.candidates) - len(moved),
        ),
        "success" if moved else "warning",
    )
    return _migrate_page(key, form, plan, moved)


# --- the instance view --------------------------------------------------------------------


def viewable(instance_id: int) -> Instance:
    """An instance the user may see, or 404."""
    session, user = get_db(), current_account()
    try:
        instance = get_instance(session, instance_id)
    except NotFound:
        abort(404)
    if not may_view_instance(session, user, instance):
        abort(404)
    return instance


def admin_only() -> User:
    """The logged-in admin (the actions are not offered to anyone else: 404)."""
    user = current_account()
    if not is_admin(user):
        abort(404)
    return user


def _history(instance: Instance, with_data: bool, names: dict[str, str]) -> list[dict[str, Any]]:
    summary = instance_summary(get_db(), instance.id)
    meta = instance.process_version.task_meta
    out = []
    for entry in summary["history"]:
        detail = json.loads(entry["detail"] or "{}")
        element = entry["element"]
        name = (meta.get(element, {}).get("name") or names.get(element)) if element else None
        shown: list[tuple[str, str]] = []
        if detail.get("reason"):
            shown.append((_("Reason"), show_value(detail["reason"])))
        if entry["action"] == "reassigned":
            shown.append((_("To"), show_value(detail.get("to"))))
        if entry["action"] == "migrated":
            shown.append((_("Versions"), f"v{detail.get('from')} → v{detail.get('to')}"))
        if entry["action"] == "error" and detail.get("message"):
            shown.append((_("Message"), show_value(detail["message"])))
        if with_data and isinstance(detail.get("data"), dict):
            shown += [(k, show_value(v)) for k, v in detail["data"].items()]
        out.append(
            {
                "at": datetime.fromisoformat(entry["at"]) if entry["at"] else None,
                "actor": entry["actor"],
                "action": str(ACTIONS_HERE.get(entry["action"], entry["action"])),
                "element": name or element or "",
                "detail": shown,
            }
        )
    return out


def _instance_page(instance: Instance, status: int = 200, **forms: Any) -> ResponseReturnValue:
    session, user = get_db(), current_account()
    admin = is_admin(user)
    tasks = list_tasks(session, instance_id=instance.id)
    reassign: dict[int, ReassignForm] = {}
    if admin:
        for task in tasks:
            form = forms.get(f"reassign_{task['id']}") or ReassignForm(formdata=None)
            form.user.choices = [
                (u.username, f"{u.full_name or u.username} ({u.username})")
                for u in eligible_users(session, task["id"])
            ]
            reassign[task["id"]] = form
    data = None
    if admin:
        data = [
            (key, show_value(value))
            for key, value in sorted(instance_data(session, instance).items())
            if not key.startswith("_")
        ]
    elements = version_elements(session, instance.process_version)
    names = {e.id: e.name or e.id for e in elements.values()}
    page = render_template(
        "processes/instance.html",
        instance=instance,
        pv=instance.process_version,
        xml=version_xml(session, instance.process_version),
        marks=highlights(session, instance).as_dict(),
        element_names=names,
        tasks=tasks,
        history=_history(instance, may_see_history_data(session, user, instance), names),
        data=data,
        admin=admin,
        owner=is_process_owner(user),
        cancel_form=forms.get("cancel") or ReasonForm(formdata=None),
        retry_form=forms.get("retry") or RetryForm(formdata=None),
        reassign=reassign,
        states=STATES,
    )
    return page, status


@bp.get("/instance/<int:instance_id>")
@login_required
def instance(instance_id: int) -> ResponseReturnValue:
    """An instance on its version's diagram, its open tasks, its history (and data, admins)."""
    return _instance_page(viewable(instance_id))


def _check_form(form: FlaskForm) -> None:
    """The form's first problem as one line naming the field (a reason that is too long)."""
    if form.validate_on_submit():
        return
    for name, messages in form.errors.items():
        raise InvalidInput(f"{name}: {messages[0] if messages else 'invalid'}")
    raise InvalidInput("the form could not be read")


def _refused(instance: Instance, exc: JenjangError, **forms: Any) -> ResponseReturnValue:
    get_db().rollback()
    flash(_("Not done: %(reason)s", reason=str(exc)), "error")
    return _instance_page(viewable(instance.id), 422, **forms)


@bp.post("/instance/<int:instance_id>/batalkan")
@login_required
def cancel(instance_id: int) -> ResponseReturnValue:
    """Cancel an instance, with a reason (admins)."""
    actor = admin_only()
    found = viewable(instance_id)
    form = ReasonForm()
    try:
        _check_form(form)
        cancel_instance(get_db(), instance_id, actor, check_reason(form.reason.data, "cancel"))
    except JenjangError as exc:
        return _refused(found, exc, cancel=form)
    flash(_("Instance %(id)s has been cancelled.", id=instance_id), "success")
    return redirect(url_for("processes.instance", instance_id=instance_id), 303)


@bp.post("/instance/<int:instance_id>/ulangi")
@login_required
def retry(instance_id: int) -> ResponseReturnValue:
    """Run the failed element of an instance again, with a reason and corrected data."""
    actor = admin_only()
    found = viewable(instance_id)
    form = RetryForm()
    try:
        _check_form(form)
        reason = check_reason(form.reason.data, "retry")
        data = _json_object(form.data.data or "")
        retry_instance(get_db(), instance_id, actor, data, reason=reason)
    except JenjangError as exc:
        return _refused(found, exc, retry=form)
    flash(_("Instance %(id)s has been run again.", id=instance_id), "success")
    return redirect(url_for("processes.instance", instance_id=instance_id), 303)


def _json_object(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"data: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidInput("data: must be a JSON object")
    return value


@bp.post("/instance/<int:instance_id>/tugas/<int:task_id>/alihkan")
@login_required
def reassign(instance_id: int, task_id: int) -> ResponseReturnValue:
    """Give an open task to another user who may do it, with a reason (admins)."""
    actor = admin_only()
    found = viewable(instance_id)
    session = get_db()
    form = ReassignForm()
    row = session.get(TaskModel, task_id)
    if row is None or row.instance_id != instance_id:
        abort(404)
    try:
        _check_form(form)
        row = reassign_task(session, task_id, actor, form.user.data or "", form.reason.data or "")
    except JenjangError as exc:
        return _refused(found, exc, **{f"reassign_{task_id}": form})
    flash(
        _("Task “%(name)s” now belongs to %(user)s.", name=row.name, user=form.user.data), "success"
    )
    return redirect(url_for("processes.instance", instance_id=instance_id), 303)


@bp.app_context_processor
def processes_globals() -> dict[str, Any]:
    """Whether the navigation shows the process list."""
    if not current_user.is_authenticated:
        return {"processes_nav": False}
    try:
        return {"processes_nav": is_process_owner(current_account())}
    except SQLAlchemyError:  # an error page about the database still shows
        return {"processes_nav": False}
