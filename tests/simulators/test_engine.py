"""The engine: reproducible, ordered, on the wire contract, and physically plausible."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import orjson
import pytest

from prognos.ingest.contract import TELEMETRY_FILTER, ContractError, parse_ts_ns
from prognos.simulators.engine import simulate
from prognos.simulators.errors import SimulatorError
from prognos.simulators.fleet import quick_fleet
from prognos.simulators.kinds import ASSET_TYPES, METRICS_BY_ASSET

DAY = 86400.0


def _stream(fleet, start, days, seed=7, step_s=60.0):
    return list(simulate(fleet, start, days * DAY, step_s, seed))


def test_same_seed_gives_byte_identical_output(start):
    fleet = quick_fleet(
        12, {t: 1.0 for t in ASSET_TYPES}, 0.5, 3, start, 3 * DAY, sensor_fault_fraction=0.3
    )
    first = [(m.topic, m.payload, m.ts_ns) for m in _stream(fleet, start, 3, seed=3)]
    again = [(m.topic, m.payload, m.ts_ns) for m in _stream(fleet, start, 3, seed=3)]
    other = [(m.topic, m.payload, m.ts_ns) for m in _stream(fleet, start, 3, seed=4)]
    assert first == again
    assert first != other
    assert len(first) == 12 * 3 * 1440


def test_messages_follow_the_contract_and_come_in_time_order(start):
    fleet = quick_fleet(8, {t: 1.0 for t in ASSET_TYPES}, 0.0, 1, start, DAY)
    messages = _stream(fleet, start, 1)
    stamps = [m.ts_ns for m in messages]
    assert stamps == sorted(stamps)
    assert stamps[0] >= int(start.timestamp() * 1e9)
    assert stamps[-1] < int((start + timedelta(days=1)).timestamp() * 1e9)
    prefix, suffix = TELEMETRY_FILTER.split("/+/+/+/")
    types = {d.id: d.asset_type for d in fleet.devices}
    for msg in messages[:2000]:
        parts = msg.topic.split("/")
        assert (parts[0], parts[4]) == (prefix, suffix) and parts[3] == msg.device
        body = orjson.loads(msg.payload)
        assert body["ts"] * 1_000_000 == msg.ts_ns
        assert parse_ts_ns(body["ts"]) == msg.ts_ns
        assert set(body["metrics"]) == set(METRICS_BY_ASSET[types[msg.device]])
        assert all(isinstance(v, float) and np.isfinite(v) for v in body["metrics"].values())


def test_a_device_does_not_depend_on_the_rest_of_the_fleet(start, one_device_fleet):
    alone = _stream(one_device_fleet("motor", "motor-0001"), start, 1)
    fleet = quick_fleet(5, {"motor": 1.0}, 0.0, 1, start, DAY)
    assert fleet.devices[0].id == "motor-0001" or "motor-0001" in {d.id for d in fleet.devices}
    # Same id and seed, same data, even if site and neighbours differ only the topic changes.
    in_fleet = [m for m in _stream(fleet, start, 1) if m.device == "motor-0001"]
    assert [m.ts_ns for m in alone] == [m.ts_ns for m in in_fleet]


def test_healthy_pump_runs_in_iso_zone_a_b_with_warm_bearings(start, one_device_fleet, series):
    data = series(_stream(one_device_fleet("pump"), start, 2))["dev-1"]
    vib, bearing, ambient = (
        data["vibration_rms_mm_s"],
        data["bearing_temp_c"],
        data["ambient_temp_c"],
    )
    assert 1.2 < np.median(vib) < 2.8 and np.percentile(vib, 99) < 3.5
    rise = bearing[240:] - ambient[240:]  # after the bearings have warmed up
    assert 15 < np.median(rise) < 40
    assert np.all(data["speed_rpm"] > 0) and np.ptp(data["flow_m3_h"]) > 10  # load cycles


def test_bearing_wear_raises_vibration_and_temperature_monotonically(
    start, one_device_fleet, series
):
    faulty = one_device_fleet("pump", faults=[("bearing_wear", 2, 8, "exponential")])
    data = series(_stream(faulty, start, 8))["dev-1"]
    healthy = series(_stream(one_device_fleet("pump"), start, 8))["dev-1"]
    days = (data["ts_s"] - start.timestamp()) / DAY
    vib_means = [
        data["vibration_rms_mm_s"][(days >= d) & (days < d + 1)].mean() for d in range(2, 8)
    ]
    temp_excess = [
        (data["bearing_temp_c"] - healthy["bearing_temp_c"])[(days >= d) & (days < d + 1)].mean()
        for d in range(2, 8)
    ]
    assert all(b > a for a, b in itertools.pairwise(vib_means)), vib_means
    assert all(b > a for a, b in itertools.pairwise(temp_excess)), temp_excess
    assert vib_means[-1] > 2.5 * vib_means[0]
    before = (days >= 1) & (days < 2)
    assert np.allclose(data["vibration_rms_mm_s"][before], healthy["vibration_rms_mm_s"][before])


def test_asset_trips_at_failure(start, one_device_fleet, series):
    fleet = one_device_fleet("pump", faults=[("bearing_wear", 1, 2.5, "linear")])
    data = series(_stream(fleet, start, 3))["dev-1"]
    days = (data["ts_s"] - start.timestamp()) / DAY
    after, before = days >= 2.5, (days > 2.4) & (days < 2.5)
    for metric in ("speed_rpm", "flow_m3_h", "current_a", "power_kw"):
        assert np.all(data[metric][after] == 0.0), metric
        assert np.all(data[metric][before] > 0.0), metric
    assert data["bearing_temp_c"][-1] < data["bearing_temp_c"][before].mean() - 20


#: (asset, mode, metric, direction): what the failure mechanism does, checked near failure.
PHYSICS = [
    ("pump", "cavitation", "flow_m3_h", -1),
    ("pump", "cavitation", "suction_pressure_bar", -1),
    ("pump", "clogged_filter", "flow_m3_h", -1),
    ("pump", "imbalance", "vibration_rms_mm_s", 1),
    ("pump", "misalignment", "bearing_temp_c", 1),
    ("motor", "overheating", "winding_temp_c", 1),
    ("motor", "cooling_loss", "winding_temp_c", 1),
    ("motor", "insulation_fault", "power_factor", -1),
    ("motor", "bearing_wear", "bearing_temp_c", 1),
    ("compressor", "cooling_loss", "oil_temp_c", 1),
    ("compressor", "overheating", "discharge_temp_c", 1),
    ("compressor", "clogged_filter", "power_kw", 1),
    ("compressor", "lubrication_loss", "oil_temp_c", 1),
    ("spindle", "lubrication_loss", "torque_nm", 1),
    ("spindle", "bearing_wear", "vibration_rms_mm_s", 1),
    ("spindle", "cooling_loss", "oil_temp_c", 1),
    ("chiller", "refrigerant_leak", "refrigerant_pressure_bar", -1),
    ("chiller", "refrigerant_leak", "power_kw", 1),
    ("chiller", "clogged_filter", "flow_m3_h", -1),
    ("chiller", "cooling_loss", "discharge_pressure_bar", 1),
    ("robot_joint", "lubrication_loss", "torque_nm", 1),
    ("robot_joint", "overheating", "winding_temp_c", 1),
]


@pytest.mark.parametrize(("asset", "mode", "metric", "direction"), PHYSICS)
def test_failure_modes_move_metrics_the_way_physics_says(
    start, one_device_fleet, series, asset, mode, metric, direction
):
    faulty = series(_stream(one_device_fleet(asset, faults=[(mode, 1, 4, "linear")]), start, 4))
    healthy = series(_stream(one_device_fleet(asset), start, 4))
    f, h = faulty["dev-1"], healthy["dev-1"]
    days = (f["ts_s"] - start.timestamp()) / DAY
    late = (days > 3.3) & (days < 4.0) & (h.get("speed_rpm", h[metric] * 0 + 1) > 0)
    early = days < 1.0
    assert np.allclose(f[metric][early], h[metric][early])
    shift = (f[metric][late] - h[metric][late]).mean()
    spread = max(float(np.std(h[metric][late])), 1e-3)
    assert direction * shift > 0.5 * spread, (shift, spread)


def test_bad_arguments_raise_clear_errors(start, one_device_fleet):
    fleet = one_device_fleet("pump")
    with pytest.raises(SimulatorError, match="step"):
        next(iter(simulate(fleet, start, DAY, 0.0, 1)))
    with pytest.raises(SimulatorError, match="aware"):
        next(iter(simulate(fleet, start.replace(tzinfo=None), DAY, 60.0, 1)))
    with pytest.raises(ContractError, match="device"):
        next(iter(simulate(one_device_fleet("pump", device="bad/id"), start, DAY, 60.0, 1)))
