"""`prognos demo`: the whole path on one machine, from nothing to work orders in a minute.

Starts Mosquitto and InfluxDB as child processes under the demo's data
directory, runs the service (ingest, detection, tasking, API) and publishes a
small simulated fleet in accelerated time, then serves the planner's page until
Ctrl-C, which stops every child cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from prognos.localservers import OS_PACKAGES, InfluxServer, MosquittoServer, find_binary
from prognos.service import run_service
from prognos.settings import ApiSettings, InfluxSettings, MqttSettings, Settings
from prognos.simulators.engine import simulate
from prognos.simulators.fleet import Customer, Device, Fault, Fleet, Site, write_fleet
from prognos.simulators.publish import publish

log = logging.getLogger(__name__)

#: Demo users, one per role a planner's team has; keys are generated per run.
DEMO_USERS = (
    ("planner", "planner"),
    ("senior", "senior_engineer"),
    ("junior", "junior_engineer"),
    ("manager", "project_manager"),
    ("admin", "admin"),
)
STEP_S = 60.0


class DemoError(RuntimeError):
    """The demo cannot start; the message says what to do."""


def _binary(name: str) -> str:
    found = find_binary(name)
    if found is None:
        raise DemoError(
            f"{name} is not installed: run `make demo` (it installs {OS_PACKAGES[name]}) "
            f"or `apt-get install {OS_PACKAGES[name]}`"
        )
    return found


def run_demo(api_port: int, devices: int, days: float, speed: float, data_dir: Path) -> None:
    """Run the demo until Ctrl-C."""
    mosquitto_bin, influxd_bin = _binary("mosquitto"), _binary("influxd")
    data_dir = data_dir.resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)  # demo data is disposable: every run starts clean
    data_dir.mkdir(parents=True)
    (data_dir / "mosquitto").mkdir()
    (data_dir / "influxdb").mkdir()

    keys = {name: secrets.token_urlsafe(18) for name, _ in DEMO_USERS}
    users = ",".join(f"{name}:{role}:{keys[name]}" for name, role in DEMO_USERS)
    start = demo_start(datetime.now(UTC), days)
    fleet = demo_fleet(devices=devices, start=start, days=days)
    fleet_path = data_dir / "fleet.yaml"
    write_fleet(fleet, fleet_path)

    with contextlib.ExitStack() as stack:
        broker = MosquittoServer(mosquitto_bin, data_dir / "mosquitto")
        influx = InfluxServer(influxd_bin, data_dir / "influxdb", database="prognos")
        print("prognos demo: starting mosquitto and influxd under", data_dir, file=sys.stderr)
        broker.start()
        stack.callback(broker.stop)
        influx.start()
        stack.callback(influx.close)

        settings = Settings(
            data_dir=data_dir / "service",
            registry=fleet_path,
            mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="prognos-demo"),
            influx=InfluxSettings(url=influx.url, api="v1", database="prognos"),
            api=ApiSettings(host="127.0.0.1", port=api_port, users=SecretStr(users)),
        )

        def start_fleet(url: str) -> None:
            print(f"\n  Planner page: {url}", file=sys.stderr)
            for name, role in DEMO_USERS:
                print(f"    sign in as {name:8} ({role}): key {keys[name]}", file=sys.stderr)
            print(
                f"  Simulating {devices} devices, {days:g} days at {speed:g}x "
                f"(~{days * 86400 / speed / 60:.1f} min); work orders appear as faults "
                "develop. Ctrl-C stops everything.\n",
                file=sys.stderr,
            )
            threading.Thread(
                target=_publish_fleet,
                args=(fleet, start, days, speed, broker.host, broker.port),
                name="prognos-demo-fleet",
                daemon=True,
            ).start()

        run_service(settings, ready=start_fleet)
    print("prognos demo: stopped", file=sys.stderr)


def _publish_fleet(
    fleet: Fleet, start: datetime, days: float, speed: float, host: str, port: int
) -> None:
    try:
        messages = simulate(fleet, start=start, duration_s=days * 86400, step_s=STEP_S, seed=7)
        report = publish(
            messages,
            host=host,
            port=port,
            qos=1,
            client_id="prognos-demo-fleet",
            realtime_speed=speed,
            progress=False,
        )
        print(f"prognos demo: fleet finished, {report.sent} messages sent", file=sys.stderr)
    except Exception:
        log.exception("simulated fleet stopped")


def demo_start(now: datetime, days: float) -> datetime:
    """Monday 07:00 UTC, at least ``days`` before ``now``: the simulated week the demo replays.

    The fleet's shifts and weekends follow the calendar, so a start that moved
    with the clock would give each run a different warm-up (a weekend or a night
    shift) and a different story. A fixed weekday morning shows the same one
    every time, with the simulated week always in the recent past.

    >>> demo_start(datetime(2026, 11, 26, 9, 30, tzinfo=UTC), 7).isoformat()
    '2026-11-16T07:00:00+00:00'
    >>> demo_start(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), 7).isoformat()
    '2026-11-16T07:00:00+00:00'
    """
    latest = now - timedelta(days=days)
    monday = (latest - timedelta(days=latest.weekday())).replace(
        hour=7, minute=0, second=0, microsecond=0
    )
    return monday if monday <= latest else monday - timedelta(days=7)


def demo_fleet(devices: int, start: datetime, days: float) -> Fleet:
    """A small mixed fleet for the demo: a VIP and a standard customer, two faults.

    The first pump's bearing starts to wear after 12 healthy hours, so a work
    order appears within a minute at an hour per second.
    """
    customers = (
        Customer(id="acme", name="ACME Water", tier="vip"),
        Customer(id="globex", name="Globex Foods", tier="standard"),
    )
    sites = (
        Site(id="plant-north", name="North pumping station", customer="acme"),
        Site(id="plant-south", name="South processing plant", customer="globex"),
    )
    types = ("pump", "motor", "compressor", "pump", "chiller", "spindle")
    fleet_devices = tuple(
        Device(
            id=f"{types[i % len(types)]}-{i + 1:02d}",
            asset_type=types[i % len(types)],
            site=sites[i % 2].id,
        )
        for i in range(max(devices, 2))
    )
    span = timedelta(days=days)
    faults = [
        Fault(
            device=fleet_devices[0].id,
            mode="bearing_wear",
            onset=timedelta(hours=12),
            failure=timedelta(hours=12) + span * 0.5,
            shape="exponential",
        )
    ]
    if len(fleet_devices) > 3:
        faults.append(
            Fault(
                device=fleet_devices[3].id,
                mode="bearing_wear",
                onset=span * 0.4,
                failure=span * 0.95,
                shape="exponential",
            )
        )
    return Fleet(customers=customers, sites=sites, devices=fleet_devices, faults=tuple(faults))
