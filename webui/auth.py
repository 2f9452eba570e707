"""Logging in and out: Flask-Login over the engine's users, with a failed-login throttle."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.login_guard import LoginGuard
from engine.models import User, utcnow
from engine.passwords import check_password, hash_password
from webui import db
from webui.db import get_db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
MAX_USERNAME = 64
MAX_PASSWORD = 1024
THROTTLE = "jenjang_login_throttle"
# Checked when the username is unknown, so that an unknown name takes as long as a wrong password.
_DUMMY_HASH: list[str] = []


class WebUser(UserMixin):
    """The logged-in person: the engine's `User` row of this request, as Flask-Login needs it."""

    def __init__(self, account: User) -> None:
        self.account = account

    def get_id(self) -> str:
        """``id.fingerprint``: a changed password ends the sessions made with the old one."""
        return f"{self.account.id}.{password_fingerprint(self.account)}"

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in, and their sessions end."""
        return self.account.active

    @property
    def username(self) -> str:
        """The login name."""
        return self.account.username

    @property
    def display_name(self) -> str:
        """The full name, or the login name when there is none."""
        return self.account.full_name or self.account.username


def password_fingerprint(user: User) -> str:
    """A short digest of the stored hash (never the hash itself) for the session id."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    """The user of this request's session, if it still exists, is active and unchanged."""
    raw_id, _sep, fingerprint = user_id.partition(".")
    if not raw_id.isdigit():
        return None
    # Roles in the same statement (every page reads them), not a second SELECT.
    user = get_db().get(User, int(raw_id), options=[joinedload(User.roles)])
    if user is None or not user.active or password_fingerprint(user) != fingerprint:
        return None
    return WebUser(user)


def throttle() -> LoginGuard:
    """The app's login throttle (counts in the database, shared by every web process)."""
    found: LoginGuard = current_app.extensions[THROTTLE]
    return found


def init_app(app: Flask) -> None:
    """Attach Flask-Login and the throttle (numbers from the app's config)."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    app.extensions[THROTTLE] = LoginGuard(
        app.extensions[db.EXTENSION],
        app.config["LOGIN_MAX_FAILURES"],
        app.config["LOGIN_FAILURE_WINDOW"],
        app.config["LOGIN_LOCKOUT"],
    )


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("not-a-password"))
    return _DUMMY_HASH[0]


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None (in about the same time)."""
    user = get_db().scalar(select(User).where(User.username == username))
    if user is None or not user.password_hash:
        check_password(_dummy_hash(), password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, -(-int((until - now).total_seconds()) // 60))


@bp.route("/masuk", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; check the password; refuse a locked-out username."""
    if request.method == "GET":
        return render_template("login.html", username="")
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    key = username.lower()  # "Atasan1" and "atasan1" share one count
    now = utcnow()
    guard = throttle()
    until = guard.locked_until(key, now) if key else None
    if until is not None:
        minutes = _minutes_left(until, now)
        message = _(
            "Too many failed logins for this username. Try again in %(minutes)s minutes.",
            minutes=minutes,
        )
        return render_template("login.html", username=username, error=message), 429
    user = authenticate(username, password) if username and password else None
    if user is None:
        if key:
            guard.failed(key, now)
        message = _("Wrong username or password.")
        return render_template("login.html", username=username, error=message), 401
    guard.succeeded(key)
    lang = session.get("lang")
    session.clear()  # a fresh session at login: nothing carried over from before (fixation)
    if lang:
        session["lang"] = lang
    login_user(WebUser(user))
    session.permanent = True
    flash(_("Welcome, %(name)s", name=user.full_name or user.username), "success")
    # Applicants start in their portal; staff in their inbox.
    home = "portal.applications" if user.role_names == {"pelamar"} else "inbox.mine"
    return redirect(safe_next(request.args.get("next")) or url_for(home))


@bp.post("/keluar")
@login_required
def logout() -> ResponseReturnValue:
    """Log out (a POST with the CSRF token, so no other site can log anyone out)."""
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


def current_account() -> User:
    """The engine user of the logged-in person (routes are behind login_required)."""
    from flask_login import current_user

    user: User = current_user.account
    return user


def safe_next(target: str | None) -> str | None:
    """A same-site path to go back to, or None (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
