"""The database briefly unavailable: a clear 503 answer, never a traceback, and no state kept.

When the database cannot be reached (server down or restarting, network cut, pool exhausted),
pages answer 503 with a short page and the API answers 503 in JSON, both with ``Retry-After``.
The page is rendered straight from its template, without the context processors and the
logged-in user, because both would read the database again. Nothing else is needed to
recover: the engine replaces a pooled connection the server has closed before use
(``engine.db._check_alive``), so the first request after the database returns works.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from webui import api
from webui.api import ApiError, error_response, text

log = logging.getLogger(__name__)
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER = "30"


def _forget_session() -> None:
    """Drop the request's session without a round trip to the unreachable database."""
    session = g.pop("db", None)
    if session is not None:
        try:
            session.rollback()
            session.close()
        except Exception:  # the connection is gone: there is nothing left to roll back
            log.debug("closing a session after a database outage failed", exc_info=True)


def _log(exc: BaseException) -> None:
    log.error("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)


def page_unavailable(exc: BaseException) -> ResponseReturnValue:
    """The 503 page (rendered without anything that reads the database)."""
    _log(exc)
    _forget_session()
    if request.path == "/api" or request.path.startswith("/api/"):
        return api_unavailable(exc)
    from webui.app import select_locale

    page = current_app.jinja_env.get_template("unavailable.html").render(
        title=_("Temporarily unavailable"),
        message=_(
            "The database cannot be reached right now. Nothing was saved. "
            "Please try again in a moment."
        ),
        locale=select_locale(),
        request=request,
    )
    return page, 503, {"Retry-After": RETRY_AFTER, "Content-Type": "text/html; charset=utf-8"}


def api_unavailable(exc: BaseException) -> ResponseReturnValue:
    """The API's 503 answer."""
    _log(exc)
    _forget_session()
    message = text("The database cannot be reached right now. Nothing was saved. Try again soon.")
    return error_response(ApiError(503, message, headers={"Retry-After": RETRY_AFTER}))


# The API blueprint's own handler for Exception would otherwise win over the app's handlers.
for _error in UNAVAILABLE:
    api.bp.register_error_handler(_error, api_unavailable)


def init_app(app: Flask) -> None:
    """Answer 503 when the database is unreachable."""
    for error in UNAVAILABLE:
        app.register_error_handler(error, page_unavailable)
