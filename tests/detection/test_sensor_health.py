"""Instrument faults become sensor flags, never equipment flags."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.detection.sensor_health import SensorHealth, SensorHealthConfig
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


def _verdicts(values: list[tuple[float, bool]], cfg: SensorHealthConfig) -> list[str | None]:
    sh = SensorHealth(0.0, 100.0)
    return [sh.check(x, cfg, running)[0] for x, running in values]


def test_lone_impossible_values_are_spikes_and_a_saturated_sensor_is_out_of_range() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(5)
    base = [(round(2.0 + 0.1 * float(rng.normal()), 2), True) for _ in range(300)]
    # A glitch on a vibration RMS sensor can read below zero for one sample.
    glitches = [(-9.0 if i % 12 == 0 else x, r) for i, (x, r) in enumerate(base)]
    verdicts = _verdicts(base + glitches, cfg)
    assert "out_of_range" not in verdicts
    assert "spikes" in verdicts[300:]
    saturated = [(65535.0, True)] * 30
    verdicts = _verdicts(base + saturated, cfg)
    first = verdicts.index("out_of_range")
    assert first == 300 + cfg.out_of_range_readings - 1
    assert "spikes" not in verdicts


def test_a_sensor_stuck_before_a_stop_stays_stuck_through_it() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(6)
    running = [(round(40.0 + float(rng.normal()), 1), True) for _ in range(200)]
    stuck = [(41.3, True)] * 60 + [(41.3, False)] * 120 + [(41.3, True)] * 60
    verdicts = _verdicts(running + stuck, cfg)
    first = verdicts.index("stuck")
    assert first < 200 + 60
    # One fault from the first verdict to the end: no flapping across the stop.
    assert set(verdicts[first:]) == {"stuck"}
    # A healthy sensor reading a stopped machine's steady value is not stuck.
    restart = [(round(40.0 + float(rng.normal()), 1), True) for _ in range(100)]
    healthy = running + [(0.0, False)] * 300 + restart
    assert set(_verdicts(healthy, cfg)) == {None}


def test_a_noise_burst_shows_on_a_stopped_machine_too() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(7)
    running = [(round(2.0 + 0.1 * float(rng.normal()), 2), True) for _ in range(200)]
    stopped = [(round(0.06 + 0.01 * abs(float(rng.normal())), 2), False) for _ in range(200)]
    burst = [(round(40.0 + 8.0 * float(rng.normal()), 2), False) for _ in range(60)]
    assert set(_verdicts(running + stopped, cfg)) == {None}
    verdicts = _verdicts(running + stopped + burst, cfg)
    assert "noise_burst" in verdicts[400:]


@pytest.mark.parametrize("broken", ["dropout", "out_of_range"])
def test_a_broken_run_sensor_does_not_make_a_stopped_machines_zeros_stuck(broken: str) -> None:
    rng = np.random.default_rng(8)
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=300, settle_readings=0))
    flags: list[Flag] = []
    for i in range(900):
        run = i < 500
        m = {
            "speed_rpm": round(1480.0 + rng.normal(), 0) if run else 0.0,
            "current_a": round(40.0 + 0.3 * rng.normal(), 1) if run else 0.0,
            "flow_m3_h": round(150.0 + 0.5 * rng.normal(), 1) if run else 0.0,
            "bearing_temp_c": round(55.0 + 0.3 * rng.normal(), 1),
        }
        if i >= 450:  # the speed sensor breaks shortly before the pump stops
            if broken == "dropout":
                del m["speed_rpm"]
            else:
                m["speed_rpm"] = 65535.0
        flags += engine.process(Reading("p-1", "pump", "s", T0_NS + i * MIN_NS, m))
    assert [f for f in flags if f.kind is FlagKind.EQUIPMENT] == []
    sensor = {(f.metrics[0], f.failure_mode) for f in flags if f.kind is FlagKind.SENSOR}
    assert sensor == {("speed_rpm", broken)}


def test_a_sensor_frozen_while_the_machine_is_stopped_is_stuck() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(9)

    def running(n: int) -> list[tuple[float, bool]]:
        return [(round(2.0 + 0.1 * float(rng.normal()), 2), True) for _ in range(n)]

    def stopped(n: int) -> list[tuple[float, bool]]:
        # The noise floor of a vibration sensor on a stopped machine: it keeps moving.
        return [(round(0.07 + 0.03 * float(rng.normal()), 2), False) for _ in range(n)]

    history = running(200) + stopped(120) + running(200)
    assert set(_verdicts(history + stopped(300), cfg)) == {None}
    frozen = [(0.08, False)] * 120
    verdicts = _verdicts(history + stopped(10) + frozen, cfg)
    first = verdicts.index("stuck")
    assert 530 + cfg.stuck_readings - 1 <= first < 530 + cfg.stuck_readings + 5
    assert set(verdicts[first:]) == {"stuck"}


def test_a_stopped_machines_exact_zero_never_becomes_stuck() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(10)
    day = [(round(40.0 + float(rng.normal()), 1), True) for _ in range(200)]
    night = [(0.0, False)] * 300
    assert set(_verdicts((day + night) * 4, cfg)) == {None}


def test_a_reading_that_leaves_its_resting_level_while_stopped_is_drifting() -> None:
    cfg = SensorHealthConfig()
    rng = np.random.default_rng(12)

    def shift(offset: float = 0.0) -> list[tuple[float, bool]]:
        day = [(round(2.0 + 0.1 * float(rng.normal()), 2), True) for _ in range(200)]
        night = [
            (round(0.07 + offset * i / 200 + 0.03 * float(rng.normal()), 2), False)
            for i in range(200)
        ]
        return day + night

    healthy = shift() + shift() + shift()
    assert set(_verdicts(healthy, cfg)) == {None}
    # The zero of the instrument creeps up through a night: nothing runs to explain it.
    # Then it is put right.
    verdicts = _verdicts(healthy + shift(offset=3.0) + shift() + shift(), cfg)
    first = verdicts.index("drift")
    assert 1400 < first < 1600
    # The verdict holds through the next run; a stop that finds it at rest clears it.
    assert set(verdicts[first:1800]) == {"drift"}
    assert verdicts[-1] is None


def test_a_temperature_cooling_after_a_stop_has_no_resting_level() -> None:
    cfg = SensorHealthConfig()
    sh = SensorHealth(-40.0, 250.0)
    verdicts = []
    for cycle in range(4):
        hot = 60.0 + 10.0 * cycle  # each run ends hotter than the last
        for _ in range(200):
            verdicts.append(sh.check(round(hot + 0.1 * (len(verdicts) % 3), 1), cfg)[0])
        for i in range(200):
            x = round(25.0 + (hot - 25.0) * 0.99**i, 1)
            verdicts.append(sh.check(x, cfg, running=False, settles=False)[0])
    assert set(verdicts) == {None}
