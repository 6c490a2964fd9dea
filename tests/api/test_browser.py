"""The web page in real headless Chromium: sign in, see the order, open it, assign, start.

The order comes from the project's own pump simulator (bearing wear) through
the detection engine and tasking's intake; the telemetry is stored in the
real InfluxDB and read back by the ingest reader, so the chart shows what was
simulated. Screenshots go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind
from prognos.ingest.contract import Reading
from prognos.ingest.influx import InfluxConfig, InfluxReader, V1Writer
from prognos.ingest.lineprotocol import readings_body

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEYS = {
    "planner": "test-key-planner-0123456789",
    "intermediate_engineer": "test-key-intermediate_engineer-0123456789",
}
HOUR_NS = 3600 * 10**9

sim_engine = pytest.importorskip("prognos.simulators.engine")
sim_fleet = pytest.importorskip("prognos.simulators.fleet")
sim_kinds = pytest.importorskip("prognos.simulators.kinds")


def _need_browser() -> Any:
    """The Playwright sync API, or skip (locally) / fail (CI) naming what is missing."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian package chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("Python package playwright")
        sync_playwright = None
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def browser_page() -> Iterator[Any]:
    sync_playwright = _need_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def _simulate_bearing_wear(influx_db: Any, end: datetime) -> list[Flag]:
    """Two days of a pump wearing its bearing, from the project's simulator, into InfluxDB.

    The readings go through the detection engine as the pipeline would; the
    flags it raises are returned. The failure lies half a day after ``end``.
    """
    start = end - timedelta(days=2)
    fleet = sim_fleet.Fleet(
        (sim_fleet.Customer("acme", "Acme Water"),),
        (sim_fleet.Site("plant-a", "Plant A", "acme"),),
        (sim_fleet.Device("pump-001", "pump", "plant-a"),),
        (
            sim_fleet.Fault(
                "pump-001",
                "bearing_wear",
                start + timedelta(hours=14),
                end + timedelta(hours=12),
                sim_kinds.Shape.EXPONENTIAL,
            ),
        ),
    )
    engine = DetectionEngine()
    readings: list[Reading] = []
    flags: list[Flag] = []
    for message in sim_engine.simulate(fleet, start, 2 * 86400, 60.0, seed=3):
        payload = orjson.loads(message.payload)
        reading = Reading(message.device, "pump", "plant-a", message.ts_ns, payload["metrics"])
        readings.append(reading)
        flags += engine.process(reading)
    config = InfluxConfig(url=influx_db.url, database=influx_db.name, api="v1")
    with V1Writer(config) as writer:
        for i in range(0, len(readings), 1000):
            writer.write(readings_body(readings[i : i + 1000]))
    return [f for f in flags if f.kind is FlagKind.EQUIPMENT]


def _sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/app/")
    page.fill("#api-key", key)
    page.click("#signin-button")
    page.wait_for_selector("#queue-body tr")


def test_planner_and_engineer_work_an_order_in_chromium(
    live_server: Any, influx_db: Any, browser_page: Any
) -> None:
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    now = time.time_ns()
    device = "pump-001"
    flags = _simulate_bearing_wear(influx_db, datetime.now(UTC))
    assert flags and {f.failure_mode for f in flags} == {"bearing_wear"}
    reader = InfluxReader(InfluxConfig(url=influx_db.url, database=influx_db.name, api="v1"))
    live_server.deps.telemetry = reader
    try:
        for flag in flags:
            order = live_server.raise_order(flag)
        assert order.device == device and order.flags[0].predicted_failure_at is not None

        # Sign in as the planner: the queue lists the order with a live countdown.
        _sign_in(page, live_server.url, KEYS["planner"])
        row = page.locator(f'tr[data-order-id="{order.id}"]')
        row.wait_for()
        assert order.catalog_entry_id in row.inner_text()
        countdown = row.locator("[data-due]").inner_text()
        assert countdown and countdown[0].isdigit()

        # A new order raised by the pipeline appears without reloading the page.
        page.wait_for_function("document.querySelector('#live').classList.contains('on')")
        second = live_server.raise_order(device="pump-002", site="plant-b", end_ns=now - HOUR_NS)
        page.locator(f'tr[data-order-id="{second.id}"]').wait_for()
        page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

        # Open the order: chart with telemetry, flag window and predicted failure.
        row.click()
        page.wait_for_selector("[data-testid=telemetry-chart] path[data-metric]")
        metrics = page.locator("[data-testid=telemetry-chart] path[data-metric]")
        flagged = {m for f in flags for m in f.metrics}
        assert metrics.count() == len(flagged)  # the flagged metrics first
        page.click('.legend-item[data-metric="speed_rpm"]')
        assert metrics.count() == len(flagged) + 1  # the legend shows the others on demand
        assert page.locator("[data-testid=flag-window]").count() == 1
        assert page.locator("[data-testid=predicted-failure]").count() == 1
        assert page.locator("#sop li").count() >= 3
        assert page.locator("#knowledge li").count() >= 1

        # Assign it to Ivy.
        page.fill("#assignee", "ivy")
        page.click("#assign-form button[type=submit]")
        page.wait_for_selector('#order[data-status="assigned"]')
        page.screenshot(path=str(ARTIFACTS / "order-assigned.png"), full_page=True)

        # Ivy signs in and moves it to in_progress.
        page.click("#sign-out")
        _sign_in(page, live_server.url, KEYS["intermediate_engineer"])
        page.goto(f"{live_server.url}/app/#/order/{order.id}")
        page.click('button[data-transition="in_progress"]')
        page.wait_for_selector('#order[data-status="in_progress"]')
        assert "in_progress" in page.locator("#history").inner_text()

        # Ticking an SOP step saves it on the order.
        page.check('#sop input[data-step="0"]')
        page.wait_for_function(
            "document.querySelector('#sop input[data-step=\"0\"]').disabled === false"
        )
        page.screenshot(path=str(ARTIFACTS / "order-in-progress.png"), full_page=True)
        page.reload()
        page.wait_for_selector('#sop input[data-step="0"]:checked')

        # A junior engineer's KPI page explains the denial instead of breaking.
        page.goto(f"{live_server.url}/app/#/kpis")
        page.wait_for_selector("#kpi-body .error")
        assert "may not" in page.locator("#kpi-body .error").inner_text()

        # The planner's KPI page draws the period's numbers.
        page.click("#sign-out")
        _sign_in(page, live_server.url, KEYS["planner"])
        page.goto(f"{live_server.url}/app/#/kpis")
        page.wait_for_selector("#kpi-body .tile")
        assert page.locator("#kpi-body svg").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "kpis.png"), full_page=True)

        # The fleet overview shows each device's health and open flags.
        live_server.deps.fleet_state = lambda: [
            {"device": device, "asset_type": "pump", "site": "plant-a", "last_seen_ns": now,
             "health": "alarm", "open_flags": []},
            {"device": "pump-002", "asset_type": "pump", "site": "plant-b",
             "last_seen_ns": now - 90 * 10**9, "health": "ok", "open_flags": []},
        ]  # fmt: skip
        page.goto(f"{live_server.url}/app/#/fleet")
        page.wait_for_selector("#devices .device.health-alarm")
        assert page.locator("#devices .device").count() == 2
        page.screenshot(path=str(ARTIFACTS / "fleet.png"), full_page=True)
    finally:
        reader.close()
    for name in ("queue.png", "order-assigned.png", "order-in-progress.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
