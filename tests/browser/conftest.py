"""Browser fixtures: the app served over real HTTP, and Debian's Chromium driven by Playwright.

The app runs on a temporary SQLite database with workflows/ deployed and the demo agency in
flight, with CSRF protection on (the real forms). Chromium is the system's (/usr/bin/chromium,
Debian's package): Playwright never downloads a browser. Without it the browser tests are
skipped, except when ``JENJANG_REQUIRE_BROWSER`` is set (CI): then a missing browser fails.

``JENJANG_SCREENSHOTS=1`` makes the journeys save screenshots of the main pages to
docs/screenshots/ (PNG, 1280×800); normal runs leave docs/ alone.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from engine.db import make_engine, session_factory
from engine.demo import seed, seed_instances
from engine.deploy import deploy
from webui.app import create_app

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "jenjang-demo"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, headless; skipped without it, unless JENJANG_REQUIRE_BROWSER is set."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("JENJANG_REQUIRE_BROWSER"):
            pytest.fail(f"JENJANG_REQUIRE_BROWSER is set but {message}")
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url() -> None:
    """No base URL: each test's server has its own port (`LiveServer.url`).

    This also replaces pytest-playwright's fallback fixture, a session fixture defined as an
    instance method, which pytest 9 deprecates (a warning, so an error under our settings).
    """
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Every page is a 1280×800 desktop window in Indonesian."""
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "id-ID"}


@dataclass
class LiveServer:
    """The app served on 127.0.0.1, and its database for steps outside the journeys."""

    base_url: str
    db_engine: Engine

    def url(self, path: str) -> str:
        """The full address of a path of the app."""
        return self.base_url + path

    def session(self) -> Session:
        """A new session on the app's database (close it, or use it in a ``with``)."""
        return session_factory(self.db_engine)()


@pytest.fixture
def live_server(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """workflows/ deployed and the demo seeded on a fresh SQLite file, served in a thread."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    path = tmp_path / "jenjang.db"
    shutil.copy(sqlite_template, path)
    db_engine = make_engine(f"sqlite:///{path}")
    with session_factory(db_engine)() as db:
        files = sorted(p for p in WORKFLOWS.iterdir() if p.suffix in (".bpmn", ".dmn"))
        deploy(db, [(str(p), p.read_bytes()) for p in files], "pemilik1")
        seed(db, PASSWORD)
        seed_instances(db)
        db.commit()
    app = create_app(
        {
            "DB_ENGINE": db_engine,
            "SECRET_KEY": "browser-test-secret",
            "WTF_CSRF_ENABLED": True,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", db_engine)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        db_engine.dispose()


def screenshot(page: Page, name: str) -> None:
    """Save the visible page as docs/screenshots/NAME.png when JENJANG_SCREENSHOTS=1."""
    if os.environ.get("JENJANG_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")


@pytest.fixture
def page(page: Page) -> Page:
    """pytest-playwright's page, failing after 10 s rather than 30 when something is missing."""
    page.set_default_timeout(10_000)
    return page
