"""Publishing simulated telemetry to an MQTT broker, paced and acknowledged.

Waits for every QoS 1/2 acknowledgement before returning, keeps a bounded
number of messages in flight, and can pace by a target rate or by the
simulated clock (real time, or N times faster). A progress line goes to stderr.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from prognos.simulators.engine import Message
from prognos.simulators.errors import PublishError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publishing run achieved."""

    sent: int
    acked: int
    elapsed_s: float
    rate: float

    def summary(self) -> str:
        """One line for the end of a run."""
        return (
            f"sent {self.sent} messages, {self.acked} acknowledged, in {self.elapsed_s:.1f} s "
            f"({self.rate:.0f} msg/s)"
        )


class _Progress:
    """A tqdm-like progress line on stderr, redrawn at most a few times a second."""

    def __init__(self, total: int | None, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.enabled = total, stream, enabled
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, sent: int, acked: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.25):
            return
        self.last = now
        rate = sent / max(now - self.started, 1e-9)
        if self.total:
            frac = min(sent / self.total, 1.0)
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            head = f"[{bar}] {100 * frac:5.1f}% {sent}/{self.total}"
        else:
            head = f"{sent} sent"
        self.stream.write(f"\r{head} acked {acked} {rate:8.0f} msg/s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def publish(
    messages: Iterable[Message],
    host: str = "127.0.0.1",
    port: int = 1883,
    qos: int = 1,
    client_id: str = "",
    rate_msgs_per_s: float | None = None,
    realtime_speed: float | None = None,
    progress: bool = True,
    *,
    total: int | None = None,
    max_in_flight: int = 1000,
    ack_timeout_s: float = 30.0,
) -> PublishReport:
    """Publish every message and wait until the broker has acknowledged all of them.

    ``rate_msgs_per_s`` caps the send rate; ``realtime_speed`` paces by the
    readings' timestamps (1 = real time, 60 = a minute per second); neither
    means as fast as the broker acknowledges.
    """
    if qos not in (0, 1, 2):
        raise PublishError(f"qos must be 0, 1 or 2, got {qos}")
    for name, value in (("rate", rate_msgs_per_s), ("speed", realtime_speed)):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise PublishError(f"{name} must be a positive number, got {value}")
    window = threading.Semaphore(max_in_flight)
    done = threading.Condition()
    counts = {"acked": 0}
    connected = threading.Event()
    refusal: list[str] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            refusal.append(str(reason))
        connected.set()

    def on_publish(client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with done:
            counts["acked"] += 1
            done.notify_all()
        window.release()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id or f"prognos-sim-{os.getpid()}"
    )
    client.max_inflight_messages_set(max_in_flight)
    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=60)
    except (OSError, ValueError) as exc:
        raise PublishError(f"cannot connect to the MQTT broker at {host}:{port}: {exc}") from None
    client.loop_start()
    bar = _Progress(total, sys.stderr, progress)
    sent = 0
    started = time.monotonic()
    try:
        if not connected.wait(timeout=ack_timeout_s) or refusal:
            why = refusal[0] if refusal else "no CONNACK"
            raise PublishError(f"the MQTT broker at {host}:{port} refused the connection: {why}")
        first_ts: int | None = None
        newest_ts = 0
        for msg in messages:
            if rate_msgs_per_s is not None:
                _sleep_until(started + sent / rate_msgs_per_s)
            if realtime_speed is not None:
                first_ts = msg.ts_ns if first_ts is None else first_ts
                newest_ts = max(newest_ts, msg.ts_ns)
                _sleep_until(started + (newest_ts - first_ts) / 1e9 / realtime_speed)
            if not window.acquire(timeout=ack_timeout_s):
                raise PublishError(
                    f"the broker at {host}:{port} acknowledged nothing for {ack_timeout_s:g} s "
                    f"({counts['acked']} of {sent} acknowledged)"
                )
            info = client.publish(msg.topic, msg.payload, qos=qos)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                raise PublishError(
                    f"publishing to {msg.topic} failed: {mqtt.error_string(info.rc)}"
                )
            sent += 1
            bar.update(sent, counts["acked"])
        with done:
            if not done.wait_for(lambda: counts["acked"] >= sent, timeout=ack_timeout_s):
                raise PublishError(
                    f"only {counts['acked']} of {sent} messages were acknowledged by {host}:{port} "
                    f"within {ack_timeout_s:g} s"
                )
    finally:
        client.disconnect()
        client.loop_stop()
    elapsed = time.monotonic() - started
    bar.update(sent, counts["acked"], final=True)
    report = PublishReport(sent, counts["acked"], elapsed, sent / elapsed if elapsed > 0 else 0.0)
    log.info("published sent=%d acked=%d elapsed_s=%.2f", report.sent, report.acked, elapsed)
    return report


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
