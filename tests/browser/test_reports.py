"""The bottleneck heatmap in Chromium: the version's diagram with its tasks coloured and counted."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.models import ProcessVersion
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_journeys import log_in


def test_the_heatmap_colours_measured_tasks_and_counts_open_ones(
    page: Page, live_server: LiveServer
) -> None:
    with live_server.session() as db:
        version = db.scalar(select(ProcessVersion.id).where(ProcessVersion.key == "pelatihan"))
    assert version is not None
    log_in(page, live_server, "pemilik1")

    page.goto(live_server.url(f"/laporan/heatmap?versi={version}"))

    expect(page.locator("#heatmap-canvas[data-ready='true']")).to_be_attached()
    badge = page.locator(".heat-badge[data-element='persetujuan_atasan']")
    expect(badge).to_have_text("1")  # the demo's training request waits for the supervisor
    done = page.locator(
        ".djs-element[data-element-id='ajukan_pelatihan'] .djs-visual > rect[data-heat='measured']"
    )
    expect(done).to_be_attached()
    screenshot(page, "reports-heatmap")
