"""The instance view in Chromium: the diagram of the instance's version, its current task marked."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.models import Instance
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_journeys import log_in


def test_instance_view_highlights_the_current_task_on_the_diagram(
    page: Page, live_server: LiveServer
) -> None:
    with live_server.session() as db:
        instance_id = db.scalar(select(Instance.id).where(Instance.process_key == "pelatihan"))
    assert instance_id is not None
    log_in(page, live_server, "pegawai1")  # who started the training request

    page.goto(live_server.url(f"/proses/instance/{instance_id}"))

    expect(page.locator("#diagram[data-ready='true']")).to_be_attached()
    current = page.locator('.djs-element[data-element-id="persetujuan_atasan"]')
    expect(current).to_have_class(_has("hl-current"))
    done = page.locator('.djs-element[data-element-id="ajukan_pelatihan"]')
    expect(done).to_have_class(_has("hl-completed"))
    flow = page.locator('.djs-element[data-element-id="f_mulai"]')
    expect(flow).to_have_class(_has("hl-flow"))
    later = page.locator('.djs-element[data-element-id="catat_kehadiran"]')
    expect(later).not_to_have_class(_has("hl-current"))
    screenshot(page, "instance-view")


def _has(css_class: str) -> re.Pattern[str]:
    """Matches a class attribute that holds this class."""
    return re.compile(rf"(^|\s){re.escape(css_class)}(\s|$)")
