"""Server-sent events over a real HTTP server: changes reach a listening client."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx


def _wait(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_sse_stream_delivers_created_and_changed_orders(live_server: Any) -> None:
    headers = {"Authorization": "Bearer test-key-planner-0123456789"}
    received: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def listen() -> None:
        try:
            with httpx.stream(
                "GET",
                f"{live_server.url}/api/v1/events?max_events=2",
                headers=headers,
                timeout=20,
            ) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    listener = threading.Thread(target=listen)
    listener.start()
    _wait(lambda: live_server.deps.events.subscriber_count == 1)
    order = live_server.raise_order()
    resp = httpx.put(
        f"{live_server.url}/api/v1/work-orders/{order.id}/assignment",
        json={"assignee": "ivy", "expected_version": order.version},
        headers=headers,
    )
    assert resp.status_code == 200
    listener.join(timeout=20)
    assert not errors and not listener.is_alive()
    assert [e["type"] for e in received] == ["work_order.created", "work_order.changed"]
    assert received[1]["data"]["assignee"] == "ivy" and received[1]["data"]["by"] == "pat"
    _wait(lambda: live_server.deps.events.subscriber_count == 0)


def test_sse_requires_a_key(live_server: Any) -> None:
    resp = httpx.get(f"{live_server.url}/api/v1/events", timeout=5)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_closing_the_bus_ends_open_streams(live_server: Any) -> None:
    headers = {"Authorization": "Bearer test-key-planner-0123456789"}
    ended = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", f"{live_server.url}/api/v1/events", headers=headers, timeout=20
        ) as resp:
            for _ in resp.iter_lines():
                pass
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    _wait(lambda: live_server.deps.events.subscriber_count == 1)
    started = time.monotonic()
    live_server.deps.events.close()
    assert ended.wait(5), "the stream did not end after the bus closed"
    assert time.monotonic() - started < 5
