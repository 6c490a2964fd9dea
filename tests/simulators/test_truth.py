"""Ground truth is honest: every fault it lists can be seen in the telemetry, and only those."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from prognos.simulators.engine import simulate
from prognos.simulators.fleet import quick_fleet
from prognos.simulators.kinds import ASSET_TYPES, METRICS_BY_ASSET
from prognos.simulators.sensors import OUT_OF_RANGE_VALUE
from prognos.simulators.truth import ground_truth, read_truth, write_truth

DAY = 86400.0
DAYS = 5  # Monday to Friday: shift-bound machines run on each day


def _deviation(faulty: dict, healthy: dict, mask: np.ndarray) -> float:
    """Largest standardised mean shift over the metrics, faulty minus healthy twin."""
    best = 0.0
    for name, values in healthy.items():
        if name == "ts_s":
            continue
        diff = faulty[name][mask] - values[mask]
        spread = max(float(np.nanstd(values[mask])), 1e-3)
        best = max(best, abs(float(np.nanmean(diff))) / spread)
    return best


def test_every_fault_in_the_truth_is_in_the_data(start, series, tmp_path: Path) -> None:
    fleet = quick_fleet(
        24, {t: 1.0 for t in ASSET_TYPES}, 0.5, 11, start, DAYS * DAY, sensor_fault_fraction=0.5
    )
    truth_path = tmp_path / "truth.jsonl"
    assert write_truth(ground_truth(fleet, start, DAYS * DAY), truth_path) == 24
    truth = read_truth(truth_path)
    data = series(simulate(fleet, start, DAYS * DAY, 60.0, 11))
    healthy_fleet = replace(fleet, faults=(), sensor_faults=())
    healthy = series(simulate(healthy_fleet, start, DAYS * DAY, 60.0, 11))
    faulty_devices = {f.device for f in fleet.faults} | {s.device for s in fleet.sensor_faults}
    assert {r["device"] for r in truth if r["faults"] or r["sensor_faults"]} == faulty_devices
    checked = 0
    for record in truth:
        dev = record["device"]
        f, h = data[dev], healthy[dev]
        if not record["faults"] and not record["sensor_faults"]:
            assert all(np.array_equal(f[n], h[n], equal_nan=True) for n in h), dev
            continue
        for fault in record["faults"]:
            t_fail = fault["failure_ns"] / 1e9
            t_on = fault["onset_ns"] / 1e9
            before = f["ts_s"] < t_on
            # The last quarter before failure, while the machine runs (shift-bound machines
            # show nothing while they stand still), and the trip at failure.
            running = h["current_a"] > 0
            near = (f["ts_s"] >= t_on + 0.75 * (t_fail - t_on)) & (f["ts_s"] < t_fail) & running
            after = (f["ts_s"] >= t_fail) & running
            touched = {s["metric"] for s in record["sensor_faults"]}
            keep = {n: v for n, v in h.items() if n not in touched or n == "ts_s"}
            assert _deviation(f, keep, before) == 0.0, (dev, fault["mode"])
            assert near.sum() >= 30, (dev, "too little running time to judge")
            assert _deviation(f, keep, near) > 1.0, (dev, fault["mode"])
            if "current_a" not in touched:
                assert np.all(f["current_a"][after] == 0.0), (dev, "did not trip")
            checked += 1
        for sensor in record["sensor_faults"]:
            inside = (f["ts_s"] >= sensor["start_ns"] / 1e9) & (f["ts_s"] < sensor["end_ns"] / 1e9)
            names = (
                METRICS_BY_ASSET[record["asset_type"]]
                if sensor["metric"] == "*"
                else [sensor["metric"]]
            )
            for name in names:
                _assert_sensor_fault_visible(sensor["kind"], f, h, name, inside, dev)
            checked += 1
    assert checked >= 20


def _assert_sensor_fault_visible(kind, f, h, name, inside, dev):
    got = f[name][inside] if name in f else np.array([np.nan])
    want = h[name][inside]
    label = (dev, name, kind)
    if kind == "stuck":
        assert np.unique(got).size == 1 and np.unique(want).size > 1, label
    elif kind == "dropout":
        assert np.all(np.isnan(got)) or got.size < want.size, label
    elif kind == "out_of_range":
        assert np.all(got == OUT_OF_RANGE_VALUE), label
    elif kind == "spikes":
        assert np.max(np.abs(got - want)) > 3 * max(np.std(want), 0.01), label
    elif kind == "drift":
        tail = slice(int(0.7 * got.size), None)
        assert np.mean(got[tail] - want[tail]) > 1.0, label
    else:  # noise_burst
        assert np.std(got - want) > 0.5, label
