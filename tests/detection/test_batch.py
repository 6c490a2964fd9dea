"""The numpy batch path: the same flags and state as one reading at a time, bit for bit."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from prognos.detection import batch as batch_module
from prognos.detection import engine as engine_module
from prognos.detection.batch import SeriesBank
from prognos.detection.condition import ConditionModel
from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState
from prognos.detection.engine import DetectionEngine
from prognos.detection.evaluation.sim import read_telemetry
from prognos.detection.flags import Flag, FlagKind
from prognos.detection.profiles import profile_for
from prognos.detection.series import READY, MetricSeries
from prognos.ingest.contract import Reading
from prognos.simulators.engine import simulate
from prognos.simulators.fleet import parse_mix, quick_fleet
from prognos.simulators.jsonl import write_messages
from prognos.simulators.transport import TransportFaults

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet_readings(tmp_path_factory: pytest.TempPathFactory) -> list[Reading]:
    """Three days of a mixed fleet: wear faults, instrument faults and transport faults."""
    days = 3.0
    mix = parse_mix("pump=1,motor=1,compressor=1,spindle=1,chiller=1,robot_joint=1")
    fleet = quick_fleet(12, mix, 0.5, 3, START, days * 86_400, sensor_fault_fraction=0.5)
    transport = TransportFaults(
        out_of_order_fraction=0.01, duplicate_fraction=0.01, malformed_fraction=0.005
    )
    path: Path = tmp_path_factory.mktemp("batch") / "tele.jsonl"
    write_messages(simulate(fleet, START, days * 86_400, 60.0, 3, transport), path)
    return [r for r in read_telemetry(path) if r is not None]


@pytest.fixture
def wide_rounds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every batch takes numpy rounds, however few devices are calm; counts what they did."""
    monkeypatch.setattr(engine_module, "MIN_ROUND", 1)
    monkeypatch.setattr(engine_module, "NARROW_ROUND", 1)
    seen = {"rounds": 0, "calm": 0, "hot": 0}
    score_round = SeriesBank.score_round

    def counting(self: SeriesBank, items: list[engine_module.Deferred]) -> list[bool]:
        hot = score_round(self, items)
        seen["rounds"] += 1
        seen["hot"] += sum(hot)
        seen["calm"] += len(hot) - sum(hot)
        return hot

    monkeypatch.setattr(SeriesBank, "score_round", counting)
    return seen


@pytest.fixture(scope="module")
def reference(fleet_readings: list[Reading]) -> tuple[list[Flag], DetectionEngine]:
    """The flags of the one-at-a-time path, and its engine afterwards."""
    engine = DetectionEngine()
    return [f for r in fleet_readings for f in engine.process(r)], engine


def state_of(engine: DetectionEngine) -> str:
    return json.dumps(engine.state_dict(), sort_keys=True)


@pytest.mark.parametrize("size", [50, 1000])
def test_batches_give_the_same_flags_and_state_bit_for_bit(
    fleet_readings: list[Reading],
    reference: tuple[list[Flag], DetectionEngine],
    wide_rounds: dict[str, int],
    size: int,
) -> None:
    flags_single, single = reference
    assert any(f.kind is FlagKind.EQUIPMENT for f in flags_single)
    assert any(f.kind is FlagKind.SENSOR for f in flags_single)
    engine = DetectionEngine()
    flags: list[Flag] = []
    for start in range(0, len(fleet_readings), size):
        flags += engine.process_batch(fleet_readings[start : start + size])
    assert flags == flags_single
    assert engine.open_flags() == single.open_flags()
    assert state_of(engine) == state_of(single)
    # The rounds really ran: calm devices scored in numpy, flagged ones finished scalar.
    assert wide_rounds["calm"] > 2 * wide_rounds["rounds"] > 0
    assert wide_rounds["hot"] > 0


def test_checkpoints_and_single_readings_between_batches_continue_exactly(
    fleet_readings: list[Reading],
    reference: tuple[list[Flag], DetectionEngine],
    wide_rounds: dict[str, int],
) -> None:
    third = len(fleet_readings) // 3
    first = DetectionEngine()
    flags = first.process_batch(fleet_readings[:third])
    # A banked engine's checkpoint holds the bank's state (it is written back first).
    second = DetectionEngine()
    second.load_state(json.loads(json.dumps(first.state_dict())))
    flags += second.process_batch(fleet_readings[third : 2 * third])
    # One reading at a time after batches: the banked state is written back first.
    flags += [f for r in fleet_readings[2 * third :] for f in second.process(r)]
    assert flags == reference[0]
    assert wide_rounds["rounds"] > 0


def test_small_rounds_take_the_scalar_path_with_the_same_flags(
    fleet_readings: list[Reading],
    reference: tuple[list[Flag], DetectionEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    score_round = SeriesBank.score_round

    def counting(self: SeriesBank, items: list[engine_module.Deferred]) -> list[bool]:
        calls.append(len(items))
        return score_round(self, items)

    monkeypatch.setattr(SeriesBank, "score_round", counting)
    engine = DetectionEngine()
    flags: list[Flag] = []
    for start in range(0, len(fleet_readings), 500):
        flags += engine.process_batch(fleet_readings[start : start + 500])
    assert flags == reference[0]
    # Twelve devices, some warming up or flagged, rarely make a round worth numpy: the
    # engine notices and stays scalar (probing now and then); tails never take numpy.
    assert all(n >= engine_module.NARROW_ROUND for n in calls)
    assert engine._round_width < engine_module.MIN_ROUND


def test_banked_condition_model_expects_exactly_what_the_model_does() -> None:
    rng = np.random.default_rng(2)
    names = ["a", "b", "c"]
    rows = [
        {"off": 20.0 + float(o), **dict(zip(names, rng.normal(size=3).tolist(), strict=True))}
        for o in rng.normal(size=200)
    ]
    values = [
        r["off"] + 2.0 * r["a"] - r["b"] ** 2 + 0.5 * r["a"] * r["c"] + 0.1 * rng.normal()
        for r in rows
    ]
    model = ConditionModel.fit(names, rows, values, offset="off")
    assert model.coefs and len(model.names) == 3
    series = MetricSeries(profile_for("generic").spec("m"), DetectionConfig())
    series.model = model
    series.base.seed([0.0, 1.0, -1.0] * 10)
    series.trend.learn_one(0, 0.0)
    dev = DeviceState("d", "generic", "s")
    dev.series["m"] = series
    dev.stage = READY
    bank = SeriesBank(capacity=2)
    banked = bank.admit(dev, profile_for("generic"), DetectionConfig())
    assert banked is not None
    # Inside the fitted range, far outside it (the tangent), and with conditions missing.
    conditions = [
        {"a": 0.1, "b": -0.3, "c": 0.7, "off": 20.0},
        {"a": 9.0, "b": -7.5, "c": 0.2, "off": 21.0},
        {"a": -6.0, "b": 0.0, "c": 12.0},
        {"b": 0.4},
    ]
    feature_rows = [[c.get(n, math.nan) for n in banked.features] for c in conditions]
    feat = np.array([math.nan, *[v for row in feature_rows for v in row]])
    base = np.array([1 + i * len(banked.features) for i in range(len(conditions))])
    idx = np.repeat(banked.rows, len(conditions))
    expected, _, present = bank._expected(idx, feat, base, bank.f[idx], bank.i[idx])
    assert expected.tolist() == [model.expected(c) for c in conditions]
    assert present.tolist() == [True, True, False, False]


def test_a_bank_grows_and_reuses_released_rows() -> None:
    bank = SeriesBank(capacity=1)
    devices = []
    for n in range(3):
        series = MetricSeries(profile_for("generic").spec("m"), DetectionConfig())
        series.base.seed([1.0, 2.0, 3.0])
        series.trend.learn_one(0, 1.0)
        dev = DeviceState(f"d{n}", "generic", "s")
        dev.series["m"] = series
        dev.stage = READY
        assert bank.admit(dev, profile_for("generic"), DetectionConfig()) is not None
        devices.append(dev)
    assert len(bank) == 3
    bank.release(devices[0])
    assert len(bank) == 2 and devices[0].bank is None
    assert bank.admit(devices[0], profile_for("generic"), DetectionConfig()) is not None
    assert len(bank) == 3 and len(bank.owner) == 4


def test_devices_the_bank_cannot_hold_stay_scalar() -> None:
    wide = [f"c{i}" for i in range(batch_module.KMAX + 1)]
    series = MetricSeries(profile_for("generic").spec("m"), DetectionConfig())
    series.model = ConditionModel(wide, [0.0] * len(wide), [1.0] * len(wide), [1.0])
    series.base.seed([1.0, 2.0, 3.0])
    series.trend.learn_one(0, 1.0)
    dev = DeviceState("d", "generic", "s")
    dev.series["m"] = series
    dev.stage = READY
    bank = SeriesBank()
    assert bank.admit(dev, profile_for("generic"), DetectionConfig()) is None
    series.model = ConditionModel.none()
    series.drifting = True  # a drifting instrument needs the scalar drift logic
    assert bank.admit(dev, profile_for("generic"), DetectionConfig()) is None
    series.drifting = False
    assert bank.admit(dev, profile_for("generic"), DetectionConfig()) is not None
