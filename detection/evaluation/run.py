"""Running the detection engine over benchmark files the way a deployment would.

Each benchmark row becomes a ``Reading`` of one device with the generic
profile (no asset knowledge), so the scores measure the default detector
configuration, not a benchmark-specific one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import FlagKind, FlagState
from prognos.ingest.contract import Reading

BENCH_DEVICE = "bench"
BENCH_ASSET = "generic"


def opened_times(
    times_ns: Sequence[int],
    rows: Sequence[Mapping[str, float]],
    config: DetectionConfig,
) -> list[int]:
    """Times at which an equipment flag opened (NAB-style detections)."""
    engine = DetectionEngine(config=config)
    out: list[int] = []
    for ts, metrics in zip(times_ns, rows, strict=True):
        reading = Reading(BENCH_DEVICE, BENCH_ASSET, "bench", ts, dict(metrics))
        for flag in engine.process(reading):
            if flag.kind is FlagKind.EQUIPMENT and flag.state is FlagState.OPENED:
                out.append(ts)
    return out


def open_labels(
    times_ns: Sequence[int],
    rows: Sequence[Mapping[str, float]],
    config: DetectionConfig,
) -> list[bool]:
    """Per row: is an equipment flag open after this row (SKAB-style labels)?"""
    engine = DetectionEngine(config=config)
    labels: list[bool] = []
    is_open = False
    for ts, metrics in zip(times_ns, rows, strict=True):
        reading = Reading(BENCH_DEVICE, BENCH_ASSET, "bench", ts, dict(metrics))
        for flag in engine.process(reading):
            if flag.kind is FlagKind.EQUIPMENT:
                is_open = flag.state is not FlagState.CLEARED
        labels.append(is_open)
    return labels
