"""Evidence: the telemetry window around an order's flags, read from the real InfluxDB."""

from __future__ import annotations

import math
import time
from typing import Any

from prognos.api.evidence import downsample, evidence_window, gather_telemetry
from prognos.ingest.contract import Reading
from prognos.ingest.influx import InfluxConfig, InfluxReader, V1Writer
from prognos.ingest.lineprotocol import readings_body

MIN_NS = 60 * 10**9
HOUR_NS = 60 * MIN_NS


def test_window_is_widened_and_capped() -> None:
    lo, hi = evidence_window([(10 * HOUR_NS, 12 * HOUR_NS), (11 * HOUR_NS, 14 * HOUR_NS)])
    assert (lo, hi) == (8 * HOUR_NS, 16 * HOUR_NS)
    lo, hi = evidence_window([(10 * HOUR_NS, 10 * HOUR_NS + MIN_NS)])
    assert hi - lo == MIN_NS + 30 * MIN_NS  # at least 15 minutes either side
    lo, hi = evidence_window([(0, 400 * 24 * HOUR_NS)])
    assert hi - lo == 30 * 24 * HOUR_NS
    assert evidence_window([]) is None


def test_downsample_keeps_the_mean_and_the_bound() -> None:
    points = [(i, math.sin(i / 10)) for i in range(1000)]
    out = downsample(points, 100)
    assert len(out) == 100
    assert abs(sum(v for _, v in out) / 100 - sum(v for _, v in points) / 1000) < 1e-9
    assert [t for t, _ in out] == sorted(t for t, _ in out)


class Broken:
    def telemetry_window(self, *a: Any, **k: Any) -> dict[str, list[tuple[int, float]]]:
        raise ConnectionError("influx is down")


def test_failing_reader_leaves_a_note_not_an_error() -> None:
    ev = gather_telemetry("pump-001", [(HOUR_NS, 2 * HOUR_NS)], Broken())
    assert ev.telemetry == {} and ev.note is not None and "influx is down" in ev.note


def test_detail_shows_real_telemetry_around_the_flag(
    desk: Any, influx_db: Any, unique_id: str
) -> None:
    device = f"pump-{unique_id}"
    now = time.time_ns()
    start = now - 6 * HOUR_NS
    step = 30 * 10**9  # one reading every 30 s for 6 hours: 720 points per metric
    readings = [
        Reading(
            device,
            "pump",
            "plant-a",
            start + i * step,
            {"vibration_rms_mm_s": 2.0 + i / 360, "bearing_temp_c": 40.0 + (i % 7)},
        )
        for i in range(720)
    ]
    config = InfluxConfig(url=influx_db.url, database=influx_db.name, api="v1")
    with V1Writer(config) as writer:
        writer.write(readings_body(readings))
    assert influx_db.count_points(where=f"device = '{device}'") == 720

    with InfluxReader(config) as reader:
        desk.deps.telemetry = reader
        order = desk.raise_order(device=device, end_ns=now - HOUR_NS)
        got = desk.get(f"/api/v1/work-orders/{order.id}?max_points=100").json()
    ev = got["evidence"]
    assert ev["telemetry_note"] is None
    assert set(ev["telemetry"]) == {"vibration_rms_mm_s", "bearing_temp_c"}
    series = ev["telemetry"]["vibration_rms_mm_s"]
    assert 10 < len(series) <= 100
    times = [t for t, _ in series]
    assert times == sorted(times)
    bucket_ms = (ev["read_end_ms"] - ev["read_start_ms"]) / 100  # buckets align to the epoch
    assert ev["read_start_ms"] - bucket_ms <= times[0] and times[-1] <= ev["read_end_ms"]
    assert ev["read_start_ms"] < ev["window_start_ms"] < ev["window_end_ms"] < ev["read_end_ms"]
    # The trend is rising: the last bucket is above the first.
    assert series[-1][1] > series[0][1]
