"""The applicant portal (/pelamar): register, open formasi, apply, my applications, notifications.

An applicant registers with their NIK, name, email and a password; **their username is their
NIK** (16 digits), so one NIK is one account and they log in with it on the usual page. They
hold the role ``pelamar``. An applicant sees only their own applications: another one's id
answers 404, exactly like an id that does not exist. Their tasks (documents, objections, final
documents) are assigned to them and open on the usual task page.
"""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine import notifications as notices
from engine.errors import InvalidInput
from engine.models import Instance, TaskModel, User, utcnow
from engine.notifications import mark_seen, seen_up_to, started_instance_events
from engine.passwords import hash_password
from engine.queries import instance_summary
from engine.recruitment import JALUR, Formasi, Lamaran, check_registration
from engine.runtime import start_instance
from engine.users import add_user, user_by_name
from webui.auth import MAX_PASSWORD, current_account
from webui.db import get_db
from webui.timeline import Event, Stage, announced_status, stages

bp = Blueprint("portal", __name__, url_prefix="/pelamar")
APPLICANT_ROLE = "pelamar"
PROCESS = "lamaran"
BASIC_DOCUMENTS = ("KTP", "Ijazah", "Transkrip nilai", "Pas foto")
NIK_RE = re.compile(r"^[0-9]{16}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME, MAX_EMAIL, MAX_EDUCATION = 200, 254, 32
JALUR_LABELS = {
    "umum": "Umum",
    "cumlaude": "Cumlaude",
    "diaspora": "Diaspora",
    "disabilitas": "Penyandang disabilitas",
}


def is_applicant(user: User) -> bool:
    """Whether the user holds the applicant role."""
    return APPLICANT_ROLE in user.role_names


def applicant() -> User:
    """The logged-in applicant; anyone else gets 404 on the applicant's pages."""
    user = current_account()
    if not is_applicant(user):
        abort(404)
    return user


# -- registration -----------------------------------------------------------------------------


def registration_errors(values: dict[str, str], password: str, confirm: str) -> dict[str, str]:
    """One message per wrong field of the registration form."""
    errors: dict[str, str] = {}
    minimum = int(current_app.config.get("APPLICANT_PASSWORD_MIN", 10))
    if not NIK_RE.match(values["nik"]):
        errors["nik"] = _("The NIK must be exactly 16 digits.")
    if not values["nama"]:
        errors["nama"] = _("Enter your full name as on your KTP.")
    if not EMAIL_RE.match(values["email"]):
        errors["email"] = _("Enter a valid email address, e.g. nama@contoh.id.")
    if len(password) < minimum:
        errors["password"] = _("The password must be at least %(n)d characters.", n=minimum)
    elif values["nik"] and values["nik"] in password:  # the NIK is the username: it is known
        errors["password"] = _("The password must not contain your NIK.")
    elif password != confirm:
        errors["konfirmasi"] = _("The confirmation does not match the password.")
    return errors


@bp.route("/daftar", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    """Register as an applicant; the NIK becomes the username."""
    if current_user.is_authenticated:
        return redirect(url_for("portal.formasi"))
    values = {"nik": "", "nama": "", "email": ""}
    if request.method == "GET":
        return render_template("portal/register.html", values=values, errors={})
    values = {
        "nik": request.form.get("nik", "").strip()[:32],
        "nama": " ".join(request.form.get("nama", "").split())[:MAX_NAME],
        "email": request.form.get("email", "").strip()[:MAX_EMAIL],
    }
    password = request.form.get("password", "")[:MAX_PASSWORD]
    confirm = request.form.get("konfirmasi", "")[:MAX_PASSWORD]
    errors = registration_errors(values, password, confirm)
    session = get_db()
    taken = _("This NIK is already registered. Log in with your NIK and password.")
    if "nik" not in errors and user_by_name(session, values["nik"]) is not None:
        errors["nik"] = taken
    if not errors:
        try:
            add_user(
                session,
                values["nik"],
                [APPLICANT_ROLE],
                full_name=values["nama"],
                email=values["email"],
                password_hash=hash_password(password),
            )
        except (InvalidInput, IntegrityError):  # registered meanwhile by a parallel request
            session.rollback()
            errors["nik"] = taken
    if errors:
        return render_template("portal/register.html", values=values, errors=errors), 422
    flash(_("Registration succeeded. Log in with your NIK and password."), "success")
    return redirect(url_for("auth.login"), 303)


# -- formasi and applying ---------------------------------------------------------------------


def open_formasi() -> list[Formasi]:
    """Formasi open for registration now, closing soonest first."""
    now = utcnow()
    return list(
        get_db().scalars(
            select(Formasi)
            .where(
                Formasi.status == "dibuka",
                Formasi.dibuka_pada <= now,
                Formasi.ditutup_pada >= now,
            )
            .order_by(Formasi.ditutup_pada, Formasi.kode)
        )
    )


def active_application(user: User) -> Lamaran | None:
    """The user's application that still holds their NIK (one per person at a time)."""
    return get_db().scalar(
        select(Lamaran).where(Lamaran.user_id == user.id, Lamaran.nik_aktif.is_not(None))
    )


@bp.get("/formasi")
def formasi() -> ResponseReturnValue:
    """The formasi open now, with their requirements and closing dates."""
    user = current_account() if current_user.is_authenticated else None
    may_apply = user is not None and is_applicant(user) and bool(NIK_RE.match(user.username))
    return render_template(
        "portal/formasi.html",
        rows=open_formasi(),
        basic=BASIC_DOCUMENTS,
        jalur=[(key, JALUR_LABELS.get(key, key)) for key in JALUR],
        may_apply=may_apply,
        active=active_application(user) if may_apply and user else None,
    )


@bp.post("/formasi/<kode>/lamar")
@login_required
def apply(kode: str) -> ResponseReturnValue:
    """Apply to a formasi: the checks first (a clear message), then a `lamaran` instance."""
    user, session = applicant(), get_db()
    back = redirect(url_for("portal.formasi"), 303)
    if not NIK_RE.match(user.username):
        flash(_("Only an account registered with a NIK can apply."), "error")
        return back
    jalur = request.form.get("jalur", "umum")
    pendidikan = request.form.get("pendidikan", "").strip()[:MAX_EDUCATION]
    if jalur not in JALUR or not pendidikan:
        flash(_("Choose a track and fill in your education."), "error")
        return back
    try:
        check_registration(session, kode[:32], user.username, utcnow())
    except InvalidInput as exc:
        session.rollback()
        flash(_("You cannot apply: %(reason)s", reason=str(exc)), "error")
        return back
    data = {
        "formasi_id": kode,
        "nik": user.username,
        "nama": user.full_name or user.username,
        "jalur": jalur,
        "pendidikan": pendidikan,
    }
    instance = start_instance(session, PROCESS, user, data, business_key=f"{kode}/{user.username}")
    if instance.state == "error":  # e.g. a parallel application won the race: keep nothing
        raise InvalidInput(instance.error_message or kode)
    row = session.scalar(select(Lamaran).where(Lamaran.instance_id == instance.id))
    if row is None:
        raise InvalidInput(kode)
    flash(
        _(
            "Your application is registered with number %(n)s. Upload your documents now.",
            n=row.nomor_peserta,
        ),
        "success",
    )
    return redirect(url_for("portal.application", lamaran_id=row.id), 303)


# -- my applications --------------------------------------------------------------------------


def own_application(lamaran_id: int) -> tuple[Lamaran, Instance]:
    """The applicant's own application and its instance; anyone else's is 404."""
    user, session = applicant(), get_db()
    row = session.get(Lamaran, lamaran_id)
    if row is None or row.user_id != user.id or row.instance_id is None:
        abort(404)
    instance = session.get(Instance, row.instance_id)
    if instance is None or instance.started_by_id != user.id:
        abort(404)
    return row, instance


def open_tasks_of(user: User, instance_ids: list[int]) -> dict[int, list[TaskModel]]:
    """The applicant's own open tasks per instance."""
    found: dict[int, list[TaskModel]] = {}
    if not instance_ids:
        return found
    rows = get_db().scalars(
        select(TaskModel)
        .where(
            TaskModel.instance_id.in_(instance_ids),
            TaskModel.assignee_id == user.id,
            TaskModel.completed_at.is_(None),
        )
        .order_by(TaskModel.created_at)
    )
    for task in rows:
        found.setdefault(task.instance_id, []).append(task)
    return found


@bp.get("/lamaran")
@login_required
def applications() -> ResponseReturnValue:
    """Lamaran saya: the applicant's applications, newest first."""
    user, session = applicant(), get_db()
    rows = session.execute(
        select(Lamaran, Formasi)
        .join(Formasi, Lamaran.formasi_id == Formasi.id)
        .where(Lamaran.user_id == user.id)
        .order_by(Lamaran.created_at.desc(), Lamaran.id.desc())
    ).all()
    tasks = open_tasks_of(user, [r.instance_id for r, _f in rows if r.instance_id])
    items = []
    for row, formasi_row in rows:
        found = _stages_of(row)
        items.append(
            {
                "row": row,
                "formasi": formasi_row,
                "status": announced_status(row, found),
                "tasks": tasks.get(row.instance_id or 0, []),
            }
        )
    return render_template("portal/applications.html", items=items)


def _stages_of(row: Lamaran) -> list[Stage]:
    if row.instance_id is None:
        return []
    summary = instance_summary(get_db(), row.instance_id)
    instance = get_db().get(Instance, row.instance_id)
    meta = instance.process_version.task_meta if instance else {}
    events = [Event.of(entry) for entry in summary["history"]]
    return stages(events, meta, row, current_account().username)


@bp.get("/lamaran/<int:lamaran_id>")
@login_required
def application(lamaran_id: int) -> ResponseReturnValue:
    """One application: its formasi, state, timeline and the applicant's open task."""
    row, instance = own_application(lamaran_id)
    session = get_db()
    summary = instance_summary(session, instance.id)
    events = [Event.of(entry) for entry in summary["history"]]
    found = stages(events, instance.process_version.task_meta, row, current_account().username)
    others = [t for t in summary["open_tasks"] if t["assignee"] != current_account().username]
    return render_template(
        "portal/application.html",
        row=row,
        formasi=session.get(Formasi, row.formasi_id),
        status=announced_status(row, found),
        stages=found,
        tasks=open_tasks_of(current_account(), [instance.id]).get(instance.id, []),
        in_progress=[t["name"] for t in others],
        ended=instance.state in ("completed", "cancelled"),
    )


# -- notifications ----------------------------------------------------------------------------


def notifications_of(user: User) -> list[Stage]:
    """Every outcome of the user's applications, newest first."""
    session = get_db()
    by_instance: dict[int, tuple[Instance, list[Event]]] = {}
    for entry, instance in started_instance_events(session, user.id, PROCESS):
        columns = {c: getattr(entry, c) for c in ("at", "actor", "action", "element_id")}
        event = Event.of({**columns, "detail": entry.detail}, entry.id)
        by_instance.setdefault(instance.id, (instance, []))[1].append(event)
    if not by_instance:
        return []
    rows = {
        r.instance_id: r
        for r in session.scalars(select(Lamaran).where(Lamaran.instance_id.in_(by_instance)))
    }
    found: list[Stage] = []
    for instance_id, (instance, events) in by_instance.items():
        row = rows.get(instance_id)
        if row is not None:
            meta = instance.process_version.task_meta
            found += [s for s in stages(events, meta, row, user.username) if s.notify]
    return sorted(found, key=lambda s: s.id, reverse=True)


def unread_count() -> int:
    """How many notifications the logged-in applicant has not seen (once per request)."""
    if "unread_notifications" not in g:
        user = current_account()
        seen = seen_up_to(get_db(), user.id)
        outcomes = sum(1 for s in notifications_of(user) if s.id > seen)
        g.unread_notifications = outcomes + notices.unread_count(get_db(), user)
    count: int = g.unread_notifications
    return count


@bp.get("/notifikasi")
@login_required
def notifications() -> ResponseReturnValue:
    """The applicant's outcomes and notices, the unseen ones marked; opening the page reads them."""
    user, session = applicant(), get_db()
    found = notifications_of(user)
    seen = seen_up_to(session, user.id)
    if found and found[0].id > seen:
        mark_seen(session, user.id, found[0].id)
    rows = notices.notifications_of(session, user.id)
    notices.mark_all_read(session, user.id)
    g.unread_notifications = 0  # read now; the page still marks what was new (id > seen)
    return render_template(
        "portal/notifications.html",
        stages=found,
        seen=seen,
        rows=rows,
        new_rows={row.id for row, _name in rows if row.read_at is None},
    )


@bp.app_context_processor
def portal_globals() -> dict[str, Any]:
    """Whether the navigation shows the applicant's entries, and the unread count."""
    if not current_user.is_authenticated or not is_applicant(current_account()):
        return {"applicant_nav": False, "unread": 0}
    try:
        unread = unread_count()
    except SQLAlchemyError:  # an error page about the database still shows
        unread = 0
    return {"applicant_nav": True, "unread": unread}
