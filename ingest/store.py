"""Getting a batch of lines durably stored: InfluxDB, else the spool, else hold and retry.

The ingester acknowledges a batch only once ``BatchStore.store`` says it is
durable. While InfluxDB is down, batches go to the on-disk spool (and later
batches follow them there, so replay keeps arrival order); without room in a
spool the batch is held and retried with backoff and jitter. Lines InfluxDB
refuses are found by bisection and reported back, so one bad line never
blocks the others.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

from .influx import InfluxRejected, InfluxUnavailable, InfluxWriter
from .metrics import IngestMetrics
from .spool import Spool

log = logging.getLogger(__name__)

#: ``dead_letter(topic, payload, recv_ns, kind, reason)``
DeadLetter = Callable[[str, bytes, int, str, str], None]


class BatchStore:
    """Writes batches through ``writer``; spools, replays and retries as InfluxDB comes and goes.

    ``counts`` is the ingester's stats dict (written, spooled, replayed,
    batches, write_errors are kept up to date); ``abandon`` ends a retry loop
    when the ingester gives up on stopping cleanly.
    """

    def __init__(
        self,
        writer: InfluxWriter,
        spool: Spool | None,
        metrics: IngestMetrics,
        counts: dict[str, int],
        abandon: threading.Event,
        dead_letter: DeadLetter,
        retry_max_s: float = 10.0,
    ) -> None:
        self.writer = writer
        self.spool = spool
        self.metrics = metrics
        self._counts = counts
        self._abandon = abandon
        self._dead_letter = dead_letter
        self._retry_max_s = retry_max_s
        self._retry_attempt = 0
        self._replay_not_before = 0.0
        #: Whether the last write to InfluxDB succeeded.
        self.influx_ok = True

    def store(
        self, lines: list[str], units: Sequence[tuple[int, int]]
    ) -> list[tuple[int, str]] | None:
        """Make ``lines`` durable; ``units`` are the line ranges of each message.

        Returns ``(index, server message)`` for each unit InfluxDB refused (the
        rest is stored), or None if ``abandon`` was set before it was stored.
        """
        body = "\n".join(lines).encode()
        n = len(lines)
        self.metrics.batch_lines.observe(n)
        while True:
            if self.spool is None or not len(self.spool) or self.replay():
                try:
                    with self.metrics.batch_seconds.time():
                        self.writer.write(body)
                except InfluxUnavailable as exc:
                    self._write_failed(exc)
                except InfluxRejected as exc:
                    self._count_error("rejected")
                    log.warning("influx rejected a batch of %d lines: %s", n, exc)
                    return self._store_rejected(lines, units)
                else:
                    self._write_ok(n, "written")
                    return []
            if self.spool is not None and self.spool.append(body):
                self._counts["spooled"] += n
                self.metrics.spooled.inc(n)
                self._spool_gauges()
                return []
            # No spool, or it is full: hold this batch unacknowledged and retry.
            if self._abandon.wait(self._next_delay()):
                return None

    def _store_rejected(
        self, lines: list[str], units: Sequence[tuple[int, int]]
    ) -> list[tuple[int, str]] | None:
        bodies = ["\n".join(lines[s:e]).encode() for s, e in units]
        while True:
            try:
                refused = self._bisect_rejected(bodies)
                break
            except InfluxUnavailable as exc:
                self._write_failed(exc)
                if self._abandon.wait(self._next_delay()):
                    return None
        indexes = {index for index, _ in refused}
        self._write_ok(sum(e - s for i, (s, e) in enumerate(units) if i not in indexes), "written")
        return refused

    def _bisect_rejected(self, bodies: list[bytes]) -> list[tuple[int, str]]:
        """Write bodies in halves; the (index, server message) of each one refused on its own."""
        refused: list[tuple[int, str]] = []

        def attempt(lo: int, hi: int) -> None:
            try:
                self.writer.write(b"\n".join(bodies[lo:hi]))
            except InfluxRejected as exc:
                if hi - lo == 1:
                    refused.append((lo, str(exc)))
                    return
                mid = (lo + hi) // 2
                attempt(lo, mid)
                attempt(mid, hi)

        attempt(0, len(bodies))
        return refused

    def replay(self) -> bool:
        """Write spooled batches oldest first (when the backoff allows); True once empty."""
        spool = self.spool
        if spool is None:
            return True
        while len(spool):
            if time.monotonic() < self._replay_not_before:
                return False
            body = spool.oldest()
            assert body is not None
            lines = body.split(b"\n")
            refused: list[tuple[int, str]] = []
            try:
                try:
                    self.writer.write(body)
                except InfluxRejected:
                    self._count_error("rejected")
                    refused = self._bisect_rejected(lines)
            except InfluxUnavailable as exc:
                self._write_failed(exc)
                self._replay_not_before = time.monotonic() + self._next_delay()
                return False
            for index, reason in refused:
                self._dead_letter("", lines[index], time.time_ns(), "rejected_by_influx", reason)
            spool.pop_oldest()
            self._write_ok(len(lines) - len(refused), "replayed")
            self._spool_gauges()
        return True

    def _write_ok(self, n: int, what: Literal["written", "replayed"]) -> None:
        self._counts[what] += n
        if what == "replayed":
            self._counts["written"] += n
            self.metrics.replayed.inc(n)
        self.metrics.written.inc(n)
        self._counts["batches"] += 1
        if not self.influx_ok:
            log.info("influx writes succeed again")
        self.influx_ok = True
        self._retry_attempt = 0

    def _write_failed(self, exc: Exception) -> None:
        self._count_error("unavailable")
        if self.influx_ok:
            log.warning("influx unavailable, %s: %s", "spooling" if self.spool else "holding", exc)
        self.influx_ok = False

    def _count_error(self, kind: str) -> None:
        self._counts["write_errors"] += 1
        self.metrics.write_errors.labels(kind).inc()

    def _next_delay(self) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        base = min(self._retry_max_s, 0.25 * 2 ** min(self._retry_attempt, 16))
        self._retry_attempt += 1
        return base / 2 + random.uniform(0, base / 2)

    def _spool_gauges(self) -> None:
        if self.spool is not None:
            self.metrics.spool_bytes.set(self.spool.bytes)
            self.metrics.spool_batches.set(len(self.spool))
