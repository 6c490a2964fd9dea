"""Ingest test fixtures: publishers, ingester configs, waits, and a v2-API forwarder.

The forwarder answers ``/health`` like a 2.x server and maps
``POST /api/v2/write?org=..&bucket=..&precision=ns`` to ``/write?db=<bucket>``
on the real server, so the line protocol that ``influxdb-client`` produces is
stored (or refused) by a real InfluxDB.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from prognos.ingest.ingester import IngestConfig, Ingester


@dataclass
class V2Forwarder:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _handler(target_url: str, record: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    upstream = httpx.Client(base_url=target_url, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("X-Influxdb-Version", "2.7.0-forwarder")
            if body:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/health":
                self._reply(200, json.dumps({"status": "pass", "version": "2.7.0"}).encode())
            elif path == "/ping":
                self._reply(204)
            else:
                self._reply(404, b'{"code":"not found"}')

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record.append(
                {"path": parts.path, "query": query, "headers": dict(self.headers), "body": body}
            )
            if parts.path == "/api/v2/write":
                db, _, rp = query.get("bucket", "").partition("/")
                params = {"db": db, "precision": query.get("precision", "ns")}
                if rp:
                    params["rp"] = rp
                response = upstream.post("/write", params=params, content=body)
                if response.status_code == 204:
                    self._reply(204)
                else:
                    message = response.json().get("error", response.text)
                    payload = {"code": "invalid", "message": message}
                    self._reply(response.status_code, json.dumps(payload).encode())
            elif parts.path == "/query":
                response = upstream.post(
                    "/query", content=body, headers={"Content-Type": self.headers["Content-Type"]}
                )
                self._reply(response.status_code, response.content)
            else:
                self._reply(404, b'{"code":"not found"}')

    return Handler


@pytest.fixture
def v2_forwarder(influxdb) -> Iterator[V2Forwarder]:
    """A 2.x-looking HTTP front on the real InfluxDB; ``.requests`` records what it was sent."""
    record: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(influxdb.url, record))
    thread = threading.Thread(target=server.serve_forever, name="v2-forwarder", daemon=True)
    thread.start()
    try:
        yield V2Forwarder(url=f"http://127.0.0.1:{server.server_address[1]}", requests=record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """``wait_for(condition, timeout_s=30, what="")``: poll until true, fail after the timeout."""
    return _wait_for


class Publisher:
    """A QoS-1 publisher (persistent session, so it resends across broker restarts)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(0.1, 1)  # type: ignore[arg-type]
        self.client.connect(host, port)
        self.client.loop_start()

    def publish_all(self, messages: list[tuple[str, bytes]], timeout_s: float = 120) -> None:
        """Publish and wait until the broker acknowledged every message."""
        deadline = time.monotonic() + timeout_s
        infos = []
        for topic, payload in messages:
            info = self.client.publish(topic, payload, qos=1)
            while info.rc != mqtt.MQTT_ERR_SUCCESS:  # not connected (e.g. broker restarting)
                assert time.monotonic() < deadline, f"publish failed: {info.rc}"
                time.sleep(0.05)
                if self.client.is_connected():
                    info = self.client.publish(topic, payload, qos=1)
            infos.append(info)
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "the broker did not acknowledge a publish in time"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher_class() -> type[Publisher]:
    """The Publisher class, for tests that need one with credentials."""
    return Publisher


@pytest.fixture
def publisher_factory(unique_id: str) -> Iterator[Callable[[Any], Publisher]]:
    """``publisher_factory(broker)``: a connected Publisher, closed after the test."""
    made: list[Publisher] = []

    def make(broker: Any) -> Publisher:
        pub = Publisher(broker.host, broker.port, f"pub-{unique_id}-{len(made)}")
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()


@pytest.fixture
def publisher(mosquitto: Any, publisher_factory: Callable[[Any], Publisher]) -> Publisher:
    return publisher_factory(mosquitto)


@pytest.fixture
def ingest_config(unique_id: str, tmp_path: Path) -> Callable[..., IngestConfig]:
    """``ingest_config(broker, **overrides)``: the test's client id, filter, spool, dead letters."""

    def make(broker: Any, **overrides: Any) -> IngestConfig:
        values: dict[str, Any] = {
            "broker_host": broker.host,
            "broker_port": broker.port,
            "client_id": f"ingest-{unique_id}",
            "topic_filter": f"prognos/{unique_id}/+/+/telemetry",
            "dead_letter_path": tmp_path / "deadletter.jsonl",
            "dead_letter_topic": None,
            "spool_dir": tmp_path / "spool",
        }
        values.update(overrides)
        return IngestConfig(**values)

    return make


def wait_subscribed(ingester: Ingester) -> None:
    _wait_for(lambda: ingester.health()["broker_connected"], 10, "broker connection")
    time.sleep(0.2)  # the SUBACK follows the CONNACK


@pytest.fixture
def started() -> Callable[[Ingester], Ingester]:
    """``started(ingester)``: wait until it is connected and subscribed; returns it."""

    def wait(ingester: Ingester) -> Ingester:
        wait_subscribed(ingester)
        return ingester

    return wait


@pytest.fixture
def read_dead_letters(tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    def read() -> list[dict[str, Any]]:
        path = tmp_path / "deadletter.jsonl"
        if not path.exists():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]

    return read
