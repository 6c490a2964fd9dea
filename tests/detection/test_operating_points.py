"""Operating points warm-up never saw: no false alarms on healthy machines.

A device's first hours may cover only part of its duty cycle (a day shift, a
weekend). Its models must not be judged far outside what they were fitted on,
and a stopped machine must not count as learning how it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from prognos.detection.condition import ConditionModel
from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind
from prognos.ingest.contract import Reading

sim_engine = pytest.importorskip("prognos.simulators.engine", reason="simulators not available")
sim_fleet = pytest.importorskip("prognos.simulators.fleet", reason="simulators not available")


def test_condition_model_continues_along_its_tangent_outside_the_fitted_range() -> None:
    loads = [1.0 + 0.01 * (i % 101) for i in range(505)]  # 1.0 .. 2.0
    model = ConditionModel.fit(["load"], [{"load": x} for x in loads], [x * x for x in loads])
    assert model.expected({"load": 1.5}) == pytest.approx(2.25, abs=0.01)
    assert model.outside({"load": 1.5}) == 0.0
    # Tangent at load 2: 4 + 4 * (5 - 2) = 16, where the parabola would say 25.
    assert model.expected({"load": 5.0}) == pytest.approx(16.0, abs=0.3)
    assert model.outside({"load": 5.0}) > 5.0
    # A checkpoint from before the range was kept extrapolates as it was fitted.
    state = {k: v for k, v in model.to_dict().items() if k not in ("lo", "hi")}
    old = ConditionModel.from_dict(state)
    assert old.expected({"load": 5.0}) == pytest.approx(25.0, abs=0.5)
    assert ConditionModel.from_dict(model.to_dict()).expected({"load": 5.0}) == pytest.approx(
        model.expected({"load": 5.0})
    )


def _equipment_flags(devices: list[tuple[str, str]], start: datetime, days: float) -> list[Flag]:
    f = sim_fleet
    fleet = f.Fleet(
        (f.Customer("c1", "Customer"),),
        (f.Site("s1", "Site", "c1"),),
        tuple(f.Device(dev, asset, "s1") for dev, asset in devices),
    )
    kinds = dict(devices)
    engine = DetectionEngine()
    out: list[Flag] = []
    for m in sim_engine.simulate(fleet, start, days * 86400, 60.0, 7):
        metrics = orjson.loads(m.payload)["metrics"]
        for flag in engine.process(Reading(m.device, kinds[m.device], "s1", m.ts_ns, metrics)):
            if flag.kind is FlagKind.EQUIPMENT:
                out.append(flag)
    return out


def test_day_shift_warm_up_does_not_flag_the_night() -> None:
    # Warm-up from 07:00 sees only the occupied, day-shift load; the night after
    # used to read as a failing chiller and compressor.
    start = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
    flags = _equipment_flags(
        [("chiller-05", "chiller"), ("compressor-03", "compressor")], start, 2.5
    )
    assert flags == []


def test_weekend_start_learns_shift_machines_when_they_run() -> None:
    # Shift machines stand still all weekend; warming up on two idle days used to
    # flag every Monday start-up.
    start = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # a Saturday
    flags = _equipment_flags([("motor-08", "motor"), ("spindle-06", "spindle")], start, 3.5)
    assert flags == []
    monday = start + timedelta(days=2)
    assert monday.weekday() == 0
