"""DetectionEngine on the project's own device simulator (pump bearing wear, healthy fleet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from prognos.detection.engine import DetectionEngine
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading

sim_engine = pytest.importorskip("prognos.simulators.engine", reason="simulators not available")
sim_fleet = pytest.importorskip("prognos.simulators.fleet", reason="simulators not available")
sim_kinds = pytest.importorskip("prognos.simulators.kinds", reason="simulators not available")

START = datetime(2026, 1, 5, tzinfo=UTC)


def simulated_flags(
    devices: list[tuple[str, str]], faults: list, days: float, seed: int
) -> list[Flag]:
    f = sim_fleet
    fleet = f.Fleet(
        (f.Customer("c1", "Customer"),),
        (f.Site("s1", "Site", "c1"),),
        tuple(f.Device(dev, asset, "s1") for dev, asset in devices),
        tuple(faults),
    )
    kinds = dict(devices)
    engine = DetectionEngine()
    flags: list[Flag] = []
    for m in sim_engine.simulate(fleet, START, days * 86400, 60.0, seed):
        payload = orjson.loads(m.payload)
        flags += engine.process(
            Reading(m.device, kinds[m.device], "s1", m.ts_ns, payload["metrics"])
        )
    return flags


@pytest.mark.parametrize("seed", [1, 2])
def test_simulated_pump_bearing_wear_is_flagged_once_and_early(seed: int) -> None:
    onset = START + timedelta(hours=13)
    failure = onset + timedelta(hours=36 + 12 * seed)
    fault = sim_fleet.Fault("pump-f", "bearing_wear", onset, failure, sim_kinds.Shape.EXPONENTIAL)
    days = (failure - START).total_seconds() / 86400
    flags = simulated_flags([("pump-f", "pump"), ("pump-h", "pump")], [fault], days, seed)
    eq = [f for f in flags if f.kind is FlagKind.EQUIPMENT]
    assert [f for f in eq if f.device == "pump-h"] == []
    opened = [f for f in eq if f.state is FlagState.OPENED]
    assert len(opened) == 1
    flag = opened[0]
    assert flag.device == "pump-f" and flag.failure_mode == "bearing_wear"
    span_ns = (failure - onset).total_seconds() * 1e9
    lead_ns = failure.timestamp() * 1e9 - flag.opened_ns
    assert lead_ns / span_ns >= 0.5
    assert not [
        f for f in eq if f.state is FlagState.CLEARED and f.updated_ns < failure.timestamp() * 1e9
    ]


def test_simulated_healthy_pumps_stay_quiet_for_days() -> None:
    flags = simulated_flags([(f"pump-{i}", "pump") for i in range(3)], [], 5.0, 7)
    assert [f for f in flags if f.kind is FlagKind.EQUIPMENT] == []


def test_evaluate_sim_command_scores_simulator_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from prognos.commands import evaluate

    jsonl = pytest.importorskip("prognos.simulators.jsonl")
    truth_mod = pytest.importorskip("prognos.simulators.truth")
    f = sim_fleet
    onset = START + timedelta(hours=13)
    failure = START + timedelta(hours=40)
    fleet = f.Fleet(
        (f.Customer("c1", "Customer"),),
        (f.Site("s1", "Site", "c1"),),
        (f.Device("pump-a", "pump", "s1"), f.Device("pump-b", "pump", "s1")),
        (f.Fault("pump-a", "bearing_wear", onset, failure, sim_kinds.Shape.EXPONENTIAL),),
    )
    tele, truth = tmp_path / "t.jsonl", tmp_path / "truth.jsonl"
    jsonl.write_messages(sim_engine.simulate(fleet, START, 41 * 3600, 60.0, 5), tele)
    truth_mod.write_truth(truth_mod.ground_truth(fleet, START, 41 * 3600), truth)
    app = typer_app(evaluate)
    out = CliRunner().invoke(
        app, ["evaluate", "sim", "--telemetry", str(tele), "--truth", str(truth), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert "scoring telemetry: 100%" in out.stderr  # progress goes to stderr, JSON to stdout
    result = json.loads(out.stdout)
    for key in (
        "faults",
        "recall_before_failure",
        "lead_time_median_s",
        "lead_fraction_median",
        "false_flags_per_100_device_days",
        "sensor_fault_accuracy",
    ):
        assert key in result
    assert result["faults"] == 1 and result["recall_before_failure"] == 1.0
    assert result["false_flags_per_100_device_days"] == 0.0


def typer_app(evaluate):  # type: ignore[no-untyped-def]
    import typer

    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """Test root."""

    evaluate.register(root)
    return root
