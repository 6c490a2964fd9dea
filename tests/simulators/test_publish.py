"""Publishing to a real Mosquitto broker delivers every message, acknowledged."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from prognos.simulators.engine import simulate
from prognos.simulators.errors import PublishError
from prognos.simulators.fleet import Customer, Device, Fleet, Site
from prognos.simulators.publish import publish


class Collector:
    """A QoS 1 subscriber that counts what arrives on a topic filter."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"collector-{time.time_ns()}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append((msg.topic, msg.payload))
            self.lock.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> int:
        with self.lock:
            self.lock.wait_for(lambda: len(self.received) >= count, timeout=timeout_s)
            return len(self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _fleet(site: str, devices: int) -> Fleet:
    return Fleet(
        (Customer("c1", "C", "standard"),),
        (Site(site, "S", "c1"),),
        tuple(Device(f"pump-{i}", "pump", site) for i in range(devices)),
    )


def test_publish_delivers_every_message(mosquitto, unique_id, start) -> None:
    site = f"pub{unique_id}"
    collector = Collector(mosquitto.host, mosquitto.port, f"prognos/{site}/#")
    try:
        messages = list(simulate(_fleet(site, 5), start, 86400 / 2, 60.0, 1))
        report = publish(
            messages, mosquitto.host, mosquitto.port, qos=1, progress=False, max_in_flight=200
        )
        assert report.sent == report.acked == len(messages) == 5 * 720
        assert collector.wait_for(len(messages), timeout_s=30) == len(messages)
        assert sorted(collector.received) == sorted((m.topic, m.payload) for m in messages)
    finally:
        collector.close()


def test_rate_and_realtime_pacing_hold_back_publishing(mosquitto, unique_id, start) -> None:
    messages = list(simulate(_fleet(f"rate{unique_id}", 1), start, 3600, 60.0, 1))
    report = publish(
        messages[:20], mosquitto.host, mosquitto.port, rate_msgs_per_s=40, progress=False
    )
    assert report.acked == 20 and 0.4 < report.elapsed_s < 5
    # 20 minutes of readings at 1200x real time take about a second.
    report = publish(
        messages[:21], mosquitto.host, mosquitto.port, realtime_speed=1200, progress=False
    )
    assert report.acked == 21 and 0.8 < report.elapsed_s < 5


def test_unreachable_broker_is_a_clear_error(start) -> None:
    messages = simulate(_fleet("nowhere", 1), start, 600, 60.0, 1)
    expected = r"cannot connect to the MQTT broker at 127\.0\.0\.1:1\b"
    with pytest.raises(PublishError, match=expected):
        publish(messages, "127.0.0.1", 1, progress=False)


def test_cli_simulate_publishes_a_quick_fleet(mosquitto, start) -> None:
    import typer

    from prognos.commands.simulate import register

    app = typer.Typer()
    register(app)
    collector = Collector(mosquitto.host, mosquitto.port, "prognos/+/+/+/telemetry")
    try:
        result = CliRunner().invoke(
            app,
            [
                "simulate",
                "--devices",
                "3",
                "--mix",
                "motor=1",
                "--duration",
                "2h",
                "--seed",
                "5",
                "--start",
                (start + timedelta(days=400)).isoformat(),
                "--host",
                mosquitto.host,
                "--port",
                str(mosquitto.port),
                "--no-progress",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "sent 360 messages, 360 acknowledged" in result.output
        assert collector.wait_for(360, timeout_s=30) >= 360
    finally:
        collector.close()


@pytest.mark.slow
def test_load_mode_holds_a_target_rate_for_thousands_of_devices(
    mosquitto, unique_id, start
) -> None:
    from prognos.simulators.fleet import quick_fleet

    fleet = quick_fleet(2000, {"pump": 1.0, "motor": 1.0}, 0.0, 3, start, 600)
    fleet = Fleet(
        fleet.customers,
        tuple(Site(f"{s.id}-{unique_id}", s.name, s.customer) for s in fleet.sites),
        tuple(Device(d.id, d.asset_type, f"{d.site}-{unique_id}") for d in fleet.devices),
    )
    collector = Collector(mosquitto.host, mosquitto.port, "prognos/+/+/+/telemetry")
    try:
        report = publish(
            simulate(fleet, start, 600, 60.0, 3),
            mosquitto.host,
            mosquitto.port,
            rate_msgs_per_s=2000,
            progress=False,
            total=20_000,
        )
        assert report.sent == report.acked == 20_000
        assert 1200 < report.rate <= 2050, report.summary()
        assert collector.wait_for(20_000, timeout_s=60) >= 20_000
    finally:
        collector.close()
