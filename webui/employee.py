"""Employee pages (/pegawai): my record, the training catalogue, asking for a mentor, my
requests, and a supervisor's team.

Every page is for a user with the role ``pegawai``; the team pages are for whoever supervises
someone (``User.supervisor_id``). Another person's request or record answers 404, exactly like
one that does not exist. The yearly JP target is configuration (``JP_TARGET_TAHUNAN``), never a
number in a template.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

import forms
from engine.errors import InvalidInput
from engine.hr import (
    DisciplinarySanction,
    EmployeePredicate,
    JpCredit,
    MentoringRecord,
    Training,
    TrainingEnrolment,
)
from engine.models import Instance, TaskModel, User, UserRole, utcnow
from engine.queries import concerning
from engine.records import employee_record
from engine.runtime import complete_task, start_instance
from engine.services import ACCEPTED, RATING_MAX, jp_in_year
from webui.auth import current_account
from webui.db import get_db
from webui.taskpage import locale

bp = Blueprint("employee", __name__, url_prefix="/pegawai")
EMPLOYEE_ROLE, MENTOR_ROLE = "pegawai", "mentor"
TRAINING, MENTORING = "pelatihan", "mentoring"
REQUEST_PROCESSES = (TRAINING, MENTORING, "penilaian_kinerja", "kenaikan_pangkat")
OPEN_STATES = ("running", "waiting", "error")
# An enrolment in these states already holds (or awaits) a seat: a new request is pointless.
HOLDS_A_PLACE = (*ACCEPTED, "daftar_tunggu")
MAX_MOTIVATION, MAX_TOPIC, MAX_LISTED = 2000, 200, 100


def employee() -> User:
    """The logged-in employee; anyone without the role gets 404 on these pages."""
    user = current_account()
    if EMPLOYEE_ROLE not in user.role_names:
        abort(404)
    return user


def jp_target() -> int:
    """The yearly development target in JP (PP 11/2017), from configuration."""
    return int(current_app.config["JP_TARGET_TAHUNAN"])


def direct_reports(user: User) -> list[User]:
    """The active users whose supervisor is `user`, by name."""
    return list(
        get_db().scalars(
            select(User)
            .where(User.supervisor_id == user.id, User.active.is_(True))
            .order_by(User.full_name, User.username)
        )
    )


def supervises_someone(user: User) -> bool:
    """Whether anyone reports to `user`."""
    found = get_db().scalar(select(User.id).where(User.supervisor_id == user.id).limit(1))
    return found is not None


# -- the record ---------------------------------------------------------------------------------


def record_of(user: User) -> dict[str, Any]:
    """Everything the record page shows about one employee."""
    session, year = get_db(), utcnow().year
    record = employee_record(session, user.username)
    target = jp_target()
    jp = int(record["jp_tahun_ini"])
    today = date.today()
    sanctions = session.scalars(
        select(DisciplinarySanction)
        .where(DisciplinarySanction.user_id == user.id)
        .order_by(DisciplinarySanction.mulai.desc())
    ).all()
    mentor = aliased(User)
    mentorings = session.execute(
        select(MentoringRecord, mentor.full_name, mentor.username)
        .join(mentor, mentor.id == MentoringRecord.mentor_id)
        .where(MentoringRecord.mentee_id == user.id)
        .order_by(MentoringRecord.selesai_pada.desc())
    ).all()
    return {
        "user": user,
        "record": record,
        "tmt_golongan": date.fromisoformat(record["tmt_golongan"])
        if record["tmt_golongan"]
        else None,
        "predicates": session.scalars(
            select(EmployeePredicate)
            .where(EmployeePredicate.user_id == user.id)
            .order_by(EmployeePredicate.tahun.desc())
        ).all(),
        "year": year,
        "jp": jp,
        "target": target,
        "jp_left": max(0, target - jp),
        "credits": session.scalars(
            select(JpCredit)
            .where(JpCredit.user_id == user.id, JpCredit.tahun == year)
            .order_by(JpCredit.created_at)
        ).all(),
        "sanctions": [
            (s, s.mulai <= today and (s.selesai is None or s.selesai >= today)) for s in sanctions
        ],
        "mentorings": [
            {"row": row, "mentor": name or username} for row, name, username in mentorings
        ],
        "rating_max": RATING_MAX,
    }


@bp.get("")
@login_required
def record() -> ResponseReturnValue:
    """Data saya: rank, education, position, predicates, JP vs target, sanctions, mentoring."""
    return render_template("employee/record.html", own=True, **record_of(employee()))


# -- the training catalogue ---------------------------------------------------------------------


def training_key(kode: str, username: str) -> str:
    """The business key of a training request (as the demo names them)."""
    return f"{kode} / {username}"


def mentoring_key(mentee: str, mentor: str) -> str:
    """The business key of a mentoring request (as the demo names them)."""
    return f"{mentee} / mentor {mentor}"


def open_request(user: User, process: str, business_key: str) -> Instance | None:
    """The user's request of this process and key that has not ended, if any."""
    return get_db().scalar(
        select(Instance).where(
            Instance.process_key == process,
            concerning(user.id),
            Instance.business_key == business_key,
            Instance.state.in_(OPEN_STATES),
        )
    )


def upcoming_trainings() -> list[Training]:
    """Trainings that have not started yet, soonest first."""
    return list(
        get_db().scalars(
            select(Training)
            .where(Training.mulai >= date.today())
            .order_by(Training.mulai, Training.kode)
        )
    )


@bp.get("/pelatihan")
@login_required
def catalogue() -> ResponseReturnValue:
    """Katalog pelatihan: upcoming trainings with JP, dates, seats left and cost."""
    user, session = employee(), get_db()
    rows = upcoming_trainings()
    ids = [t.id for t in rows]
    taken = dict(
        session.execute(
            select(TrainingEnrolment.training_id, func.count())
            .where(TrainingEnrolment.training_id.in_(ids), TrainingEnrolment.status.in_(ACCEPTED))
            .group_by(TrainingEnrolment.training_id)
        ).all()
    )
    mine = dict(
        session.execute(
            select(TrainingEnrolment.training_id, TrainingEnrolment.status).where(
                TrainingEnrolment.training_id.in_(ids), TrainingEnrolment.user_id == user.id
            )
        ).all()
    )
    pending = set(
        session.scalars(
            select(Instance.business_key).where(
                Instance.process_key == TRAINING,
                concerning(user.id),
                Instance.state.in_(OPEN_STATES),
            )
        )
    )
    items = [
        {
            "training": t,
            "seats_left": max(0, t.kuota - int(taken.get(t.id, 0))),
            "status": mine.get(t.id),
            "pending": training_key(t.kode, user.username) in pending,
        }
        for t in rows
    ]
    return render_template(
        "employee/catalogue.html",
        items=items,
        jp=jp_in_year(session, user.id, utcnow().year),
        target=jp_target(),
        max_motivation=MAX_MOTIVATION,
    )


@bp.post("/pelatihan/<kode>/minta")
@login_required
def request_training(kode: str) -> ResponseReturnValue:
    """Request a training: starts `pelatihan` and sends the employee's request on to the
    supervisor; a second open request for the same training is refused."""
    user, session = employee(), get_db()
    training = session.scalar(select(Training).where(Training.kode == kode[:32]))
    if training is None or training.mulai < date.today():
        abort(404)
    back = redirect(url_for("employee.catalogue"), 303)
    key = training_key(training.kode, user.username)
    if open_request(user, TRAINING, key) is not None:
        flash(_("You already have an open request for %(title)s.", title=training.judul), "error")
        return back
    status = session.scalar(
        select(TrainingEnrolment.status).where(
            TrainingEnrolment.training_id == training.id, TrainingEnrolment.user_id == user.id
        )
    )
    if status in HOLDS_A_PLACE:
        flash(_("You already have a place in %(title)s.", title=training.judul), "error")
        return back
    motivation = request.form.get("motivasi", "").strip()[:MAX_MOTIVATION]
    if not motivation:
        flash(_("Write why you want this training."), "error")
        return back
    data = {"pegawai": user.username, "kode": training.kode}
    instance = start_instance(session, TRAINING, user, data, business_key=key)
    _refuse_error(instance)
    # The process opens with the employee's own request form: fill it with what they wrote here.
    task = session.scalar(
        select(TaskModel).where(
            TaskModel.instance_id == instance.id,
            TaskModel.assignee_id == user.id,
            TaskModel.completed_at.is_(None),
        )
    )
    if task is not None:
        result = forms.validate(
            task.form_key, {"kode": training.kode, "motivasi": motivation}, locale=locale()
        )
        if not result.ok:  # the process asks for more: the employee finishes it on its page
            return redirect(url_for("inbox.task", task_id=task.id), 303)
        complete_task(session, task.id, user, result.data)
        _refuse_error(instance)
    flash(_("Your request for %(title)s has been sent.", title=training.judul), "success")
    return redirect(url_for("employee.request_detail", instance_id=instance.id), 303)


def _refuse_error(instance: Instance) -> None:
    """A request that stopped in error keeps nothing: the page says why (422)."""
    if instance.state == "error":
        raise InvalidInput(instance.error_message or instance.process_key)


# -- asking for a mentor ------------------------------------------------------------------------


def mentors_for(user: User) -> list[User]:
    """Active users holding the mentor role, other than `user`."""
    return list(
        get_db().scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == MENTOR_ROLE, User.active.is_(True), User.id != user.id)
            .order_by(User.full_name, User.username)
        )
    )


@bp.route("/mentor", methods=["GET", "POST"])
@login_required
def ask_mentor() -> ResponseReturnValue:
    """Minta mentor: choose a mentor and a topic; starts `mentoring`."""
    user, session = employee(), get_db()
    mentors = mentors_for(user)
    values = {"mentor": "", "topik": ""}
    if request.method == "GET":
        return render_template("employee/mentor.html", mentors=mentors, values=values, errors={})
    values = {
        "mentor": request.form.get("mentor", "").strip()[:64],
        "topik": " ".join(request.form.get("topik", "").split())[:MAX_TOPIC],
    }
    errors: dict[str, str] = {}
    if values["mentor"] not in {m.username for m in mentors}:
        errors["mentor"] = _("Choose a mentor from the list.")
    if not values["topik"]:
        errors["topik"] = _("Write the topic you want to be mentored on.")
    key = mentoring_key(user.username, values["mentor"])
    if not errors and open_request(user, MENTORING, key) is not None:
        errors["mentor"] = _("You already have an open mentoring request with this mentor.")
    if errors:
        page = render_template(
            "employee/mentor.html", mentors=mentors, values=values, errors=errors
        )
        return page, 422
    data = {"mentee": user.username, "mentor": values["mentor"], "topik": values["topik"]}
    instance = start_instance(session, MENTORING, user, data, business_key=key)
    _refuse_error(instance)
    flash(_("Your mentoring request has been sent."), "success")
    return redirect(url_for("employee.request_detail", instance_id=instance.id), 303)


# -- navigation and filters ---------------------------------------------------------------------


@bp.app_template_filter("rupiah")
def rupiah(value: int) -> str:
    """An amount in rupiah with the reader's digit grouping (Rp 3.500.000)."""
    return f"Rp {format_decimal(value)}"


@bp.app_context_processor
def employee_globals() -> dict[str, Any]:
    """Whether the navigation shows the employee's and the supervisor's entries."""
    if not current_user.is_authenticated:
        return {"employee_nav": False, "team_nav": False}
    user = current_account()
    try:
        team_nav = supervises_someone(user)
    except SQLAlchemyError:  # an error page about the database still shows
        team_nav = False
    return {"employee_nav": EMPLOYEE_ROLE in user.role_names, "team_nav": team_nav}


# "My requests" and "my team": routes on this blueprint, kept in their own module.
from webui import employee_requests  # noqa: E402, F401
