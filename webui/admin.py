"""The HR admin's pages (/admin): staff accounts (list, create, edit) and org units.

Only users with the role ``admin`` or ``admin_bkpsdm`` see them; anyone else gets 404. The
forms only parse input: every rule (taken names, known roles, supervisor cycles) is checked by
engine.admin, whose refusals come back here as one message per field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from engine import admin as rules
from engine.models import OrgUnit, User, UserRole
from webui.auth import current_account
from webui.db import get_db

bp = Blueprint("admin", __name__, url_prefix="/admin")
NEW_UNIT = "__baru__"
MAX_SEARCH = 100

MESSAGES = {
    "username_format": _l("Use lowercase letters, digits, '.', '_' or '-' (at most 64)."),
    "username_taken": _l("This username is already taken."),
    "password_username": _l("The password must not contain the username."),
    "required": _l("Fill in this field."),
    "email_format": _l("Enter a valid email address."),
    "roles_required": _l("Choose at least one role."),
    "unknown_role": _l("Choose roles from the list."),
    "unknown_unit": _l("Choose a unit from the list."),
    "unit_code_format": _l("Use lowercase letters, digits, '_' or '-' (at most 64)."),
    "unit_code_taken": _l("A unit with this code already exists."),
    "unknown_user": _l("Choose an active staff member from the list."),
    "self_supervisor": _l("A user cannot be their own supervisor."),
    "supervisor_cycle": _l("This supervisor reports, directly or not, to this user."),
    "own_admin_role": _l("You cannot remove your own admin role."),
    "self_deactivate": _l("You cannot deactivate your own account."),
}


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes (the roles)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserEditForm(FlaskForm):
    """Roles, unit, supervisor and status of a staff account (choices checked by the engine)."""

    roles = MultiCheckboxField(_l("Roles"), validate_choice=False)
    unit = SelectField(_l("Unit"), validate_choice=False)
    supervisor = SelectField(_l("Supervisor"), validate_choice=False)
    active = BooleanField(_l("Active (may log in)"))


class UserCreateForm(UserEditForm):
    """A new staff account: the edit fields plus name, email, a new unit and a password."""

    username = StringField(_l("Username"), [Length(max=64)])
    full_name = StringField(_l("Full name"), [Length(max=200)])
    email = EmailField(_l("Email"), [Optional(), Length(max=254)])
    unit_code = StringField(_l("New unit code"), [Length(max=64)])
    unit_name = StringField(_l("New unit name"), [Length(max=200)])
    password = PasswordField(_l("Initial password"), [Length(max=1024)])


class UnitForm(FlaskForm):
    """A new org unit."""

    unit_code = StringField(_l("Unit code"), [Length(max=64)])
    unit_name = StringField(_l("Unit name"), [Length(max=200)])


class Page:
    """What templates/_field.html reads: the messages per field and which fields are groups."""

    def __init__(self, form: FlaskForm) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in form.errors.items()}

    def add(self, problems: list[rules.FieldProblem]) -> None:
        """Put the engine's refusals beside their fields."""
        for p in problems:
            self.errors.setdefault(p.field, []).append(self.message(p.code))

    @staticmethod
    def message(code: str) -> str:
        """The reader's sentence for a problem code."""
        if code == "password_short":
            return _("The password must be at least %(n)s characters.", n=min_password())
        return str(MESSAGES.get(code, MESSAGES["required"]))

    def is_group(self, bound: Field) -> bool:
        """Whether the field is a group of choices (a fieldset)."""
        return isinstance(bound, MultiCheckboxField)


def hr_admin() -> User:
    """The logged-in HR admin; anyone else gets 404 on these pages."""
    user = current_account()
    if not rules.is_admin(user):
        abort(404)
    return user


def min_password() -> int:
    """The shortest initial password (configuration)."""
    return int(current_app.config.get("PASSWORD_MIN_LENGTH", 10))


def fill_choices(form: UserEditForm, *, creating: bool, exclude: int | None = None) -> None:
    """Roles, units and supervisors offered by the form."""
    session = get_db()
    form.roles.choices = [(r, r) for r in rules.STAFF_ROLES]
    units = session.scalars(select(OrgUnit).order_by(OrgUnit.name)).all()
    form.unit.choices = [("", _("— none —"))] + [(u.code, f"{u.name} ({u.code})") for u in units]
    if creating:
        form.unit.choices.append((NEW_UNIT, _("New unit (fill in below)")))
    staff = session.scalars(
        staff_query().where(User.active.is_(True)).order_by(User.full_name, User.username)
    ).all()
    form.supervisor.choices = [("", _("— none —"))] + [
        (u.username, f"{u.full_name or u.username} ({u.username})")
        for u in staff
        if u.id != exclude
    ]


def staff_query() -> Any:
    """Users who are not applicants."""
    applicants = select(UserRole.user_id).where(UserRole.role == "pelamar")
    return select(User).where(User.id.not_in(applicants))


@bp.get("/pengguna")
@login_required
def users() -> ResponseReturnValue:
    """The staff accounts, searchable by name or username, a page at a time."""
    hr_admin()
    session = get_db()
    q = " ".join(request.args.get("q", "").split())[:MAX_SEARCH]
    query = staff_query()
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(User.username).like(like), func.lower(User.full_name).like(like))
        )
    size = int(current_app.config.get("ADMIN_PAGE_SIZE", 25))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(max(1, request.args.get("hal", 1, type=int) or 1), pages)
    rows = session.scalars(
        query.order_by(User.full_name, User.username).offset((page - 1) * size).limit(size)
    ).all()
    return render_template("admin/users.html", rows=rows, q=q, page=page, pages=pages, total=total)


@bp.route("/pengguna/baru", methods=["GET", "POST"])
@login_required
def new_user() -> ResponseReturnValue:
    """Create a staff account with roles, a unit (or a new one), a supervisor and a password."""
    actor = hr_admin()
    form = UserCreateForm()
    fill_choices(form, creating=True)
    if request.method == "GET":
        form.active.data = True
        return render_template("admin/user_form.html", form=form, page=Page(form), user=None)
    valid = form.validate_on_submit()
    page = Page(form)
    if valid:
        new_unit = None
        if form.unit.data == NEW_UNIT:
            new_unit = ((form.unit_code.data or "").strip(), form.unit_name.data or "")
        try:
            user = rules.create_user(
                get_db(),
                actor,
                username=(form.username.data or "").strip(),
                full_name=form.full_name.data or "",
                email=(form.email.data or "").strip() or None,
                roles=list(form.roles.data or []),
                unit=None if new_unit else form.unit.data or None,
                new_unit=new_unit,
                supervisor=form.supervisor.data or None,
                password=form.password.data or "",
                min_password=min_password(),
            )
        except rules.AccountRejected as exc:
            page.add(exc.problems)
        else:
            flash(_("User %(name)s has been created.", name=user.username), "success")
            return redirect(url_for("admin.users", q=user.username), 303)
    return render_template("admin/user_form.html", form=form, page=page, user=None), 422


@bp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int) -> ResponseReturnValue:
    """Change a staff account's roles, unit, supervisor and status (deactivate here)."""
    actor = hr_admin()
    session = get_db()
    user = rules.staff_user(session, user_id)
    form = UserEditForm()
    fill_choices(form, creating=False, exclude=user.id)
    if request.method == "GET":
        form.roles.data = sorted(user.role_names)
        form.unit.data = user.unit.code if user.unit else ""
        form.supervisor.data = user.supervisor.username if user.supervisor else ""
        form.active.data = user.active
        return render_template("admin/user_form.html", form=form, page=Page(form), user=user)
    valid = form.validate_on_submit()
    page = Page(form)
    if valid:
        try:
            rules.update_user(
                session,
                actor,
                user.id,
                roles=list(form.roles.data or []),
                unit=form.unit.data or None,
                supervisor=form.supervisor.data or None,
                active=bool(form.active.data),
            )
        except rules.AccountRejected as exc:
            page.add(exc.problems)
        else:
            flash(_("User %(name)s has been saved.", name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    return render_template("admin/user_form.html", form=form, page=page, user=user), 422


@bp.route("/unit", methods=["GET", "POST"])
@login_required
def units() -> ResponseReturnValue:
    """The org units, and a form to add one."""
    actor = hr_admin()
    session = get_db()
    form = UnitForm()
    page, status = Page(form), 200
    if request.method == "POST":
        valid = form.validate_on_submit()
        page, status = Page(form), 422
        if valid:
            try:
                code = (form.unit_code.data or "").strip()
                rules.create_unit(session, actor, code, form.unit_name.data or "")
            except rules.AccountRejected as exc:
                page.add(exc.problems)
            else:
                flash(_("Unit %(code)s has been created.", code=code), "success")
                return redirect(url_for("admin.units"), 303)
    counts = dict(
        session.execute(
            select(User.unit_id, func.count()).where(User.active.is_(True)).group_by(User.unit_id)
        ).all()
    )
    rows = session.scalars(select(OrgUnit).order_by(OrgUnit.name)).all()
    page_html = render_template("admin/units.html", rows=rows, counts=counts, form=form, page=page)
    return page_html, status


@bp.app_context_processor
def admin_globals() -> dict[str, Any]:
    """Whether the navigation shows the admin's entries."""
    if not current_user.is_authenticated:
        return {"admin_nav": False}
    try:
        return {"admin_nav": rules.is_admin(current_account())}
    except SQLAlchemyError:  # an error page about the database still shows
        return {"admin_nav": False}


# The committee page: routes on this blueprint, kept in their own module.
from webui import admin_committee  # noqa: E402, F401
