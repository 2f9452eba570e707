"""Employee pages, continued: "Permintaan saya" (my requests and their steps) and "Tim saya"
(a supervisor's team), as routes on the employee blueprint of webui/employee.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import (
    abort,
    render_template,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import func, select

from engine.hr import (
    EmployeePredicate,
)
from engine.models import Instance, TaskModel, User, utcnow
from engine.queries import concerning, end_reached, instance_summary
from engine.records import employee_record
from webui.auth import current_account
from webui.db import get_db
from webui.employee import (
    MAX_LISTED,
    OPEN_STATES,
    REQUEST_PROCESSES,
    bp,
    direct_reports,
    employee,
    jp_target,
    record_of,
)
from webui.taskpage import ACTIONS, STATES

# -- my requests --------------------------------------------------------------------------------


@dataclass
class RequestRow:
    """One request as the list shows it."""

    instance: Instance
    process_name: str
    state: str
    steps: list[str]
    outcome: str | None


def open_steps(instance_ids: list[int]) -> dict[int, list[str]]:
    """The names of each instance's open tasks (its current steps)."""
    found: dict[int, list[str]] = {}
    if not instance_ids:
        return found
    rows = get_db().execute(
        select(TaskModel.instance_id, TaskModel.name)
        .where(TaskModel.instance_id.in_(instance_ids), TaskModel.completed_at.is_(None))
        .order_by(TaskModel.created_at, TaskModel.id)
    )
    for instance_id, name in rows:
        found.setdefault(instance_id, []).append(name)
    return found


def outcome_of(instance: Instance) -> str | None:
    """How an ended request ended: the name of the end event it reached, or 'Cancelled'."""
    if instance.state == "cancelled":
        return str(STATES["cancelled"])
    return end_reached(get_db(), instance)


def own_instance(instance_id: int) -> Instance:
    """The employee's own request; anyone else's (or another process's) is 404."""
    user = employee()
    instance = get_db().get(Instance, instance_id)
    if (
        instance is None
        or user.id not in (instance.started_by_id, instance.subject_id)
        or instance.process_key not in REQUEST_PROCESSES
    ):
        abort(404)
    return instance


@bp.get("/permintaan")
@login_required
def requests() -> ResponseReturnValue:
    """Permintaan saya: the employee's training, mentoring, appraisal and promotion requests."""
    user = employee()
    rows = list(
        get_db().scalars(
            select(Instance)
            .where(concerning(user.id), Instance.process_key.in_(REQUEST_PROCESSES))
            .order_by(Instance.started_at.desc(), Instance.id.desc())
            .limit(MAX_LISTED)
        )
    )
    steps = open_steps([i.id for i in rows])
    items = [
        RequestRow(
            instance=i,
            process_name=i.process_version.name or i.process_key,
            state=str(STATES.get(i.state, i.state)),
            steps=steps.get(i.id, []),
            outcome=outcome_of(i),
        )
        for i in rows
    ]
    return render_template("employee/requests.html", items=items)


@bp.get("/permintaan/<int:instance_id>")
@login_required
def request_detail(instance_id: int) -> ResponseReturnValue:
    """One request: state, current steps, outcome, my open tasks and the history."""
    instance, user = own_instance(instance_id), current_account()
    summary = instance_summary(get_db(), instance.id)
    meta = instance.process_version.task_meta
    history = [
        {
            "at": datetime.fromisoformat(h["at"]) if h["at"] else None,
            "actor": h["actor"],
            "action": str(ACTIONS.get(h["action"], h["action"])),
            "element": (meta.get(h["element"], {}).get("name") if h["element"] else None)
            or h["element"]
            or "",
        }
        for h in summary["history"]
    ]
    return render_template(
        "employee/request.html",
        instance=instance,
        summary=summary,
        process_name=instance.process_version.name or instance.process_key,
        state=str(STATES.get(instance.state, instance.state)),
        outcome=outcome_of(instance),
        my_tasks=[t for t in summary["open_tasks"] if t["assignee"] == user.username],
        other_tasks=[t for t in summary["open_tasks"] if t["assignee"] != user.username],
        history=history,
    )


# -- my team ------------------------------------------------------------------------------------


def team_rows(reports: list[User]) -> list[dict[str, Any]]:
    """Per direct report: golongan, last predicate, JP this year, open tasks and requests."""
    session = get_db()
    ids = [u.id for u in reports]
    open_tasks = dict(
        session.execute(
            select(TaskModel.assignee_id, func.count())
            .where(TaskModel.assignee_id.in_(ids), TaskModel.completed_at.is_(None))
            .group_by(TaskModel.assignee_id)
        ).all()
    )
    person = func.coalesce(Instance.subject_id, Instance.started_by_id)
    open_requests = dict(
        session.execute(
            select(person, func.count())
            .where(
                person.in_(ids),
                Instance.process_key.in_(REQUEST_PROCESSES),
                Instance.state.in_(OPEN_STATES),
            )
            .group_by(person)
        ).all()
    )
    target, found = jp_target(), []
    for user in reports:
        record = employee_record(session, user.username)
        last = session.scalar(
            select(EmployeePredicate)
            .where(EmployeePredicate.user_id == user.id)
            .order_by(EmployeePredicate.tahun.desc())
            .limit(1)
        )
        found.append(
            {
                "user": user,
                "golongan": record["golongan"],
                "predicate": last,
                "jp": int(record["jp_tahun_ini"]),
                "target": target,
                "tasks": int(open_tasks.get(user.id, 0)),
                "requests": int(open_requests.get(user.id, 0)),
            }
        )
    return found


@bp.get("/tim")
@login_required
def team() -> ResponseReturnValue:
    """Tim saya: the supervisor's direct reports; 404 for someone who supervises nobody."""
    reports = direct_reports(current_account())
    if not reports:
        abort(404)
    return render_template("employee/team.html", rows=team_rows(reports), year=utcnow().year)


@bp.get("/tim/<username>")
@login_required
def member(username: str) -> ResponseReturnValue:
    """A direct report's record; anyone else's is 404."""
    found = [u for u in direct_reports(current_account()) if u.username == username]
    if not found:
        abort(404)
    return render_template("employee/record.html", own=False, **record_of(found[0]))
