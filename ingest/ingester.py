"""The ingester: MQTT messages in, InfluxDB points out, nothing acknowledged lost.

A message is acknowledged to the broker only after its readings are durably
stored (written to InfluxDB, or to the on-disk spool while InfluxDB is down),
or after it was refused and written to the dead-letter sink. The MQTT thread
only queues messages; one writer thread parses, batches, writes and acks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .contract import DEFAULT_TOPIC_TEMPLATE, MAX_PAYLOAD_BYTES, TELEMETRY_FILTER, Reading
from .deadletter import DeadLetterSink
from .influx import InfluxWriter
from .lineprotocol import LineBuilder, LineProtocolError
from .metrics import IngestMetrics
from .mqtt import AckHandle, MqttSession, SessionOptions
from .normalise import Normaliser
from .parse import BadMessageError, Limits, TopicTemplate, parse_message
from .spool import Spool
from .store import BatchStore

log = logging.getLogger(__name__)

_STOP = object()
#: How often the writer looks whether the open batch is due (idle or old enough).
_POLL_S = 0.002
#: Full batches waiting for the writer before the MQTT thread waits too.
_MAX_READY_BATCHES = 2


@dataclass(frozen=True)
class IngestConfig:
    """Everything the ingester is told. ``topic_filter`` may be a list and use ``$share/<g>/``."""

    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    client_id: str = "prognos-ingest"
    topic_filter: str | Sequence[str] = TELEMETRY_FILTER
    qos: int = 1
    mqtt_version: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: Path | None = None
    topic_template: str = DEFAULT_TOPIC_TEMPLATE
    batch_max_lines: int = 5000
    batch_max_delay_s: float = 0.2
    #: Flush early once no message arrived for this long (keeps latency low when idle).
    batch_idle_s: float = 0.005
    spool_dir: Path | None = None
    spool_max_bytes: int = 512 * 1024 * 1024
    dead_letter_path: Path | None = None
    dead_letter_topic: str | None = "prognos/deadletter"
    max_future_skew_s: float = 300.0
    max_past_age_s: float = 10 * 365 * 86400.0
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86400
    receive_maximum: int = 20_000
    #: Largest pause between InfluxDB retries (exponential backoff with jitter).
    retry_max_s: float = 10.0
    #: How many recent (device, ts) pairs are remembered to pass each reading to detection once.
    dedupe_window: int = 200_000
    #: Per asset type (``"*"`` for all): metric renames and unit conversions, as accepted by
    #: ``Normaliser.from_config`` (e.g. ``{"pump": {"temp_f": {"name": "temp_c", ...}}}``).
    metric_map: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def topic_filters(self) -> list[str]:
        if isinstance(self.topic_filter, str):
            return [f.strip() for f in self.topic_filter.split(",") if f.strip()]
        return list(self.topic_filter)


@dataclass
class _Batch:
    lines: list[str] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    #: Per accepted message: its line range, the message (for dead-lettering) and receive time.
    #: Plain str/bytes/int tuples, not the paho message objects: a batch of those
    #: kept alive made the garbage collector cost more than the parsing.
    spans: list[tuple[int, int, str, bytes, int]] = field(default_factory=list)
    acks: list[AckHandle] = field(default_factory=list)
    started: float = 0.0


class Ingester:
    """Subscribe, validate, batch, store, acknowledge. Use as a context manager or start/stop."""

    def __init__(
        self,
        config: IngestConfig,
        writer: InfluxWriter,
        on_stored: Callable[[list[Reading]], None] | None = None,
    ) -> None:
        self.config = config
        self.writer = writer
        self.on_stored = on_stored
        self.metrics = IngestMetrics()
        self._template = TopicTemplate(config.topic_template)
        self._limits = Limits(
            max_payload_bytes=config.max_payload_bytes,
            max_future_skew_s=config.max_future_skew_s,
            max_past_age_s=config.max_past_age_s,
        )
        self._ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._open = _Batch()
        self._open_lock = threading.Lock()
        self._last_message = 0.0
        self._lines = LineBuilder()
        self._normaliser = Normaliser.from_config(config.metric_map) if config.metric_map else None
        self._abandon = threading.Event()
        self._session = MqttSession(
            SessionOptions(
                host=config.broker_host,
                port=config.broker_port,
                client_id=config.client_id,
                topic_filters=config.topic_filters,
                qos=config.qos,
                mqtt_version=config.mqtt_version,
                username=config.username,
                password=config.password,
                tls=config.tls,
                tls_ca=config.tls_ca,
                keepalive_s=config.keepalive_s,
                session_expiry_s=config.session_expiry_s,
                receive_maximum=config.receive_maximum,
            ),
            self._on_message,
        )
        self._dead = DeadLetterSink(
            config.dead_letter_path, config.dead_letter_topic, self._session.publish
        )
        spool = Spool(config.spool_dir, config.spool_max_bytes) if config.spool_dir else None
        self._recent: deque[tuple[str, int]] = deque()
        self._recent_set: set[tuple[str, int]] = set()
        self._counts = dict.fromkeys(
            (
                "received",
                "written",
                "dead_lettered",
                "spooled",
                "replayed",
                "duplicates",
                "acked",
                "batches",
                "write_errors",
            ),
            0,
        )
        self._store = BatchStore(
            writer,
            spool,
            self.metrics,
            self._counts,
            self._abandon,
            self._dead_letter_locked,
            config.retry_max_s,
        )
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="prognos-ingest-writer", daemon=True)
        self._thread.start()
        self._session.start()
        log.info(
            "ingester started client_id=%s filters=%s",
            self.config.client_id,
            self.config.topic_filters,
        )

    def stop(self, timeout_s: float = 10) -> None:
        """Store and acknowledge what was received, then leave the broker (session kept)."""
        if self._thread is None:
            return
        self._ready.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning(
                "ingester writer did not finish in %s s; unacked messages stay queued "
                "at the broker",
                timeout_s,
            )
        self._abandon.set()
        self._thread.join(timeout_s)
        self._session.stop()
        self._dead.close()
        self._thread = None

    def __enter__(self) -> Ingester:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- observation -----
    @property
    def stats(self) -> dict[str, int | float]:
        stats: dict[str, int | float] = dict(self._counts)
        stats["queue_depth"] = self._queue_depth()
        stats["spool_batches"], stats["spool_bytes"] = self._spool_depth()
        return stats

    def health(self) -> dict[str, Any]:
        influx_reachable = self.writer.ping()
        return {
            "ok": self._session.connected and influx_reachable,
            "broker_connected": self._session.connected,
            "influx_reachable": influx_reachable,
            "last_write_ok": self._store.influx_ok,
            "writer_alive": self._thread is not None and self._thread.is_alive(),
            "spool_batches": self._spool_depth()[0],
            "spool_bytes": self._spool_depth()[1],
            "queue_depth": self._queue_depth(),
        }

    def _spool_depth(self) -> tuple[int, int]:
        spool = self._store.spool
        return (len(spool), spool.bytes) if spool is not None else (0, 0)

    def _queue_depth(self) -> int:
        """Messages received and not yet handed to InfluxDB (open batch + full ones waiting)."""
        return len(self._open.acks) + self._ready.qsize() * self.config.batch_max_lines

    # ----- MQTT thread -----
    # Parsing happens here, in paho's network thread, so no message crosses threads:
    # handing each one to another thread made the two fight for the GIL and cost
    # more CPU than the parsing itself. Only whole batches go to the writer.
    def _on_message(self, topic: str, payload: bytes, handle: AckHandle) -> None:
        self._counts["received"] += 1
        recv_ns = time.time_ns()
        with self._open_lock:
            batch = self._open
            now = time.monotonic()
            if not batch.acks:
                batch.started = now
            self._last_message = now
            try:
                self._accept(topic, payload, handle, recv_ns, batch)
            except Exception as exc:  # never let one message kill the network thread
                log.exception("unexpected failure handling a message")
                self._dead_letter(topic, payload, recv_ns, "internal_error", repr(exc))
            if len(batch.lines) < self.config.batch_max_lines:
                return
            self._open = _Batch()
        self._hand_over(batch)

    def _hand_over(self, batch: _Batch) -> None:
        # Waiting here is the backpressure: the broker keeps what we do not take.
        while self._ready.qsize() >= _MAX_READY_BATCHES:
            if self._abandon.wait(0.01):
                return
        self._ready.put(batch)

    def _take_open_batch(self, force: bool) -> _Batch | None:
        """The open batch if it is due (idle or old enough), or if ``force``; else None."""
        cfg = self.config
        with self._open_lock:
            batch = self._open
            if not batch.acks:
                return None
            now = time.monotonic()
            due = (
                force
                or now - self._last_message >= cfg.batch_idle_s
                or now - batch.started >= cfg.batch_max_delay_s
            )
            if not due:
                return None
            self._open = _Batch()
            return batch

    # ----- writer thread -----
    def _run(self) -> None:
        while True:
            try:
                item = self._ready.get(timeout=_POLL_S)
            except queue.Empty:
                item = self._take_open_batch(force=False)
                if item is None:
                    self._store.replay()
                    continue
            if item is _STOP:
                last = self._take_open_batch(force=True)
                if last is not None:
                    self._flush(last)
                return
            if not self._flush(item):
                return

    def _accept(
        self, topic: str, payload: bytes, handle: AckHandle, recv_ns: int, batch: _Batch
    ) -> None:
        batch.acks.append(handle)
        try:
            readings = parse_message(topic, payload, recv_ns, self._template, self._limits)
            if self._normaliser is not None:
                readings = [self._normaliser.apply(r) for r in readings]
            lines = [self._lines.line(r) for r in readings]
        except BadMessageError as bad:
            self._dead_letter(topic, payload, recv_ns, bad.kind, bad.reason)
            return
        except LineProtocolError as exc:
            self._dead_letter(topic, payload, recv_ns, "not_writable", str(exc))
            return
        except ValueError as exc:  # a unit conversion that overflowed
            self._dead_letter(topic, payload, recv_ns, "not_finite", str(exc))
            return
        start = len(batch.lines)
        batch.lines.extend(lines)
        if self.on_stored is not None:
            batch.readings.extend(readings)
        batch.spans.append((start, len(batch.lines), topic, payload, recv_ns))

    def _dead_letter(
        self, topic: str, payload: bytes, recv_ns: int, kind: str, reason: str
    ) -> None:
        """Record a refused message (caller holds ``_open_lock``)."""
        self._dead.put(topic, payload, kind, reason, recv_ns)
        self._counts["dead_lettered"] += 1
        self.metrics.dead_lettered.labels(kind).inc()

    def _flush(self, batch: _Batch) -> bool:
        """Store, then acknowledge, one batch; False if stopped before it was stored."""
        stored: list[Reading] = []
        if batch.lines:
            refused = self._store.store(batch.lines, [(s, e) for s, e, _, _, _ in batch.spans])
            if refused is None:
                return False
            stored = batch.readings
            if refused:
                stored = self._drop_refused(batch, refused)
        self._dead.sync()
        self.metrics.received.inc(len(batch.acks))
        self.metrics.queue_depth.set(self._queue_depth())
        if batch.spans:  # messages arrive in order: the first waited longest
            self.metrics.lag_seconds.observe((time.time_ns() - batch.spans[0][4]) / 1e9)
        if stored and self.on_stored is not None:
            fresh = self._first_seen(stored)
            if fresh:
                try:
                    self.on_stored(fresh)
                except Exception:
                    log.exception("on_stored callback failed; readings are stored regardless")
        self._session.ack_many(batch.acks)
        self._counts["acked"] += len(batch.acks)
        return True

    def _drop_refused(self, batch: _Batch, refused: list[tuple[int, str]]) -> list[Reading]:
        """Dead-letter the messages InfluxDB refused; the readings of the others."""
        with self._open_lock:  # the MQTT thread dead-letters too
            for index, reason in refused:
                _, _, topic, payload, recv_ns = batch.spans[index]
                self._dead_letter(topic, payload, recv_ns, "rejected_by_influx", reason)
        indexes = {index for index, _ in refused}
        return [
            reading
            for i, (s, e, _, _, _) in enumerate(batch.spans)
            if i not in indexes
            for reading in batch.readings[s:e]
        ]

    def _dead_letter_locked(
        self, topic: str, payload: bytes, recv_ns: int, kind: str, reason: str
    ) -> None:
        with self._open_lock:
            self._dead_letter(topic, payload, recv_ns, kind, reason)
        self._dead.sync()

    def _first_seen(self, readings: list[Reading]) -> list[Reading]:
        """Readings whose (device, ts) was not passed on recently; remembers them."""
        fresh = []
        recent, seen = self._recent, self._recent_set
        for reading in readings:
            key = (reading.device, reading.ts_ns)
            if key in seen:
                self._counts["duplicates"] += 1
                self.metrics.duplicates.inc()
                continue
            seen.add(key)
            recent.append(key)
            fresh.append(reading)
        while len(recent) > self.config.dedupe_window:
            seen.discard(recent.popleft())
        return fresh
