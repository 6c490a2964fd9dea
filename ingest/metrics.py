"""Prometheus metrics of one ingester, in a registry the ingester owns.

The API mounts ``metrics_app(ingester.metrics.registry)`` (or serves
``metrics_text``) at ``/metrics``; no module-level global collectors, so two
ingesters in one process (or in tests) never share counts.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_asgi_app,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class IngestMetrics:
    """Counters, histograms and gauges of the ingest stage."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "prognos_ingest_messages_received", "MQTT messages received", registry=r
        )
        self.written = Counter(
            "prognos_ingest_readings_written", "Readings written to InfluxDB", registry=r
        )
        self.dead_lettered = Counter(
            "prognos_ingest_dead_lettered",
            "Messages refused and sent to the dead-letter sink, by kind of fault",
            ["kind"],
            registry=r,
        )
        self.spooled = Counter(
            "prognos_ingest_readings_spooled", "Readings put in the on-disk spool", registry=r
        )
        self.replayed = Counter(
            "prognos_ingest_readings_replayed",
            "Readings replayed from the spool into InfluxDB",
            registry=r,
        )
        self.duplicates = Counter(
            "prognos_ingest_duplicate_readings",
            "Readings seen again (same device and time) and not passed to detection twice",
            registry=r,
        )
        self.write_errors = Counter(
            "prognos_ingest_write_errors", "Failed InfluxDB writes", ["kind"], registry=r
        )
        self.batch_seconds = Histogram(
            "prognos_ingest_batch_write_seconds",
            "Time to write one batch to InfluxDB",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_lines = Histogram(
            "prognos_ingest_batch_lines",
            "Lines per batch",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000),
            registry=r,
        )
        self.lag_seconds = Histogram(
            "prognos_ingest_lag_seconds",
            "From MQTT receive to durable storage, per batch (its oldest message)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.spool_bytes = Gauge(
            "prognos_ingest_spool_bytes", "Bytes waiting in the spool", registry=r
        )
        self.spool_batches = Gauge(
            "prognos_ingest_spool_batches", "Batches waiting in the spool", registry=r
        )
        self.queue_depth = Gauge(
            "prognos_ingest_queue_depth", "Messages received and not yet handled", registry=r
        )
        self.broker_connected = Gauge(
            "prognos_ingest_broker_connected", "1 while connected to the broker", registry=r
        )


def metrics_text(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition of ``registry`` and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_app(registry: CollectorRegistry) -> Any:
    """An ASGI app serving ``registry`` (mount it at ``/metrics``)."""
    return make_asgi_app(registry=registry)
