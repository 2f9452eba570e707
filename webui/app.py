"""The Flask application factory: configuration, extensions, blueprints and error pages.

Configuration comes from the environment (this layer is the only one that reads it):

- ``JENJANG_DATABASE_URL``: the database, as for the CLI (default ``instance/jenjang.db``).
- ``JENJANG_SECRET_KEY``: signs sessions and CSRF tokens. When unset, a random key is made
  once and kept in ``instance/secret_key`` (mode 0600), so restarts keep people logged in.
- ``JENJANG_SESSION_COOKIE_SECURE``: ``1`` (the default) sends the session cookie over HTTPS
  only; ``0`` for plain http. ``jenjang serve`` on 127.0.0.1/localhost turns it off unless
  this variable says otherwise, so the demo works at http://127.0.0.1:5000.

Session cookies are always HttpOnly and SameSite=Lax. Login throttling and page sizes are
plain config keys (``LOGIN_*``, ``INBOX_PAGE_SIZE``), overridable through ``test_config``.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, format_date, format_time
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from forms.i18n import compiled_catalogue
from webui import (
    admin,
    api,
    auth,
    db,
    documents,
    editor,
    employee,
    inbox,
    notifications,
    outage,
    portal,
    processes,
    security,
)
from webui.auth import safe_next
from webui.cli import database_url
from webui.cli import instance_path as cli_instance_path
from webui.engine_settings import configure_from_env

LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

csrf = CSRFProtect()
babel = Babel()


def env_flag(name: str, default: bool) -> bool:
    """A yes/no environment variable (1/0, true/false, yes/no, on/off)."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def secret_key(instance_path: Path) -> str:
    """JENJANG_SECRET_KEY, or a key generated once and kept under the instance folder."""
    from_env = os.environ.get("JENJANG_SECRET_KEY")
    if from_env:
        return from_env
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


def default_config(instance_path: Path) -> dict[str, Any]:
    """Every setting the app reads, with its default."""
    secure = env_flag("JENJANG_SESSION_COOKIE_SECURE", True)
    return {
        "DATABASE_URL": database_url(),
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "jenjang_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        # Uploaded documents: each at most 2 MB (forms.MAX_DOCUMENT_BYTES), a few per task.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # After LOGIN_MAX_FAILURES failed logins for one username within LOGIN_FAILURE_WINDOW,
        # that username is refused for LOGIN_LOCKOUT.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
        "LOGIN_LOCKOUT": timedelta(minutes=15),
        "INBOX_PAGE_SIZE": 20,
        # Counts of a queue stop at this many (shown as "1.000+"): counting a national queue
        # of tasks exactly would scan all of it on every page.
        "INBOX_COUNT_CAP": 1000,
        # Development hours every civil servant should get each year (PP 11/2017).
        "JP_TARGET_TAHUNAN": 20,
        "BABEL_DEFAULT_LOCALE": DEFAULT_LOCALE,
        # Stored times are UTC; pages show them in Western Indonesian Time.
        "BABEL_DEFAULT_TIMEZONE": "Asia/Jakarta",
        "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS),
    }


def select_locale() -> str:
    """The language chosen with the switch (stored in the session), else Indonesian."""
    chosen = session.get("lang")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def compile_catalogues() -> None:
    """Compile a missing or stale .mo beside each .po (as forms/ does on first use)."""
    for locale in LOCALES:
        compiled_catalogue(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web app; `test_config` overrides the environment's configuration."""
    instance_path = cli_instance_path()
    app = Flask(__name__, instance_path=str(instance_path))
    app.config.from_mapping(default_config(instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(instance_path)

    configure_from_env()  # engine settings (message TTL, timer retries) from JENJANG_*
    compile_catalogues()
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    security.init_app(app)  # CSP, nosniff, frame and referrer rules on every answer
    db.init_app(app)
    outage.init_app(app)  # the database unreachable: 503, not a traceback
    auth.init_app(app)
    init_templates(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(employee.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(processes.bp)
    # Report pages, the public announcements, and /api/reports on the API blueprint.
    from webui import api_reports, public, reports  # noqa: F401

    app.register_blueprint(editor.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only, never cookies: no cross-site requests to forge

    @app.get("/")
    def index() -> ResponseReturnValue:
        return redirect(url_for("inbox.mine"))

    @app.post("/bahasa")
    def set_language() -> ResponseReturnValue:
        lang = request.form.get("lang", "")
        if lang in LOCALES:
            session["lang"] = lang
        return redirect(safe_next(request.form.get("next")) or url_for("index"))

    return app


def format_datetime_short(value: datetime | None) -> str:
    """A stored (UTC) moment as a date and time in the reader's language and WIB."""
    if value is None:
        return "—"
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}"


def format_day(value: datetime | None) -> str:
    """A stored (UTC) moment as a date in the reader's language (e.g. 27 Nov 2026)."""
    return "—" if value is None else format_date(value, "medium")


def init_templates(app: Flask) -> None:
    """Template filters and the values every page reads (language, inbox counts)."""
    app.jinja_env.filters["waktu"] = format_datetime_short
    app.jinja_env.filters["tanggal"] = format_day

    @app.context_processor
    def page_globals() -> dict[str, Any]:
        counts = None
        if current_user.is_authenticated:
            try:
                counts = inbox.counts()
            except SQLAlchemyError:  # an error page about the database still shows
                counts = None
        return {"locale": select_locale(), "locales": LOCALES, "counts": counts}
