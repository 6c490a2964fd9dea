"""DetectionEngine on synthetic pumps: early, single, well-explained flags; calm when healthy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.errors import ConfigError, StateError
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading

MIN_NS = 60_000_000_000
H = 60  # readings per hour at one per minute
T0_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00Z


def pump_series(
    hours: float,
    seed: int,
    onset_h: float | None = None,
    failure_h: float | None = None,
    device: str = "p-1",
) -> list[Reading]:
    """A pump on a daily demand curve with random load steps; optional bearing fault.

    Severity grows exponentially from onset to 1 at failure (then the pump trips).
    """
    rng = np.random.default_rng(seed)
    n = int(hours * H)
    t_h = np.arange(n) / H
    hour = t_h % 24
    demand = (
        0.3
        + 0.5 * np.exp(-0.5 * ((hour - 8) / 2) ** 2)
        + 0.4 * np.exp(-0.5 * ((hour - 19) / 2.5) ** 2)
    )
    steps = np.repeat(rng.uniform(-0.1, 0.1, n // 90 + 1), 90)[:n]
    load = np.clip(demand + steps, 0.2, 1.0)
    q = 0.6 + 0.4 * load
    ambient = 18 + 3.5 * np.sin(2 * math.pi * (hour - 9) / 24) + 0.1 * rng.normal(size=n)
    sev = np.zeros(n)
    if onset_h is not None and failure_h is not None:
        u = np.clip((t_h - onset_h) / (failure_h - onset_h), 0, 1)
        sev = np.where(t_h >= onset_h, np.expm1(4 * u) / math.expm1(4), 0.0)
    target = ambient + 20 + 12 * load + 28 * sev
    bearing = np.empty(n)
    level = target[0]
    a = math.exp(-60 / 1800)
    for i in range(n):
        level = a * level + (1 - a) * target[i]
        bearing[i] = level
    readings = []
    for i in range(n):
        if failure_h is not None and t_h[i] >= failure_h:
            break
        metrics = {
            "vibration_rms_mm_s": round(
                2.0 * (0.85 + 0.15 * q[i] ** 2) * (1 + 0.06 * rng.normal())
                + 9 * sev[i]
                + 0.03 * rng.normal(),
                2,
            ),
            "bearing_temp_c": round(bearing[i] + 0.15 * rng.normal(), 1),
            "flow_m3_h": round(180 * q[i] + 0.4 * rng.normal(), 1),
            "speed_rpm": round(1480 * q[i] + rng.normal()),
            "power_kw": round(30 * q[i] ** 3 * (1 + 0.03 * sev[i]) + 0.1 * rng.normal(), 1),
            "suction_pressure_bar": round(1.5 - 0.25 * q[i] ** 2 + 0.01 * rng.normal(), 2),
            "ambient_temp_c": round(ambient[i], 1),
        }
        readings.append(Reading(device, "pump", "site-1", T0_NS + i * MIN_NS, metrics))
    return readings


def run(engine: DetectionEngine, readings: list[Reading]) -> list[Flag]:
    flags: list[Flag] = []
    for r in readings:
        flags += engine.process(r)
    return flags


def equipment(flags: list[Flag]) -> list[Flag]:
    return [f for f in flags if f.kind is FlagKind.EQUIPMENT]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bearing_fault_gives_one_early_bearing_wear_flag(seed: int) -> None:
    onset_h, failure_h = 13.0, 13.0 + 24.0 + 12.0 * seed
    readings = pump_series(failure_h, seed, onset_h, failure_h)
    flags = equipment(run(DetectionEngine(), readings))
    opened = [f for f in flags if f.state is FlagState.OPENED]
    assert len(opened) == 1, [(f.state, f.failure_mode) for f in flags]
    assert not [f for f in flags if f.state is FlagState.CLEARED]
    flag = opened[0]
    assert flag.failure_mode == "bearing_wear"
    assert flag.device == "p-1" and flag.asset_type == "pump" and flag.site == "site-1"
    onset_ns = T0_NS + int(onset_h * 3600e9)
    failure_ns = T0_NS + int(failure_h * 3600e9)
    lead_fraction = (failure_ns - flag.opened_ns) / (failure_ns - onset_ns)
    assert lead_fraction >= 0.5, lead_fraction
    assert flag.window_start_ns <= flag.opened_ns
    assert set(flag.metrics) >= {"bearing_temp_c"} or set(flag.metrics) >= {"vibration_rms_mm_s"}
    # Later states keep the same id, and a trend projects the failure at some point.
    assert {f.flag_id for f in flags} == {flag.flag_id}
    assert any(f.predicted_failure_ns is not None for f in flags)


@pytest.mark.parametrize("seed", [4, 5])
def test_healthy_pump_with_load_and_daily_cycles_stays_quiet(seed: int) -> None:
    flags = run(DetectionEngine(), pump_series(5 * 24, seed))
    assert equipment(flags) == []
    assert [f for f in flags if f.kind is FlagKind.SENSOR] == []


def test_batch_path_gives_the_same_flags() -> None:
    readings = pump_series(40.0, 7, 13.0, 40.0)
    one = run(DetectionEngine(), readings)
    batch_engine = DetectionEngine()
    batch: list[Flag] = []
    for start in range(0, len(readings), 500):
        batch += batch_engine.process_batch(readings[start : start + 500])
    assert one and batch == one


def test_checkpoint_restore_continues_exactly() -> None:
    readings = pump_series(40.0, 8, 13.0, 40.0)
    reference = run(DetectionEngine(), readings)
    first = DetectionEngine()
    cut = 1500
    flags = run(first, readings[:cut])
    blob = json.dumps(first.state_dict())
    second = DetectionEngine()
    second.load_state(json.loads(blob))
    flags += run(second, readings[cut:])
    assert flags == reference
    assert [f.flag_id for f in second.open_flags()] == [
        f.flag_id for f in first.open_flags()
    ] or second.open_flags()


def test_state_is_bounded_per_series() -> None:
    engine = DetectionEngine()
    run(engine, pump_series(30.0, 9))
    size_30h = len(json.dumps(engine.state_dict()))
    run(engine, pump_series(60.0, 9, device="p-1")[30 * H :])
    size_60h = len(json.dumps(engine.state_dict()))
    assert size_60h < 1.5 * size_30h
    assert size_60h / 7 < 8 * 1024  # seven metrics, well under 8 KiB of JSON each


def test_suppress_clears_the_flag_and_blocks_reopening() -> None:
    readings = pump_series(45.0, 10, 13.0, 45.0)
    engine = DetectionEngine()
    flags: list[Flag] = []
    opened_at = None
    for i, r in enumerate(readings):
        new = engine.process(r)
        flags += new
        if opened_at is None and any(f.state is FlagState.OPENED for f in equipment(new)):
            opened_at = i
            engine.suppress("p-1", "bearing_wear", r.ts_ns + 6 * 3600 * 10**9)
    assert opened_at is not None
    eq = equipment(flags)
    assert eq[-1].state is FlagState.CLEARED or len(eq) >= 2
    cleared = [f for f in eq if f.state is FlagState.CLEARED]
    assert cleared and cleared[0].evidence.get("suppressed") == 1.0
    window_end = readings[opened_at].ts_ns + 6 * 3600 * 10**9
    reopened = [
        f
        for f in eq
        if f.state is FlagState.OPENED
        and f.failure_mode == "bearing_wear"
        and f.opened_ns < window_end
    ]
    assert len(reopened) == 1  # only the original one


def test_flapping_signal_yields_one_flag() -> None:
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=200))
    rng = np.random.default_rng(11)
    flags: list[Flag] = []
    for i in range(2000):
        # After warm-up, vibration jumps between normal and very high every 20 minutes.
        high = i > 400 and (i // 20) % 2 == 0
        vib = 2.0 + 0.1 * rng.normal() + (3.0 if high else 0.0)
        r = Reading("p-2", "pump", "s", T0_NS + i * MIN_NS, {"vibration_rms_mm_s": vib})
        flags += engine.process(r)
    opened = [f for f in equipment(flags) if f.state is FlagState.OPENED]
    assert len(opened) == 1
    updates = [f for f in equipment(flags) if f.state is FlagState.UPDATED]
    assert len(updates) < 20


def test_bad_values_and_out_of_order_readings_do_not_crash() -> None:
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=50))
    for i in range(100):
        metrics: dict = {"vibration_rms_mm_s": 2.0 + 0.01 * (i % 7)}
        if i % 10 == 3:
            metrics = {"vibration_rms_mm_s": float("nan"), "bearing_temp_c": "hot"}
        engine.process(Reading("p-3", "pump", "s", T0_NS + i * MIN_NS, metrics))
    # A reading older than the last one is ignored, not scored.
    assert engine.process(Reading("p-3", "pump", "s", T0_NS, {"vibration_rms_mm_s": 99.0})) == []


def test_bad_configuration_and_checkpoint_are_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="unknown detection knob"):
        DetectionConfig.from_mapping({"z_opne": 3})
    with pytest.raises(ConfigError, match="z_clear"):
        DetectionConfig(z_open=2.0, z_clear=3.0)
    assert (
        DetectionConfig.from_mapping({"z_open": 5.0, "sensor": {"stuck_readings": 10}}).z_open == 5
    )
    with pytest.raises(StateError, match="version"):
        DetectionEngine().load_state({"version": 99})
    with pytest.raises(StateError):
        DetectionEngine().load_state({"version": 1, "devices": {"x": {"device": "x"}}, "open": {}})


def test_metric_first_seen_after_warm_up_is_not_judged_without_a_baseline() -> None:
    readings = pump_series(40.0, 12)
    late = [
        Reading(r.device, r.asset_type, r.site, r.ts_ns, {**r.metrics, "power_factor": 0.2})
        if i > 1000
        else r
        for i, r in enumerate(readings)
    ]
    assert equipment(run(DetectionEngine(), late)) == []


def test_garbage_readings_never_crash_and_state_stays_strict_json() -> None:
    rng = np.random.default_rng(13)
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=30, settle_readings=10))
    junk: list[object] = [None, "x", float("nan"), float("inf"), -1e308, True, 0.0, 65535.0]
    for i in range(600):
        metrics: dict = {}
        for name in ("vibration_rms_mm_s", "bearing_temp_c", "speed_rpm", "odd_metric"):
            if rng.random() < 0.1:
                metrics[name] = junk[int(rng.integers(len(junk)))]
            elif rng.random() < 0.9:
                metrics[name] = float(rng.normal(50, 5))
        asset = ["pump", "motor", "unknown_kind"][i % 3]
        ts = T0_NS + int(rng.integers(0, 600)) * MIN_NS
        engine.process(Reading(f"d{i % 3}", asset, "s", ts, metrics))
    text = json.dumps(engine.state_dict(), allow_nan=False)
    again = DetectionEngine()
    again.load_state(json.loads(text))
    assert json.dumps(again.state_dict(), allow_nan=False) == text
