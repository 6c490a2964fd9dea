"""Events out: new and changed work orders, told to the page and to other systems.

``EventBus`` is the in-process pub/sub behind the server-sent events stream;
sinks attached to it forward every event to an MQTT topic
(``MqttEventPublisher``) and to HMAC-signed, retried webhooks (``WebhookSender``)
so an external CMMS or chat tool can follow the work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

EVENTS_TOPIC = "prognos/events/work-orders"
#: Delivered to listeners when the bus closes, so open event streams end at shutdown.
CLOSED = "stream.closed"
SIGNATURE_HEADER = "X-Prognos-Signature"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: a dotted type (``work_order.created``) and a JSON-able body."""

    type: str
    data: dict[str, Any]
    id: int = 0
    ts_ns: int = field(default_factory=time.time_ns)

    def to_json(self) -> str:
        """The event as one JSON document (id, type, ts_ns, data)."""
        return json.dumps(
            {"id": self.id, "type": self.type, "ts_ns": self.ts_ns, "data": self.data},
            separators=(",", ":"),
            default=str,
        )


class Subscription:
    """A bounded queue of events for one listener on one event loop.

    When the listener falls behind, the oldest events are dropped, not the bus.
    """

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, max_queued: int) -> None:
        self._bus = bus
        self._loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_queued)
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def deliver(self, event: Event) -> None:
        """Hand an event over from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._offer, event)
        except RuntimeError:  # the loop has closed: the listener is gone
            self._bus.unsubscribe(self)

    async def get(self, timeout_s: float) -> Event | None:
        """The next event, or None after ``timeout_s``."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None

    def close(self) -> None:
        """Stop receiving."""
        self._bus.unsubscribe(self)


class EventBus:
    """Thread-safe fan-out of events to async subscribers and sync sinks.

    >>> bus = EventBus()
    >>> seen = []
    >>> bus.add_sink(seen.append)
    >>> bus.publish("work_order.created", {"order_id": "WO-1"}).id
    1
    >>> seen[0].type
    'work_order.created'
    """

    def __init__(self, max_queued: int = 1000) -> None:
        self._max_queued = max_queued
        self.closed = False
        self._subs: set[Subscription] = set()
        self._sinks: list[Callable[[Event], None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def subscribe(self, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        """A new subscription delivering on ``loop`` (the running loop by default)."""
        sub = Subscription(self, loop or asyncio.get_running_loop(), self._max_queued)
        with self._lock:
            self._subs.add(sub)
        return sub

    def close(self) -> None:
        """End every open stream (call at shutdown, before stopping the HTTP server)."""
        with self._lock:
            self.closed = True
            subs = list(self._subs)
        for sub in subs:
            sub.deliver(Event(type=CLOSED, data={}))

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        """How many listeners are attached now."""
        with self._lock:
            return len(self._subs)

    def add_sink(self, sink: Callable[[Event], None]) -> None:
        """Call ``sink(event)`` for every event; a failing sink is logged, never fatal."""
        with self._lock:
            self._sinks.append(sink)

    def publish(self, type_: str, data: dict[str, Any]) -> Event:
        """Publish one event to every subscriber and sink; returns it with its id."""
        with self._lock:
            event = Event(type=type_, data=data, id=next(self._ids))
            subs = list(self._subs)
            sinks = list(self._sinks)
        for sub in subs:
            sub.deliver(event)
        for sink in sinks:
            try:
                sink(event)
            except Exception:
                log.exception("event sink failed type=%s id=%d", event.type, event.id)
        return event


class MqttEventPublisher:
    """Sink that publishes every event as JSON to an MQTT topic (QoS 1).

    Use as a context manager: it connects on enter and disconnects on exit.
    """

    def __init__(
        self, host: str, port: int, topic: str = EVENTS_TOPIC, client_id: str = "prognos-api"
    ) -> None:
        import paho.mqtt.client as mqtt

        self.topic = topic
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self._host = host
        self._port = port

    def __enter__(self) -> MqttEventPublisher:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __call__(self, event: Event) -> None:
        self._client.publish(self.topic, event.to_json(), qos=1)


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Webhook:
    """One receiver: its URL and the shared secret that signs each body."""

    url: str
    secret: bytes = field(repr=False)


class EventsError(ValueError):
    """An events setting (e.g. the webhook list) is malformed; the message says which part."""


def parse_webhooks(spec: str) -> list[Webhook]:
    """Webhooks from ``"https://a.example/hook|secret1,https://b.example/x|secret2"``.

    >>> [h.url for h in parse_webhooks("http://127.0.0.1:9/h|s3cret-s3cret")]
    ['http://127.0.0.1:9/h']
    """
    hooks = []
    for index, entry in enumerate(p.strip() for p in spec.split(",")):
        if not entry:
            continue
        url, sep, secret = entry.rpartition("|")
        if not sep or not url.startswith(("http://", "https://")):
            raise EventsError(f"webhook {index + 1} is not 'http(s)://url|secret'")
        if len(secret) < 8:
            raise EventsError(f"webhook {index + 1}: the secret is shorter than 8 characters")
        hooks.append(Webhook(url, secret.encode("utf-8")))
    return hooks


class WebhookSender:
    """Sink that POSTs each event to configured webhooks, signed and retried.

    Delivery runs on one worker thread so the publisher never waits on a slow
    receiver; a failed POST (network error or non-2xx) is retried with
    exponential back-off up to ``max_attempts``. Use as a context manager.
    """

    def __init__(
        self,
        hooks: list[Webhook],
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        max_queued: int = 10_000,
    ) -> None:
        self.hooks = hooks
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=max_queued)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WebhookSender:
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)

    def __call__(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.failed += len(self.hooks)
            log.warning("webhook queue full, event dropped id=%d", event.id)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                event = self._queue.get()
                if event is None:
                    return
                body = event.to_json().encode("utf-8")
                for hook in self.hooks:
                    self._deliver(client, hook, event, body)

    def _deliver(self, client: httpx.Client, hook: Webhook, event: Event, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(hook.secret, body),
            "X-Prognos-Event": event.type,
            "X-Prognos-Delivery": str(event.id),
        }
        delay = self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = client.post(hook.url, content=body, headers=headers)
                if 200 <= resp.status_code < 300:
                    self.delivered += 1
                    return
                reason = f"status {resp.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            log.warning(
                "webhook attempt failed url=%s event=%d attempt=%d reason=%s",
                hook.url,
                event.id,
                attempt,
                reason,
            )
            if attempt < self.max_attempts and self._stop.wait(delay):
                break
            delay *= 2
        self.failed += 1
