"""The running service: ingest -> detection -> tasking, and the API beside them.

The ingester calls back with readings once they are durably stored; a single
pipeline thread runs them through the detectors and hands every flag to the
tasking service, so per-device detector state is only touched by one thread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from prognos.api.app import create_app
from prognos.detection.flags import Flag
from prognos.ingest.contract import Reading
from prognos.ingest.ingester import Ingester
from prognos.settings import Settings
from prognos.tasking import service as tasking
from prognos.wiring import Components, build_components

log = logging.getLogger(__name__)

#: Readings waiting for detection; when full the ingester's writer blocks, so
#: acknowledgements (and with them the broker's delivery) slow down instead of
#: anything being dropped.
PIPELINE_QUEUE_BATCHES = 64


@dataclass
class FleetState:
    """What the service last saw of each device, for the fleet overview."""

    last_seen_ns: dict[str, int] = field(default_factory=dict)
    asset_type: dict[str, str] = field(default_factory=dict)
    site: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, readings: Sequence[Reading]) -> None:
        """Record the newest timestamp per device."""
        with self.lock:
            for r in readings:
                if r.ts_ns > self.last_seen_ns.get(r.device, 0):
                    self.last_seen_ns[r.device] = r.ts_ns
                self.asset_type[r.device] = r.asset_type
                self.site[r.device] = r.site


class Pipeline:
    """Detection and tasking on a thread of their own, fed by the ingester."""

    def __init__(
        self,
        components: Components,
        checkpoint_path: Path | None,
        checkpoint_interval_s: float,
        on_order: Callable[[Any], None] | None = None,
    ) -> None:
        self._c = components
        self._queue: queue.Queue[list[Reading] | None] = queue.Queue(PIPELINE_QUEUE_BATCHES)
        self._thread = threading.Thread(target=self._run, name="prognos-pipeline", daemon=True)
        self._checkpoint_path = checkpoint_path
        self._checkpoint_interval_s = checkpoint_interval_s
        self._on_order = on_order
        self.fleet = FleetState()
        self.flags_seen = 0
        self.orders_touched = 0
        self.errors = 0

    def start(self) -> None:
        """Restore detector state from the last checkpoint and start the thread."""
        if self._checkpoint_path and self._checkpoint_path.is_file():
            try:
                state = json.loads(self._checkpoint_path.read_text())
                with self._c.engine_lock:
                    self._c.engine.load_state(state)
                log.info("detector state restored path=%s", self._checkpoint_path)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("detector checkpoint unreadable, starting fresh: %s", exc)
        self._thread.start()

    def submit(self, readings: list[Reading]) -> None:
        """Hand stored readings to detection (called from the ingester's writer)."""
        self._queue.put(readings)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until every submitted reading has been processed (for tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Process what is queued, write a final checkpoint and stop."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write detector state atomically (temp file + rename)."""
        if self._checkpoint_path is None:
            return
        # Under the engine lock: the API's false-alarm feedback changes state too.
        with self._c.engine_lock:
            state = self._c.engine.state_dict()
        tmp = self._checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self._checkpoint_path)

    def _run(self) -> None:
        last_checkpoint = time.monotonic()
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self.fleet.observe(batch)
                for flag in self._c.process_readings(batch):
                    self._handle_flag(flag)
                if time.monotonic() - last_checkpoint > self._checkpoint_interval_s:
                    self.checkpoint()
                    last_checkpoint = time.monotonic()
            except Exception:
                # A fault in one batch must not stop the pipeline; it is counted and logged.
                self.errors += 1
                log.exception("pipeline batch failed size=%d", len(batch or []))
            finally:
                self._queue.task_done()

    def _handle_flag(self, flag: Flag) -> None:
        self.flags_seen += 1
        c = self._c
        order = tasking.open_or_update_order(flag, c.uow_factory(), c.catalog, c.registry)
        if order is not None:
            self.orders_touched += 1
            if self._on_order is not None:
                self._on_order(order)


class SlaMonitor:
    """Evaluates every open order's SLA clocks on a timer and announces new events."""

    def __init__(self, components: Components, interval_s: float) -> None:
        self._c = components
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prognos-sla", daemon=True)

    def start(self) -> None:
        """Start the timer thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> int:
        """One pass over the open orders; returns the number of new SLA events."""
        events = tasking.monitor_sla(self._c.uow_factory())
        for order_id, event in events:
            self._c.events.publish(
                "work_order.sla", {"order_id": order_id, "sla_event": _plain(event)}
            )
        return len(events)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.run_once()
            except Exception:
                log.exception("SLA monitor pass failed; retrying next interval")


def _plain(event: Any) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    return {k: v.isoformat() if hasattr(v, "isoformat") else str(v) for k, v in data.items()}


@dataclass
class Service:
    """Every running part of one Prognos process."""

    settings: Settings
    components: Components
    pipeline: Pipeline
    ingester: Ingester
    sla_monitor: SlaMonitor

    def start(self) -> None:
        """Start detection first, then ingest (so nothing stored waits on a dead consumer)."""
        self.pipeline.start()
        self.ingester.start()
        self.sla_monitor.start()

    def stop(self) -> None:
        """Stop ingest, drain detection, checkpoint, close adapters."""
        self.sla_monitor.stop()
        try:
            self.ingester.stop()
        except Exception:
            log.exception("ingester did not stop cleanly; unacknowledged messages stay queued")
        self.pipeline.stop()
        self.components.close()


def build_service(settings: Settings) -> Service:
    """Assemble the service from settings without starting anything."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    components = build_components(settings)
    pipeline = Pipeline(
        components,
        checkpoint_path=settings.data_dir / "detector-state.json",
        checkpoint_interval_s=settings.checkpoint_interval_s,
        on_order=components.publish_order_event,
    )
    ingester = components.make_ingester(on_stored=pipeline.submit)
    components.attach_runtime(pipeline=pipeline, ingester=ingester)
    sla_monitor = SlaMonitor(components, settings.sla_check_interval_s)
    return Service(settings, components, pipeline, ingester, sla_monitor)


def run_service(settings: Settings, ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; ``ready`` is told the URL once the API listens."""
    service = build_service(settings)
    service.start()
    app = create_app(service.components.api_deps())
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, service.components.events)
    url = f"http://{settings.api.host}:{settings.api.port}/"
    if ready is not None:
        threading.Thread(
            target=_announce_when_started, args=(server, url, ready), daemon=True
        ).start()
    try:
        server.run()
    finally:
        service.stop()


class _Server(uvicorn.Server):
    """uvicorn that ends the pages' live-update streams first on Ctrl-C or SIGTERM.

    Graceful shutdown waits for open responses; an open page holds one
    forever (server-sent events), so the streams are closed before it waits.
    """

    def __init__(self, config: uvicorn.Config, events: Any) -> None:
        super().__init__(config)
        self._events = events

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._events.close()
        # uvicorn would re-raise the signal once it has stopped, which for
        # SIGTERM ends the process before the pipeline drains, the detector
        # state is checkpointed and the demo's child servers are stopped.
        # Stopping is enough: run() returns and the caller cleans up.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def _announce_when_started(server: uvicorn.Server, url: str, ready: Callable[[str], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        ready(url)
