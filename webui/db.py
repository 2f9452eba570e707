"""One database session per request on `g`, and the engine's errors as friendly HTTP pages.

The session is committed after a successful request (status below 400), before the response
leaves, so a failing commit becomes an error page rather than a false confirmation; anything
else (an error page, an exception) is rolled back when the request ends.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.db import make_engine, session_factory
from engine.errors import (
    InvalidInput,
    InvalidState,
    JenjangError,
    NotAllowed,
    NotFound,
    StaleTask,
)

log = logging.getLogger(__name__)
EXTENSION = "jenjang_db"


def init_app(app: Flask) -> None:
    """Bind the app to its database (``DB_ENGINE`` if given, else ``DATABASE_URL``)."""
    engine: Engine = app.config.get("DB_ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = session_factory(engine)
    app.after_request(commit_db)
    app.teardown_request(close_db)
    register_error_pages(app)


def get_db() -> Session:
    """The request's session (opened on first use)."""
    if "db" not in g:
        factory: sessionmaker[Session] = current_app.extensions[EXTENSION]
        g.db = factory()
    session: Session = g.db
    return session


def commit_db(response: Response) -> Response:
    """Commit the request's work when it succeeded; error answers keep nothing."""
    session: Session | None = g.get("db")
    if session is not None and response.status_code < 400:
        session.commit()
    return response


def close_db(exc: BaseException | None = None) -> None:
    """Roll back whatever was not committed and close the session."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def error_page(status: int, title: str, message: str) -> ResponseReturnValue:
    """A friendly error page: a title, one sentence, a way back; never a traceback."""
    session: Session | None = g.get("db")
    if session is not None:
        session.rollback()  # nothing of a failed request is kept, and the page can still read
    return render_template("error.html", status=status, title=title, message=message), status


def _not_found(exc: Any = None) -> ResponseReturnValue:
    return error_page(
        404,
        _("Not found"),
        _("This page does not exist, or you may not see it."),
    )


def _forbidden(exc: Any = None) -> ResponseReturnValue:
    return error_page(403, _("Not allowed"), _("You may not do this."))


def _stale(exc: Any = None) -> ResponseReturnValue:
    return error_page(
        409,
        _("Changed meanwhile"),
        _(
            "Someone else completed or changed this task meanwhile. "
            "Your input was not saved: open your inbox and try again."
        ),
    )


def _invalid_state(exc: Any = None) -> ResponseReturnValue:
    return error_page(
        409, _("Not possible now"), _("The process is not in a state that allows this.")
    )


def _invalid_input(exc: Any = None) -> ResponseReturnValue:
    return error_page(
        422, _("Invalid input"), _("The data sent cannot be used: %(reason)s", reason=str(exc))
    )


def _csrf(exc: CSRFError) -> ResponseReturnValue:
    return error_page(
        400,
        _("Form expired"),
        _("The form has expired or did not come from this site. Go back, reload it and resend."),
    )


def _http(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    if request.path == "/api" or request.path.startswith("/api/"):
        # No API route matched (unknown path, wrong method): answer as the API does, in JSON.
        from webui.api import http_error

        return http_error(exc)
    if code == 404:
        return _not_found()
    if code == 403:
        return _forbidden()
    if code == 413:
        return error_page(413, _("Too large"), _("The files sent are too large."))
    if code == 405:
        return error_page(405, _("Not possible"), _("This address does not take this request."))
    if code >= 500:
        return _server_error(exc)
    return error_page(code, _("Request refused"), _("The request could not be handled."))


def _server_error(exc: BaseException) -> ResponseReturnValue:
    log.exception("unhandled error", exc_info=exc)
    return error_page(
        500,
        _("Something went wrong"),
        _("The page could not be shown. Nothing was saved. Please try again later."),
    )


def register_error_pages(app: Flask) -> None:
    """Map the engine's errors and HTTP errors to pages (most specific class wins)."""
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(NotAllowed, _forbidden)
    app.register_error_handler(StaleTask, _stale)
    app.register_error_handler(StaleDataError, _stale)
    app.register_error_handler(InvalidState, _invalid_state)
    app.register_error_handler(InvalidInput, _invalid_input)
    app.register_error_handler(JenjangError, _invalid_state)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _server_error)
