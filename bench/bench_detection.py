"""Detection throughput and state size: one JSON line for ``make bench``.

Runs the default engine over a synthetic fleet of pumps (seven metrics each,
one reading a minute, past warm-up) on the one-at-a-time path and the batch
path (batches of 2,000 readings, as the service hands them over), and
measures the checkpoint size per metric series. The fleet is 200 pumps: the
batch path scores a round of many devices at once with numpy, which is what
it is for (with fewer than about 16 calm devices per round it takes the
one-at-a-time path, at the same speed).
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.ingest.contract import Reading

DEVICES = 200
#: Readings per device after warm-up and settling that are timed.
TIMED_PER_DEVICE = 300
BATCH = 2000
MIN_NS = 60_000_000_000
T0_NS = 1_767_225_600 * 1_000_000_000


def fleet(devices: int, per_device: int, seed: int = 0) -> list[Reading]:
    """Healthy pumps on a daily demand curve, interleaved in time order."""
    rng = np.random.default_rng(seed)
    out: list[Reading] = []
    columns = []
    for d in range(devices):
        t_h = np.arange(per_device) / 60.0
        q = 0.7 + 0.25 * np.sin(2 * math.pi * (t_h + d) / 24.0)
        ambient = 18 + 3 * np.sin(2 * math.pi * (t_h - 9) / 24.0)
        n = per_device
        columns.append(
            {
                "vibration_rms_mm_s": 2.0 * (0.85 + 0.15 * q**2) + 0.1 * rng.normal(size=n),
                "bearing_temp_c": ambient + 20 + 12 * q + 0.15 * rng.normal(size=n),
                "flow_m3_h": 180 * q + 0.4 * rng.normal(size=n),
                "speed_rpm": 1480 * q + rng.normal(size=n),
                "power_kw": 30 * q**3 + 0.1 * rng.normal(size=n),
                "suction_pressure_bar": 1.5 - 0.25 * q**2 + 0.01 * rng.normal(size=n),
                "ambient_temp_c": ambient,
            }
        )
    for i in range(per_device):
        for d, cols in enumerate(columns):
            metrics = {k: float(v[i]) for k, v in cols.items()}
            out.append(Reading(f"pump-{d}", "pump", "bench", T0_NS + i * MIN_NS + d, metrics))
    return out


def main() -> None:
    config = DetectionConfig()
    # Warm-up starts once the lagged loads have forgotten their first value (four lag
    # times), then learns and settles; only readings after that are timed.
    lag_rows = math.ceil(4 * config.condition_lag_s * 1e9 / MIN_NS)
    ready_after = lag_rows + config.warmup_readings + config.settle_readings
    readings = fleet(DEVICES, ready_after + TIMED_PER_DEVICE)
    skip = ready_after * DEVICES
    warm, timed = readings[:skip], readings[skip:]
    metric_readings = sum(len(r.metrics) for r in timed)

    log(f"warming up {DEVICES} pumps ({ready_after} readings each)")
    single = DetectionEngine(config=config)
    single.process_batch(warm)
    log(f"timing the one-at-a-time path ({len(timed)} readings)")
    start = time.perf_counter()
    for reading in timed:
        single.process(reading)
    single_s = time.perf_counter() - start

    log("warming up again for the batch path")
    batch = DetectionEngine(config=config)
    batch.process_batch(warm)
    log(f"timing the batch path (batches of {BATCH})")
    start = time.perf_counter()
    for begin in range(0, len(timed), BATCH):
        batch.process_batch(timed[begin : begin + BATCH])
    batch_s = time.perf_counter() - start

    state = single.state_dict()
    series = sum(len(d["series"]) for d in state["devices"].values())
    print(
        json.dumps(
            {
                "bench": "detection",
                "devices": DEVICES,
                "us_per_metric_reading_single": round(single_s / metric_readings * 1e6, 2),
                "us_per_metric_reading_batch": round(batch_s / metric_readings * 1e6, 2),
                "state_bytes_per_series": round(len(json.dumps(state)) / series),
            }
        )
    )


def log(message: str) -> None:
    """Progress on stderr (stdout carries the one JSON line)."""
    print(f"bench detection: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
