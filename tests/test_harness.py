"""The harness itself: the real servers start, answer, restart and keep their data."""

from __future__ import annotations

import threading

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def test_influxdb_answers_and_counts_points(influx_db) -> None:
    lines = "\n".join(
        f"telemetry,device=d{i % 3} v={i} {1_700_000_000_000_000_000 + i}" for i in range(10)
    )
    response = httpx.post(f"{influx_db.url}/write", params={"db": influx_db.name}, content=lines)
    assert response.status_code == 204, response.text
    assert influx_db.count_points() == 10
    assert influx_db.count_points(where="device = 'd0'") == 4


def test_influx_data_survives_restart(influxdb_factory) -> None:
    server = influxdb_factory()
    response = httpx.post(
        f"{server.url}/write", params={"db": server.database}, content="telemetry v=1 1\n"
    )
    assert response.status_code == 204, response.text
    server.restart()
    assert server.count_points() == 1


def test_mosquitto_round_trip_after_restart(mosquitto_factory, unique_id) -> None:
    broker = mosquitto_factory()
    pid_before = broker.pid
    broker.restart()
    assert broker.pid != pid_before

    subscribed, got = threading.Event(), threading.Event()
    received: list[bytes] = []

    def on_message(client, userdata, message) -> None:
        received.append(message.payload)
        got.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{unique_id}")
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.subscribe(f"t/{unique_id}", qos=1)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{unique_id}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        assert subscribed.wait(5)
        pub.publish(f"t/{unique_id}", b"hello", qos=1).wait_for_publish(5)
        assert got.wait(5)
        assert received == [b"hello"]
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
