"""Wiring: builds every adapter from ``Settings`` and hands each stage what it needs.

The only module that knows all stages. It creates, and closes, the InfluxDB
clients, the work-order store, the detection engine, the event sinks and the
users; the service (``prognos.service``) runs them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prognos.api.auth import UserStore
from prognos.api.deps import ApiDeps
from prognos.api.events import EventBus, MqttEventPublisher, WebhookSender, parse_webhooks
from prognos.api.order_views import order_event_data
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag
from prognos.ingest.contract import Reading
from prognos.ingest.influx import InfluxConfig, InfluxReader, make_writer
from prognos.ingest.ingester import IngestConfig, Ingester
from prognos.settings import Settings
from prognos.tasking.catalog import Catalog, load_catalog
from prognos.tasking.registry import Registry, load_registry
from prognos.tasking.schema import make_engine
from prognos.tasking.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

#: A device not heard from for this long is shown as stale.
STALE_AFTER_NS = 15 * 60 * 1_000_000_000


def influx_config(settings: Settings) -> InfluxConfig:
    """The InfluxDB connection settings in the ingest stage's terms."""
    s = settings.influx
    return InfluxConfig(
        url=s.url,
        database=s.database,
        api=s.api,
        org=s.org,
        bucket=s.bucket,
        token=s.token.get_secret_value() if s.token else None,
        username=s.username,
        password=s.password.get_secret_value() if s.password else None,
    )


def ingest_config(settings: Settings) -> IngestConfig:
    """The ingester's settings: broker, batching, spool and dead letters under data_dir."""
    m, i = settings.mqtt, settings.ingest
    return IngestConfig(
        broker_host=m.host,
        broker_port=m.port,
        client_id=m.client_id,
        topic_filter=m.topic_filter,
        qos=m.qos,
        mqtt_version=m.version,
        username=m.username,
        password=m.password.get_secret_value() if m.password else None,
        tls=m.tls,
        tls_ca=m.tls_ca,
        batch_max_lines=i.batch_max_lines,
        batch_max_delay_s=i.batch_max_delay_s,
        spool_dir=settings.data_dir / "spool",
        spool_max_bytes=i.spool_max_bytes,
        dead_letter_path=settings.data_dir / "dead-letters.jsonl",
        dead_letter_topic=m.dead_letter_topic,
        max_future_skew_s=i.max_future_skew_s,
        max_past_age_s=i.max_past_age_s,
        metric_map=i.metric_map or None,
    )


@dataclass
class Components:
    """The adapters of one process, built once and closed once."""

    settings: Settings
    catalog: Catalog
    registry: Registry
    uow: SqlUnitOfWork
    engine: DetectionEngine
    #: Serialises access to ``engine`` between the pipeline and the API.
    engine_lock: threading.Lock
    reader: InfluxReader
    users: UserStore
    events: EventBus
    _stack: contextlib.ExitStack
    _runtime: dict[str, Any] = field(default_factory=dict)

    def uow_factory(self) -> SqlUnitOfWork:
        """The unit of work (one object; it keeps a connection per thread)."""
        return self.uow

    def make_ingester(self, on_stored: Callable[[list[Reading]], None]) -> Ingester:
        """An ingester writing to InfluxDB and calling ``on_stored`` after each durable write."""
        writer = make_writer(influx_config(self.settings))
        self._stack.callback(writer.close)
        return Ingester(ingest_config(self.settings), writer, on_stored=on_stored)

    def attach_runtime(self, **parts: Any) -> None:
        """Let health, stats and fleet views see the running pipeline and ingester."""
        self._runtime.update(parts)

    def process_readings(self, readings: list[Reading]) -> list[Flag]:
        """Run readings through detection under the engine lock."""
        with self.engine_lock:
            return self.engine.process_batch(readings)

    def suppress(self, device: str, failure_mode: str, until_ns: int) -> None:
        """False-alarm feedback from a completed order: quiet that mode on that device."""
        with self.engine_lock:
            self.engine.suppress(device, failure_mode, until_ns)
        log.info("suppressed device=%s failure_mode=%s until_ns=%d", device, failure_mode, until_ns)

    def publish_order_event(self, order: Any) -> None:
        """Tell the page, MQTT and webhooks that an order was opened or changed."""
        kind = "work_order.created" if order.version <= 1 else "work_order.changed"
        self.events.publish(kind, order_event_data(order))

    def health(self) -> dict[str, Any]:
        """Broker and InfluxDB connectivity, spool depth, pipeline errors."""
        ingester = self._runtime.get("ingester")
        pipeline = self._runtime.get("pipeline")
        report: dict[str, Any] = ingester.health() if ingester is not None else {"ok": True}
        if pipeline is not None:
            report["pipeline_errors"] = pipeline.errors
        return report

    def ingest_stats(self) -> dict[str, Any]:
        """Ingest counters plus what the pipeline has done with the readings."""
        ingester = self._runtime.get("ingester")
        pipeline = self._runtime.get("pipeline")
        stats: dict[str, Any] = dict(ingester.stats) if ingester is not None else {}
        if pipeline is not None:
            stats.update(flags=pipeline.flags_seen, orders_touched=pipeline.orders_touched)
        return stats

    def fleet_state(self) -> list[dict[str, Any]]:
        """One entry per device seen: last reading time, open flags, a health word."""
        pipeline = self._runtime.get("pipeline")
        if pipeline is None:
            return []
        with self.engine_lock:
            open_flags = self.engine.open_flags()
        by_device: dict[str, list[Flag]] = {}
        for flag in open_flags:
            by_device.setdefault(flag.device, []).append(flag)
        fleet = pipeline.fleet
        with fleet.lock:
            seen = dict(fleet.last_seen_ns)
            newest = max(seen.values(), default=0)
            out = []
            for device, last_ns in sorted(seen.items()):
                flags = by_device.get(device, [])
                info = self.registry.device(device, fleet.asset_type[device], fleet.site[device])
                out.append(
                    {
                        "device": device,
                        "asset_type": fleet.asset_type[device],
                        "site": fleet.site[device],
                        "customer": info.customer,
                        "last_seen_ns": last_ns,
                        "health": _health_word(flags, newest - last_ns),
                        "open_flags": flags,
                    }
                )
        return out

    def api_deps(self) -> ApiDeps:
        """Everything the API needs, bound to these components."""
        ingester = self._runtime.get("ingester")
        return ApiDeps(
            uow_factory=self.uow_factory,
            catalog=self.catalog,
            registry=self.registry,
            telemetry=self.reader,
            users=self.users,
            events=self.events,
            health=self.health,
            metrics_registries=[ingester.metrics.registry] if ingester is not None else [],
            ingest_stats=self.ingest_stats,
            fleet_state=self.fleet_state,
            catalog_path=str(self.settings.catalog) if self.settings.catalog else None,
            catalog_updated=self._catalog_updated,
            on_false_alarm=self.suppress,
        )

    def _catalog_updated(self, catalog: Catalog) -> None:
        self.catalog = catalog
        log.info("catalog replaced version=%s", getattr(catalog, "version", "?"))

    def close(self) -> None:
        """Close every adapter opened by ``build_components`` and since."""
        self._stack.close()


def _health_word(flags: list[Flag], behind_newest_ns: int) -> str:
    if behind_newest_ns > STALE_AFTER_NS:
        return "stale"
    if any(f.kind == "equipment" and f.severity in ("high", "critical") for f in flags):
        return "alarm"
    if flags:
        return "warning"
    return "ok"


def build_components(settings: Settings) -> Components:
    """Every adapter the service needs, from settings; nothing is started."""
    stack = contextlib.ExitStack()
    catalog = load_catalog(settings.catalog)
    registry = load_registry(settings.registry)
    db_engine = make_engine(settings.resolved_database_url)
    stack.callback(db_engine.dispose)
    reader = InfluxReader(influx_config(settings))
    stack.callback(reader.close)
    users = (
        UserStore.from_spec(settings.api.users.get_secret_value())
        if settings.api.users
        else UserStore()
    )
    events = EventBus()
    if settings.mqtt.events_topic:
        publisher = MqttEventPublisher(
            settings.mqtt.host,
            settings.mqtt.port,
            topic=settings.mqtt.events_topic,
            client_id=f"{settings.mqtt.client_id}-events",
        )
        events.add_sink(stack.enter_context(publisher))
    if settings.api.webhooks:
        hooks = parse_webhooks(settings.api.webhooks.get_secret_value())
        events.add_sink(stack.enter_context(WebhookSender(hooks)))
    return Components(
        settings=settings,
        catalog=catalog,
        registry=registry,
        uow=SqlUnitOfWork(db_engine),
        engine=DetectionEngine(),
        engine_lock=threading.Lock(),
        reader=reader,
        users=users,
        events=events,
        _stack=stack,
    )
