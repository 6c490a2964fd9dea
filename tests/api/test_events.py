"""Events out: the in-process bus, signed and retried webhooks, and the MQTT topic."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from prognos.api.events import (
    SIGNATURE_HEADER,
    EventBus,
    EventsError,
    MqttEventPublisher,
    Webhook,
    WebhookSender,
    parse_webhooks,
)


def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Receiver:
    """A real HTTP server that records deliveries and fails the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= outer.fail_first:
                    self.send_response(503)
                else:
                    outer.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(fail_first=2) as r:
        yield r


def test_bus_delivers_to_async_subscribers_in_order_and_drops_oldest_when_full() -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        bus = EventBus(max_queued=3)
        fast = bus.subscribe()
        slow = bus.subscribe()
        got = []
        for i in range(5):
            bus.publish("work_order.changed", {"n": i})
            event = await fast.get(1.0)
            assert event is not None
            got.append(event.data["n"])
        await asyncio.sleep(0)
        kept = [slow.queue.get_nowait().data["n"] for _ in range(slow.queue.qsize())]
        fast.close()
        return got, kept, slow.dropped

    got, kept, dropped = asyncio.run(scenario())
    assert got == [0, 1, 2, 3, 4]
    assert kept == [2, 3, 4] and dropped == 2


def test_bus_publish_from_another_thread_reaches_the_loop() -> None:
    async def scenario() -> str:
        bus = EventBus()
        sub = bus.subscribe()
        threading.Thread(target=bus.publish, args=("work_order.created", {"id": "x"})).start()
        event = await sub.get(5.0)
        assert event is not None
        return event.type

    assert asyncio.run(scenario()) == "work_order.created"


def test_failing_sink_does_not_stop_the_others() -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(_: Any) -> None:
        raise RuntimeError("receiver down")

    bus.add_sink(broken)
    bus.add_sink(lambda e: seen.append(e.type))
    bus.publish("work_order.changed", {})
    assert seen == ["work_order.changed"]


def test_webhook_is_signed_and_retried_until_delivered(receiver: Receiver) -> None:
    secret = b"shared-secret"
    bus = EventBus()
    with WebhookSender([Webhook(receiver.url, secret)], max_attempts=4, backoff_s=0.05) as sender:
        bus.add_sink(sender)
        bus.publish("work_order.created", {"order_id": "WO-1"})
        wait_for(lambda: sender.delivered == 1)
    assert receiver.attempts == 3  # two 503s, then success
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert json.loads(body)["data"] == {"order_id": "WO-1"}
    assert sender.failed == 0


def test_webhook_gives_up_after_max_attempts() -> None:
    with Receiver(fail_first=100) as r:
        with WebhookSender([Webhook(r.url, b"k")], max_attempts=3, backoff_s=0.02) as sender:
            sender(EventBus().publish("work_order.changed", {}))
            wait_for(lambda: sender.failed == 1)
        assert r.attempts == 3 and sender.delivered == 0


def test_mqtt_publisher_puts_events_on_the_topic(mosquitto: Any, unique_id: str) -> None:
    topic = f"prognos/test-{unique_id}/events"
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{unique_id}")
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(mosquitto.host, mosquitto.port)
    sub.loop_start()
    try:
        sub.subscribe(topic, qos=1)
        assert subscribed.wait(10)
        bus = EventBus()
        with MqttEventPublisher(mosquitto.host, mosquitto.port, topic, f"p-{unique_id}") as pub:
            bus.add_sink(pub)
            bus.publish("work_order.created", {"order_id": "WO-7"})
            wait_for(lambda: len(got) == 1)
    finally:
        sub.loop_stop()
        sub.disconnect()
    message = json.loads(got[0])
    assert message["type"] == "work_order.created" and message["data"]["order_id"] == "WO-7"


def test_webhook_spec_parsing_and_secrets_stay_out_of_repr() -> None:
    hooks = parse_webhooks("http://a.test/h|secret-one, https://b.test/x?y=1|secret-two")
    assert [h.url for h in hooks] == ["http://a.test/h", "https://b.test/x?y=1"]
    assert "secret" not in repr(hooks)
    with pytest.raises(EventsError, match="webhook 1"):
        parse_webhooks("ftp://a.test|secret-one")
    with pytest.raises(EventsError, match="shorter"):
        parse_webhooks("http://a.test|short")
