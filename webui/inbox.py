"""The staff inbox: "Tugas saya" and "Tugas tim", claim and unclaim, and the task page.

Lists are one indexed query on the task table (joined to its instance and version for the
starter and the process name): no workflow is loaded to show an inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from math import ceil
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request
from flask import url_for as url
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased
from werkzeug.datastructures import FileStorage, MultiDict

from engine.errors import NotAllowed, StaleTask
from engine.models import Instance, ProcessVersion, TaskModel, User, utcnow
from engine.notifications import UNREAD_CAP
from engine.queries import count_up_to, mine_filter, role_task_choices, team_filter
from engine.runtime import (
    claim_task,
    complete_task,
    get_instance,
    get_task,
    is_admin,
    may_act,
    unclaim_task,
)
from webui import imports, taskpage
from webui.auth import current_account, safe_next
from webui.db import get_db

bp = Blueprint("inbox", __name__, url_prefix="/tugas")
MINE, TEAM = "saya", "tim"
SORTS = {"due", "-due", "created", "-created", "updated"}
DUE_FILTERS = {"overdue", "week", "none"}
MAX_SEARCH = 100
NEXT_TASK = "lanjut"  # the "Simpan & tugas berikutnya" button


def _base(user: User, tab: str) -> Any:  # a Select (its generic form differs in SA 2.0/2.1)
    claimer = aliased(User)
    return (
        select(TaskModel, ProcessVersion.name, claimer.full_name, claimer.username)
        .join(Instance, TaskModel.instance_id == Instance.id)
        .join(ProcessVersion, Instance.process_version_id == ProcessVersion.id)
        .outerjoin(claimer, TaskModel.claimed_by_id == claimer.id)
        .where(mine_filter(user) if tab == MINE else team_filter(user))
    )


def counts() -> dict[str, int]:
    """How many tasks are in each tab (for the navigation), once per request."""
    if "inbox_counts" not in g:
        user = current_account()
        session = get_db()
        cap = current_app.config["INBOX_COUNT_CAP"]
        g.inbox_counts = {
            tab: count_up_to(
                session,
                # every task has its instance: no join to count them
                select(TaskModel.id).where(mine_filter(user) if tab == MINE else team_filter(user)),
                cap,
            )
            for tab in (MINE, TEAM)
        }
    found: dict[str, int] = g.inbox_counts
    return found


@dataclass
class Listing:
    """What the inbox page shows: rows, the filters in force and where the pages are."""

    tab: str
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    args: dict[str, str]
    processes: list[tuple[str, str]]
    tasks: list[tuple[str, str]]


def _arguments() -> dict[str, str]:
    args = {
        "proses": request.args.get("proses", "").strip()[:255],
        "tugas": request.args.get("tugas", "").strip()[:255],
        "tenggat": request.args.get("tenggat", ""),
        "urut": request.args.get("urut", "due"),
        "q": request.args.get("q", "").strip()[:MAX_SEARCH],
    }
    if args["tenggat"] not in DUE_FILTERS:
        args["tenggat"] = ""
    if args["urut"] not in SORTS:
        args["urut"] = "due"
    return args


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listing(tab: str) -> Listing:
    """The inbox tab for the logged-in user, filtered, sorted and paged from the query string."""
    user, session = current_account(), get_db()
    args = _arguments()
    query = _base(user, tab)
    now = utcnow()
    filters = []
    if args["proses"]:
        filters.append(TaskModel.process_key == args["proses"])
    if args["tugas"]:
        filters.append(TaskModel.element_id == args["tugas"])
    if args["tenggat"] == "overdue":
        filters.append(TaskModel.due_at < now)
    elif args["tenggat"] == "week":
        filters.append(TaskModel.due_at < now + timedelta(days=7))
    elif args["tenggat"] == "none":
        filters.append(TaskModel.due_at.is_(None))
    if args["q"]:
        filters.append(TaskModel.business_key.ilike(_like(args["q"]), escape="\\"))
    query = query.where(*filters)
    # Counted on the task table alone (every task has its instance and version): an
    # index-only count instead of a join per open task.
    tab_filter = mine_filter(user) if tab == MINE else team_filter(user)
    if filters:
        total = count_up_to(
            session,
            select(TaskModel.id).where(tab_filter, *filters),
            current_app.config["INBOX_COUNT_CAP"],
        )
    else:  # the whole tab: the navigation's count, counted once per request
        total = counts()[tab]
    size = current_app.config["INBOX_PAGE_SIZE"]
    pages = max(1, ceil(total / size))
    page = min(max(1, request.args.get("hal", 1, type=int) or 1), pages)
    order = {
        # NULLS LAST rather than `due_at IS NULL` first: the same order, and one that
        # ix_task_open_team serves, so a page is read off the index instead of sorted.
        "due": (TaskModel.due_at.asc().nulls_last(), TaskModel.created_at),
        "-due": (TaskModel.due_at.desc().nulls_last(), TaskModel.created_at),
        "created": (TaskModel.created_at,),
        "-created": (TaskModel.created_at.desc(),),
        "updated": (Instance.updated_at.desc(), TaskModel.created_at),  # last changed first
    }[args["urut"]]
    found = session.execute(
        query.order_by(*order, TaskModel.id).offset((page - 1) * size).limit(size)
    ).all()
    rows = [
        {
            "task": task,
            "process_name": process_name or task.process_key,
            "claimed_by": claimer_name or claimer_username,
            "overdue": task.due_at is not None and task.due_at < now,
        }
        for task, process_name, claimer_name, claimer_username in found
    ]
    if tab == TEAM:
        # A role's queue may hold a million tasks: its choices come from the deployed
        # diagrams (the tasks of these roles), not from a scan of the queue.
        processes, tasks = role_task_choices(session, user.role_names)
    else:
        # My own tasks are few: the distinct tasks among them, each process by its newest name.
        options = session.execute(
            select(TaskModel.process_key, TaskModel.element_id, TaskModel.name)
            .where(tab_filter)
            .distinct()
        ).all()
        keys = {key for key, _e, _n in options}
        titles = dict(
            session.execute(
                select(ProcessVersion.key, ProcessVersion.name)
                .where(ProcessVersion.key.in_(keys))
                .order_by(ProcessVersion.version)
            ).all()
        )
        processes = sorted({(key, titles.get(key) or key) for key in keys}, key=lambda p: p[1])
        tasks = sorted({(element, name) for _k, element, name in options}, key=lambda t: t[1])
    return Listing(tab, rows, total, page, pages, args, processes, tasks)


@bp.get("")
@login_required
def mine() -> ResponseReturnValue:
    """Tugas saya: tasks claimed by or assigned to me."""
    return render_template("inbox.html", listing=listing(MINE))


@bp.get("/tim")
@login_required
def team() -> ResponseReturnValue:
    """Tugas tim: tasks of my roles that nobody has claimed yet."""
    return render_template("inbox.html", listing=listing(TEAM))


def visible_task(task_id: int) -> tuple[TaskModel, Instance]:
    """An open task the user may act on, or 404 (someone else's task is not even shown)."""
    session, user = get_db(), current_account()
    row = get_task(session, task_id)
    instance = get_instance(session, row.instance_id)
    if not may_act(session, user, row, instance.started_by_id):
        abort(404)
    if row.claimed_by_id not in (None, user.id) and not is_admin(user):
        abort(404)
    return row, instance


def _back() -> str:
    return safe_next(request.form.get("next")) or url("inbox.mine")


@bp.post("/<int:task_id>/ambil")
@login_required
def claim(task_id: int) -> ResponseReturnValue:
    """Claim a task: it moves from Tugas tim to Tugas saya."""
    row, _instance = visible_task(task_id)
    if row.completed_at is not None:
        flash(_("This task has already been completed."), "warning")
        return redirect(_back(), 303)
    try:
        claim_task(get_db(), task_id, current_account())
    except (NotAllowed, StaleTask):
        get_db().rollback()
        flash(_("Someone else took this task meanwhile."), "warning")
        return redirect(_back(), 303)
    flash(_("Task “%(name)s” is now yours.", name=row.name), "success")
    return redirect(_back(), 303)


@bp.post("/<int:task_id>/lepas")
@login_required
def unclaim(task_id: int) -> ResponseReturnValue:
    """Give a claimed task back to the team."""
    row, _instance = visible_task(task_id)
    if row.completed_at is not None:
        flash(_("This task has already been completed."), "warning")
        return redirect(_back(), 303)
    unclaim_task(get_db(), task_id, current_account())
    flash(_("Task “%(name)s” is back in the team's tasks.", name=row.name), "success")
    return redirect(_back(), 303)


def next_task(done: TaskModel) -> TaskModel | None:
    """The next open task at the same BPMN element that is the user's or their team's."""
    user = current_account()
    return get_db().scalar(
        select(TaskModel)
        .join(Instance, TaskModel.instance_id == Instance.id)
        .where(
            TaskModel.process_key == done.process_key,
            TaskModel.element_id == done.element_id,
            TaskModel.id != done.id,
            or_(mine_filter(user), team_filter(user)),
        )
        .order_by(TaskModel.due_at.is_(None), TaskModel.due_at, TaskModel.created_at, TaskModel.id)
        .limit(1)
    )


def next_task_url(done: TaskModel) -> str:
    """Where "Simpan & tugas berikutnya" goes: the next such task (claimed), else the inbox."""
    session, user = get_db(), current_account()
    found = next_task(done)
    if found is not None and found.claimed_by_id is None:
        try:
            with session.begin_nested():  # a failed claim keeps the completion just made
                claim_task(session, found.id, user)
        except (NotAllowed, StaleTask):
            found = None
    if found is None:
        flash(_("No open task “%(name)s” is left.", name=done.name), "info")
        return url("inbox.mine")
    return url("inbox.task", task_id=found.id)


@bp.route("/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> ResponseReturnValue:
    """The task page: its form, the instance's context and history; POST completes it."""
    session, user = get_db(), current_account()
    row, instance = visible_task(task_id)
    if row.completed_at is not None:
        flash(_("This task has already been completed."), "info")
        return redirect(url("inbox.mine"))
    page = taskpage.TaskPage.build(session, row, instance)
    page.preview_first = imports.is_score_import(row)
    if request.method == "POST":
        files: MultiDict[str, FileStorage] = request.files
        if page.preview_first:  # a score file: preview first, complete only with "Terapkan"
            confirmed = imports.confirmed_upload(session, page)
            if confirmed is None:
                return imports.preview(session, page)
            files = confirmed
        result = page.submit(request.form, files)
        if result.ok:
            complete_task(session, task_id, user, result.data)
            flash(_("Task “%(name)s” is completed.", name=row.name), "success")
            if request.form.get(NEXT_TASK):
                return redirect(next_task_url(row), 303)
            return redirect(url("inbox.mine"), 303)
        return render_template("task.html", page=page, row=row, now=utcnow()), 422
    return render_template("task.html", page=page, row=row, now=utcnow())


@bp.app_template_filter("tally")
def tally(count: object) -> str:
    """A queue's count in Indonesian digits, "1.000+" past INBOX_COUNT_CAP (not counted out)."""
    if not isinstance(count, int):  # e.g. a page whose own `counts` is something else
        return ""
    cap = int(current_app.config["INBOX_COUNT_CAP"])
    return f"{format_decimal(cap)}+" if count > cap else str(format_decimal(count))


@bp.app_template_filter("badge")
def badge(count: object) -> str:
    """An unread badge: "99+" past engine.notifications.UNREAD_CAP."""
    if not isinstance(count, int) or not count:
        return ""
    return f"{UNREAD_CAP}+" if count > UNREAD_CAP else str(count)
