"""Instrument drift told apart from equipment faults, on the project's own simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading

sim_engine = pytest.importorskip("prognos.simulators.engine", reason="simulators not available")
sim_fleet = pytest.importorskip("prognos.simulators.fleet", reason="simulators not available")
sim_kinds = pytest.importorskip("prognos.simulators.kinds", reason="simulators not available")

#: A Monday: shift machines run 06:00-22:00 on weekdays.
START = datetime(2026, 1, 5, tzinfo=UTC)
HOUR_NS = 3600 * 10**9


def run(
    device: str,
    asset: str,
    days: float,
    seed: int,
    faults: tuple = (),
    sensor_faults: tuple = (),
    config: DetectionConfig | None = None,
) -> list[Flag]:
    f = sim_fleet
    fleet = f.Fleet(
        (f.Customer("c1", "Customer"),),
        (f.Site("s1", "Site", "c1"),),
        (f.Device(device, asset, "s1"),),
        faults,
        sensor_faults,
    )
    engine = DetectionEngine(config=config)
    flags: list[Flag] = []
    for m in sim_engine.simulate(fleet, START, days * 86400, 60.0, seed):
        payload = orjson.loads(m.payload)
        flags += engine.process(Reading(m.device, asset, "s1", m.ts_ns, payload["metrics"]))
    return flags


def ns(at: datetime) -> int:
    return int(at.timestamp()) * 10**9


def said(flags: list[Flag], kind: FlagKind) -> list[Flag]:
    return [f for f in flags if f.kind is kind and f.state is not FlagState.CLEARED]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_drifting_oil_thermometer_on_a_spindle_is_a_drift_not_cooling_loss(seed: int) -> None:
    # A spindle's cooling loss shows first on its oil thermometer, so a lone rise could
    # be either; the cooling loss would heat the bearings as much, and they stay put.
    begin, end = START + timedelta(days=2, hours=6), START + timedelta(days=4, hours=6)
    fault = sim_fleet.SensorFault("spindle-d", "oil_temp_c", "drift", begin, end)
    flags = run("spindle-d", "spindle", 4.5, seed, sensor_faults=(fault,))
    assert said(flags, FlagKind.EQUIPMENT) == []
    drift = [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"]
    assert {f.metrics for f in drift} == {("oil_temp_c",)}
    assert ns(begin) <= drift[0].updated_ns <= ns(end)


@pytest.mark.parametrize("seed", [3, 4])
def test_genuine_cooling_loss_on_a_spindle_is_still_an_equipment_fault(seed: int) -> None:
    onset, failure = START + timedelta(days=1, hours=12), START + timedelta(days=6)
    fault = sim_fleet.Fault("spindle-c", "cooling_loss", onset, failure, sim_kinds.Shape.LINEAR)
    flags = run("spindle-c", "spindle", 4.0, seed, faults=(fault,))
    assert [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"] == []
    opened = [f for f in flags if f.kind is FlagKind.EQUIPMENT and f.state is FlagState.OPENED]
    assert opened and ns(onset) <= opened[0].opened_ns < ns(failure)


def test_genuine_imbalance_on_a_pump_is_still_imbalance() -> None:
    onset, failure = START + timedelta(days=1, hours=12), START + timedelta(days=5)
    fault = sim_fleet.Fault("pump-i", "imbalance", onset, failure, sim_kinds.Shape.LINEAR)
    flags = run("pump-i", "pump", 4.5, 3, faults=(fault,))
    assert [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"] == []
    opened = [f for f in flags if f.kind is FlagKind.EQUIPMENT and f.state is FlagState.OPENED]
    assert opened and ns(onset) <= opened[0].opened_ns < ns(failure)
    assert opened[0].failure_mode == "imbalance"


@pytest.mark.parametrize("seed", [4, 5])
def test_a_drifting_load_sensor_is_named_and_no_fault_is_blamed(seed: int) -> None:
    # The compressor's metrics are modelled on its power: a power reading that drifts
    # up makes the current, the temperatures and the speed all look off at once.
    begin, end = START + timedelta(days=1, hours=12), START + timedelta(days=3)
    fault = sim_fleet.SensorFault("comp-d", "power_kw", "drift", begin, end)
    flags = run("comp-d", "compressor", 3.5, seed, sensor_faults=(fault,))
    assert said(flags, FlagKind.EQUIPMENT) == []
    drift = [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"]
    power = [f for f in drift if f.metrics == ("power_kw",)]
    assert power and ns(begin) <= power[0].updated_ns <= ns(end)
    # A modelled metric may be taken for a lone drift first (the current follows the
    # power reading most closely); once the load sensor is named, that is withdrawn.
    for other in {f.metrics for f in drift} - {("power_kw",)}:
        events = [f for f in flags if f.metrics == other and f.updated_ns <= power[0].updated_ns]
        assert events[-1].state is FlagState.CLEARED
    # The drift ends with the fault: what it left behind opens nothing (checked above).
    cleared = [f for f in flags if f.kind is FlagKind.SENSOR and f.state is FlagState.CLEARED]
    assert cleared and cleared[-1].updated_ns >= ns(end)


@pytest.mark.parametrize("seed", [4, 5])
def test_a_drift_that_ends_leaves_nothing_behind_for_the_machine(seed: int) -> None:
    # A pump's power reading drifts up for a day and is then put right: while it
    # drifted, its deviation piled up in the CUSUM, which is the instrument's doing.
    begin, end = START + timedelta(days=1, hours=12), START + timedelta(days=2, hours=12)
    fault = sim_fleet.SensorFault("pump-p", "power_kw", "drift", begin, end)
    flags = run("pump-p", "pump", 3.5, seed, sensor_faults=(fault,))
    drift = [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"]
    assert drift and drift[0].metrics == ("power_kw",)
    assert ns(begin) <= drift[0].updated_ns <= ns(end)
    assert said(flags, FlagKind.EQUIPMENT) == []


@pytest.mark.parametrize("mode", ["lubrication_loss", "cooling_loss"])
def test_a_genuine_compressor_fault_is_not_taken_for_a_drifting_load_sensor(mode: str) -> None:
    onset, failure = START + timedelta(days=1, hours=12), START + timedelta(days=5)
    fault = sim_fleet.Fault("comp-f", mode, onset, failure, sim_kinds.Shape.LINEAR)
    flags = run("comp-f", "compressor", 4.0, 6, faults=(fault,))
    assert [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "drift"] == []
    opened = [f for f in flags if f.kind is FlagKind.EQUIPMENT and f.state is FlagState.OPENED]
    assert opened and ns(onset) <= opened[0].opened_ns < ns(failure)


def test_a_sensor_frozen_through_a_night_stop_is_stuck() -> None:
    # The robot stops 22:00-06:00; its vibration sensor freezes at Tuesday 22:30 and
    # thaws at 05:30, so the frozen value is never seen while the robot runs.
    begin, end = START + timedelta(days=1, hours=22, minutes=30), START + timedelta(days=2, hours=5)
    fault = sim_fleet.SensorFault("robot-s", "vibration_rms_mm_s", "stuck", begin, end)
    flags = run("robot-s", "robot_joint", 2.5, 7, sensor_faults=(fault,))
    stuck = [f for f in said(flags, FlagKind.SENSOR) if f.failure_mode == "stuck"]
    assert stuck and stuck[0].metrics == ("vibration_rms_mm_s",)
    assert ns(begin) <= stuck[0].opened_ns <= ns(end)
    assert said(flags, FlagKind.EQUIPMENT) == []


def test_zeros_of_a_stopped_machine_are_not_stuck_whatever_the_run_sensor_says() -> None:
    # The speed sensor reads a small offset while the pump stands still: current,
    # flow and power sit at exactly zero together, which is the machine, not three
    # frozen instruments.
    rng = np.random.default_rng(11)
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=300, settle_readings=0))
    flags: list[Flag] = []
    for i in range(900):
        run_ = i < 500
        m = {
            "speed_rpm": round(1480.0 + rng.normal(), 0) if run_ else round(3.0 + rng.normal(), 0),
            "current_a": round(40.0 + 0.3 * rng.normal(), 1) if run_ else 0.0,
            "flow_m3_h": round(150.0 + 0.5 * rng.normal(), 1) if run_ else 0.0,
            "power_kw": round(20.0 + 0.2 * rng.normal(), 1) if run_ else 0.0,
        }
        flags += engine.process(Reading("p-1", "pump", "s", i * 60 * 10**9, m))
    assert [f for f in flags if f.failure_mode == "stuck"] == []
    # Nor is a machine at rest judged as if it ran.
    assert said(flags, FlagKind.EQUIPMENT) == []


@pytest.mark.parametrize("kind", ["dropout", "out_of_range"])
@pytest.mark.parametrize("seed", [8, 10])
def test_a_load_sensor_back_from_a_long_outage_is_not_judged_on_stale_lags(
    kind: str, seed: int
) -> None:
    # The robot's speed sensor fails at night, while it stands still, and comes back
    # the next morning but one, while it works: its temperatures followed the real
    # speed all along, so the lagged speed (still "stopped") must restart from there.
    begin, end = START + timedelta(days=2, hours=2), START + timedelta(days=3, hours=10)
    fault = sim_fleet.SensorFault("robot-1", "speed_rpm", kind, begin, end)
    flags = run("robot-1", "robot_joint", 4.0, seed, sensor_faults=(fault,))
    sensor = [f for f in said(flags, FlagKind.SENSOR) if f.metrics == ("speed_rpm",)]
    assert sensor and sensor[0].failure_mode == kind
    assert said(flags, FlagKind.EQUIPMENT) == []
