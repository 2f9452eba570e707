"""The Content-Security-Policy in Chromium: the bpmn-js and dmn-js pages work under it, and
an injected inline script is blocked by it."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from engine.models import Instance
from tests.browser.conftest import LiveServer
from tests.browser.test_editor import open_editor, select_element
from tests.browser.test_journeys import log_in


def violations(page: Page) -> list[str]:
    """Console errors of CSP refusals, collected from now on."""
    found: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", collect)
    return found


def test_the_editors_and_the_instance_view_run_without_a_csp_violation(
    page: Page, live_server: LiveServer
) -> None:
    refused = violations(page)
    log_in(page, live_server, "pemilik1")

    open_editor(page, live_server, "/editor/proses/pelatihan")
    expect(page.locator(".bjs-powered-by")).to_be_visible()
    select_element(page, "persetujuan_atasan")  # the properties panel draws too
    open_editor(page, live_server, "/editor/keputusan/keputusan_pelatihan")
    with live_server.session() as db:
        instance_id = db.scalar(select(Instance.id).where(Instance.process_key == "pelatihan"))
    page.goto(live_server.url(f"/proses/instance/{instance_id}"))
    expect(page.locator("#diagram[data-ready='true']")).to_be_attached()

    assert refused == []


def test_an_injected_inline_script_does_not_run(page: Page, live_server: LiveServer) -> None:
    refused = violations(page)
    page.goto(live_server.url("/masuk"))
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.pwned = true';
            document.body.appendChild(s);
        }"""
    )
    assert page.evaluate("() => window.pwned === undefined")
    assert refused and "script-src" in refused[0]
