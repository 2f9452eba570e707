"""Notifications for everyone (/notifikasi) and the email preference (/akun/notifikasi).

The page lists a person's own notices (tasks assigned to them, escalations) and the open
tasks of their roles nobody has taken yet; opening it reads them all, and the page still
marks what was new. A notice's own page (/notifikasi/<id>) marks it read and links to its
task; someone else's id answers 404. Applicants keep their page in the portal
(/pelamar/notifikasi), which shows the same notices beside the outcomes of their
applications. The navigation shows the unread count on every page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import NotFound
from engine.models import TaskModel, User
from engine.notifications import (
    mark_all_read,
    mark_read,
    notifications_of,
    role_tasks,
    set_email_preference,
    tasks_seen_up_to,
    unread_count,
    wants_email,
)
from webui.auth import current_account
from webui.db import get_db

bp = Blueprint("notifications", __name__)
APPLICANT_ROLE = "pelamar"
PAGE_LIMIT = 50
CHOICES = ("email", "aplikasi")


def is_applicant(user: User) -> bool:
    """Applicants read their notifications in the portal, beside their applications."""
    return APPLICANT_ROLE in user.role_names


def own_notices(user: User) -> dict[str, Any]:
    """The person's notices and role tasks, what was new, then everything marked read."""
    session = get_db()
    rows = notifications_of(session, user.id, PAGE_LIMIT)
    tasks = role_tasks(session, user, PAGE_LIMIT)
    seen_tasks = tasks_seen_up_to(session, user.id)
    found = {
        "rows": rows,
        "new_rows": {row.id for row, _name in rows if row.read_at is None},
        "tasks": tasks,
        "seen_tasks": seen_tasks,
    }
    mark_all_read(session, user.id, max((t.id for t in tasks), default=0))
    g.unread_notices = 0
    return found


def unread_notices() -> int:
    """Unread notices and new role tasks of the logged-in person (once per request)."""
    if "unread_notices" not in g:
        g.unread_notices = unread_count(get_db(), current_account())
    count: int = g.unread_notices
    return count


@bp.get("/notifikasi")
@login_required
def index() -> ResponseReturnValue:
    """The person's notifications; opening the page reads them (the new ones stay marked)."""
    user = current_account()
    if is_applicant(user):
        return redirect(url_for("portal.notifications"))
    found = own_notices(user)
    return render_template("notifications/index.html", **found)


@bp.get("/notifikasi/<int:notification_id>")
@login_required
def notice(notification_id: int) -> ResponseReturnValue:
    """One notice, marked read, with a link to its task; someone else's answers 404."""
    user, session = current_account(), get_db()
    try:
        row = mark_read(session, user.id, notification_id)
    except NotFound:
        abort(404)
    task = session.get(TaskModel, row.task_id) if row.task_id is not None else None
    back = "portal.notifications" if is_applicant(user) else "notifications.index"
    return render_template("notifications/notice.html", n=row, task=task, back=back)


@bp.route("/akun/notifikasi", methods=["GET", "POST"])
@login_required
def preference() -> ResponseReturnValue:
    """Choose email as well as in-app notifications, or in-app only."""
    user, session = current_account(), get_db()
    if request.method == "POST":
        choice = request.form.get("kirim", "")
        if choice not in CHOICES:
            error = _("Choose how you want to be notified.")
            return render_template(
                "notifications/preference.html", choice="", error=error, user=user
            ), 422
        set_email_preference(session, user.id, choice == "email")
        flash(_("Your notification setting is saved."), "success")
        return redirect(url_for("notifications.preference"), 303)
    choice = "email" if wants_email(session, user.id) else "aplikasi"
    return render_template("notifications/preference.html", choice=choice, error="", user=user)


@bp.app_context_processor
def notification_globals() -> dict[str, Any]:
    """The unread count beside Notifikasi in the navigation (staff; applicants: the portal)."""
    if not current_user.is_authenticated or is_applicant(current_account()):
        return {"staff_unread": 0}  # applicants: the portal's count (portal_globals)
    try:
        return {"staff_unread": unread_notices()}
    except SQLAlchemyError:  # an error page about the database still shows
        return {"staff_unread": 0}
