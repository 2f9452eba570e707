"""Security headers on every kind of answer: pages, error pages, the API, static files."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.web.conftest import AuthActions
from webui.security import CONTENT_SECURITY_POLICY


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        found[name] = sources
    return found


def test_the_policy_allows_scripts_only_from_this_site_and_no_framing() -> None:
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/masuk", 200),  # a page
        ("/tidak-ada", 404),  # an error page
        ("/api/tasks", 401),  # the API without a token
        ("/api/openapi.json", 200),
        ("/static/jenjang.css", 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    client: FlaskClient, path: str, status: int
) -> None:
    answer = client.get(path)
    answer.close()  # a static file is streamed from an open file
    assert answer.status_code == status
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_pages_with_personal_data_are_not_cached(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    auth.login("pegawai1")
    assert client.get("/tugas").headers["Cache-Control"] == "no-store"
    assert client.get("/masuk").headers["Cache-Control"] == "no-store"


def test_no_page_has_an_inline_script_the_policy_would_block(
    client: FlaskClient, auth: AuthActions, demo: Session
) -> None:
    """Inline <script> blocks only carry JSON data (never executed); no on*= handlers."""
    auth.login("pemilik1")
    for path in ("/tugas", "/editor/", "/editor/proses/pelatihan", "/proses", "/proses/pelatihan"):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        for chunk in page.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert " onclick=" not in page and " onload=" not in page and " onsubmit=" not in page
