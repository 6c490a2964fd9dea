"""Instrument faults become sensor flags, never equipment flags."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading

MIN_NS = 60_000_000_000
T0_NS = 1_767_225_600 * 1_000_000_000


def healthy(i: int, rng: np.random.Generator) -> dict[str, float]:
    return {
        "vibration_rms_mm_s": round(2.0 + 0.1 * rng.normal(), 2),
        "bearing_temp_c": round(45.0 + 0.3 * rng.normal() + 0.5 * np.sin(i / 200), 1),
        "flow_m3_h": round(150.0 + 0.5 * rng.normal(), 1),
    }


def run_with_fault(
    kind: str, metric: str, n: int = 1400, start: int = 800, end: int = 1100
) -> list[Flag]:
    rng = np.random.default_rng(3)
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=300))
    flags: list[Flag] = []
    held = None
    for i in range(n):
        m: dict[str, float] = healthy(i, rng)
        if start <= i < end:
            if kind == "stuck":
                held = m[metric] if held is None else held
                m[metric] = held
            elif kind == "dropout":
                del m[metric]
            elif kind == "out_of_range":
                m[metric] = 65535.0
            elif kind == "spikes" and i % 15 == 0:
                m[metric] += 12.0 if i % 2 else 9.0
            elif kind == "noise_burst":
                m[metric] += float(rng.normal()) * 8.0
        flags += engine.process(Reading("d-1", "pump", "s", T0_NS + i * MIN_NS, m))
    return flags


@pytest.mark.parametrize(
    ("kind", "metric"),
    [
        ("stuck", "bearing_temp_c"),
        ("dropout", "flow_m3_h"),
        ("out_of_range", "vibration_rms_mm_s"),
        ("spikes", "vibration_rms_mm_s"),
        ("noise_burst", "bearing_temp_c"),
    ],
)
def test_sensor_fault_is_a_sensor_flag_with_its_kind(kind: str, metric: str) -> None:
    flags = run_with_fault(kind, metric)
    assert [f for f in flags if f.kind is FlagKind.EQUIPMENT] == []
    sensor = [f for f in flags if f.kind is FlagKind.SENSOR]
    opened = [f for f in sensor if f.state is FlagState.OPENED]
    assert len(opened) == 1, [(f.state, f.failure_mode) for f in sensor]
    assert opened[0].failure_mode == kind and opened[0].metrics == (metric,)
    assert 800 * MIN_NS <= opened[0].opened_ns - T0_NS < 1100 * MIN_NS
    # The fault ends at reading 1100; the flag clears after it.
    assert sensor[-1].state is FlagState.CLEARED and sensor[-1].updated_ns - T0_NS >= 1100 * MIN_NS


def test_healthy_signals_raise_no_sensor_flags() -> None:
    flags = run_with_fault("none", "flow_m3_h", n=3000)
    assert flags == []
