"""The evidence behind a work order: its flags and the telemetry window around them.

The window spans the flags' own windows plus a margin either side, so a
planner sees the normal behaviour before the fault and what followed; the
series are downsampled to a few hundred points per metric for the page.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from prognos.api.deps import TelemetryReader

log = logging.getLogger(__name__)

MIN_MARGIN_NS = 15 * 60 * 10**9
MAX_SPAN_NS = 30 * 24 * 3600 * 10**9
DEFAULT_MAX_POINTS = 400


@dataclass(frozen=True, slots=True)
class TelemetryEvidence:
    """The read window, the series in it (ms timestamps, for charts) and a note if empty."""

    read_start_ns: int | None
    read_end_ns: int | None
    telemetry: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    note: str | None = None


def evidence_window(windows: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The time range to read: the flags' windows, widened by half their span (>= 15 min).

    >>> [t // 10**9 for t in evidence_window([(3600 * 10**9, 7200 * 10**9)])]
    [1800, 9000]
    """
    if not windows:
        return None
    start = min(w[0] for w in windows)
    end = max(w[1] for w in windows)
    margin = max((end - start) // 2, MIN_MARGIN_NS)
    lo, hi = start - margin, end + margin
    if hi - lo > MAX_SPAN_NS:
        lo = hi - MAX_SPAN_NS
    return max(lo, 0), hi


def downsample(points: Sequence[tuple[int, float]], max_points: int) -> list[tuple[int, float]]:
    """At most ``max_points`` points: bucket means in time order (no-op when already small).

    >>> downsample([(i, float(i)) for i in range(10)], 5)
    [(0, 0.5), (2, 2.5), (4, 4.5), (6, 6.5), (8, 8.5)]
    """
    if len(points) <= max_points:
        return list(points)
    size = -(-len(points) // max_points)
    out = []
    for i in range(0, len(points), size):
        bucket = points[i : i + size]
        out.append((bucket[0][0], sum(v for _, v in bucket) / len(bucket)))
    return out


def gather_telemetry(
    device: str,
    windows: Sequence[tuple[int, int]],
    reader: TelemetryReader | None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> TelemetryEvidence:
    """The telemetry around the flag windows; a missing or failing reader leaves a note."""
    window = evidence_window(windows)
    if window is None:
        return TelemetryEvidence(None, None, {}, "no flags are attached to this order")
    if reader is None:
        return TelemetryEvidence(*window, {}, "telemetry storage is not connected")
    try:
        raw = reader.telemetry_window(device, window[0], window[1], max_points=max_points)
    except Exception as exc:
        # Evidence is a convenience for the page: a down InfluxDB must not hide the order.
        log.warning("telemetry read failed device=%s error=%s", device, type(exc).__name__)
        failed = f"telemetry could not be read ({type(exc).__name__}: {exc})"
        return TelemetryEvidence(*window, {}, failed[:300])
    series: dict[str, list[tuple[int, float]]] = {}
    for metric, points in sorted(raw.items()):
        finite = [(ts, float(v)) for ts, v in points if math.isfinite(v)]
        if finite:
            series[metric] = [(ts // 1_000_000, v) for ts, v in downsample(finite, max_points)]
    note = None if series else "no telemetry was stored for this device in the window"
    return TelemetryEvidence(*window, series, note)
