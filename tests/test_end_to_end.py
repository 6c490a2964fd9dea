"""The whole path on real parts: simulated pump -> Mosquitto -> ingest -> InfluxDB -> detection
-> tasking -> API.

A pump of a VIP customer develops a bearing fault; its telemetry crosses a
real broker into a real InfluxDB; the service must flag it before the
simulated failure and open exactly one work order with the catalog's bearing
entry and the VIP SLA, which the HTTP API lists and shows with evidence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from prognos.api.app import create_app
from prognos.localservers import free_port
from prognos.service import Service, build_service
from prognos.settings import ApiSettings, InfluxSettings, MqttSettings, Settings
from prognos.simulators.engine import simulate
from prognos.simulators.fleet import Customer, Device, Fault, Fleet, Site, write_fleet
from prognos.simulators.publish import publish
from prognos.simulators.truth import ground_truth
from prognos.tasking.catalog import load_catalog
from prognos.tasking.sla import due_times

STEP_S = 60.0
DAYS = 3.0
PLANNER_KEY = "e2e-planner-key-0123456789"


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def fleet(unique_id: str) -> Fleet:
    """One healthy pump and one whose bearing wears out on day 2."""
    site = f"site-{unique_id}"
    return Fleet(
        customers=(Customer(id=f"cust-{unique_id}", name="ACME Water", tier="vip"),),
        sites=(Site(id=site, name="North station", customer=f"cust-{unique_id}"),),
        devices=(
            Device(id=f"pump-a-{unique_id}", asset_type="pump", site=site),
            Device(id=f"pump-b-{unique_id}", asset_type="pump", site=site),
        ),
        faults=(
            Fault(
                device=f"pump-a-{unique_id}",
                mode="bearing_wear",
                onset=timedelta(hours=14),
                failure=timedelta(hours=62),
                shape="exponential",
            ),
        ),
    )


@pytest.fixture
def service(
    tmp_path: Path, mosquitto, influx_db, fleet: Fleet, unique_id: str
) -> Iterator[tuple[Service, str]]:
    """The service wired as `prognos serve` does, with its API on a real HTTP port."""
    registry = tmp_path / "fleet.yaml"
    write_fleet(fleet, registry)
    settings = Settings(
        data_dir=tmp_path / "var",
        registry=registry,
        mqtt=MqttSettings(
            host=mosquitto.host,
            port=mosquitto.port,
            client_id=f"prognos-e2e-{unique_id}",
            topic_filter=f"prognos/site-{unique_id}/+/+/telemetry",
        ),
        influx=InfluxSettings(url=influx_db.url, api="auto", database=influx_db.name),
        api=ApiSettings(port=free_port(), users=f"pat:planner:{PLANNER_KEY}"),
    )
    svc = build_service(settings)
    svc.start()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(svc.components.api_deps()),
            host="127.0.0.1",
            port=settings.api.port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API to listen")
    try:
        yield svc, f"http://127.0.0.1:{settings.api.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        svc.stop()


def test_bearing_fault_becomes_one_work_order(
    service: tuple[Service, str], fleet: Fleet, influx_db, mosquitto
) -> None:
    svc, base_url = service
    start = datetime(2026, 3, 2, tzinfo=UTC)
    duration_s = DAYS * 86400
    messages = list(simulate(fleet, start=start, duration_s=duration_s, step_s=STEP_S, seed=11))
    report = publish(messages, host=mosquitto.host, port=mosquitto.port, qos=1, progress=False)
    assert report.acked == len(messages)

    wait_for(lambda: influx_db.count_points() >= len(messages), 120, "every reading in InfluxDB")
    assert svc.pipeline.wait_idle(60), "detection did not finish the stored readings"
    # Every published message is exactly one point: nothing lost, nothing doubled.
    assert influx_db.count_points() == len(messages)

    faulty = fleet.faults[0].device
    truth = {r["device"]: r for r in ground_truth(fleet, start, duration_s)}
    failure_ns = truth[faulty]["failure_ns"]

    headers = {"Authorization": f"Bearer {PLANNER_KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        listing = http.get("/api/v1/work-orders", params={"device": faulty})
        assert listing.status_code == 200, listing.text
        items = listing.json()["items"]
        assert len(items) == 1, f"expected one work order for {faulty}, got {items}"
        healthy = http.get("/api/v1/work-orders", params={"device": fleet.devices[1].id})
        assert healthy.json()["items"] == []

        detail = http.get(f"/api/v1/work-orders/{items[0]['order_id']}")
        assert detail.status_code == 200, detail.text
        order = detail.json()

        # The fleet view and the service's own metrics see the same traffic.
        devices = {d["device"]: d for d in http.get("/api/v1/fleet/devices").json()["items"]}
        assert set(devices) == {d.id for d in fleet.devices}
        metrics = http.get("/metrics").text
        written = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("prognos_ingest_readings_written_total")
        )
        assert written == len(messages)

    assert order["catalog_entry_id"] == "pdm-bearing-wear"
    assert order["failure_mode"] == "bearing_wear"
    assert order["tier"] == "vip"

    flags = order["evidence"]["flags"]
    first_flag_ns = min(_ns(f["opened_at"]) for f in flags)
    assert first_flag_ns < failure_ns, "the flag came after the simulated failure"
    onset_ns = truth[faulty]["onset_ns"]
    assert first_flag_ns > onset_ns, "the flag came before the fault began"

    # Due times: the catalog's VIP SLA for the order's priority, counted from the order's
    # creation, and never later than the expected failure minus the catalog's safety margin.
    catalog = load_catalog()
    sla = catalog.entries["pdm-bearing-wear"].sla_for("vip", order["priority"])
    created = datetime.fromisoformat(order["created_at"])
    predicted = order["predicted_failure_at"]
    expected = due_times(
        sla,
        created,
        datetime.fromisoformat(predicted) if predicted else None,
        catalog.priority_policy.safety_margin,
    )
    assert datetime.fromisoformat(order["first_response_due_at"]) == expected.first_response
    assert datetime.fromisoformat(order["onsite_due_at"]) == expected.onsite
    assert datetime.fromisoformat(order["resolve_due_at"]) == expected.resolution
    assert expected.resolution > created, "the order was due before it was opened"

    telemetry = order["evidence"]["telemetry"]
    assert telemetry["vibration_rms_mm_s"], "no telemetry window in the evidence"


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)
