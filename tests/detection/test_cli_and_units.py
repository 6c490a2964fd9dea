"""The evaluate CLI, the detectors' docstring examples, profiles and the condition model."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prognos.commands import evaluate
from prognos.detection.condition import ConditionModel
from prognos.detection.detectors import Cusum, RobustZ, TrendFit
from prognos.detection.profiles import DEFAULT_PROFILES, GENERIC_PROFILE

MODULES = ["detectors", "condition", "envelope", "seasonal", "sensor_health", "series", "engine"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"prognos.detection.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """Test root."""

    evaluate.register(root)
    return root


def write_nab(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "f.csv"
    rows = ["timestamp,value"] + [
        f"2014-01-01 {i // 60:02d}:{i % 60:02d}:00,{(i % 7) * 0.1 + (30 if i == 150 else 0)}"
        for i in range(200)
    ]
    data.write_text("\n".join(rows) + "\n")
    windows = tmp_path / "w.json"
    windows.write_text(
        json.dumps({"realKnownCause/f.csv": [["2014-01-01 02:20:00", "2014-01-01 02:40:00"]]})
    )
    det = tmp_path / "det.csv"
    det.write_text("timestamp\n2014-01-01 02:20:00\n2014-01-01 00:45:00\n")
    return data, windows, det


def test_evaluate_nab_json_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    data, windows, det = write_nab(tmp_path)
    args = ["evaluate", "nab", str(data), "--windows", str(windows), "--json"]
    out = CliRunner().invoke(app(), [*args, "--detections", str(det)])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert {
        "nab_standard_raw",
        "nab_standard",
        "nab_low_fp_raw",
        "nab_low_fn_raw",
        "windows",
        "windows_detected",
        "false_positives",
        "lead_time_median_s",
    } <= set(result)
    # One window detected at its first row (+1), one false positive before it (-0.11).
    assert result["nab_standard_raw"] == pytest.approx(1.0 - 0.11)
    assert result["windows_detected"] == 1 and result["false_positives"] == 1
    # Running the engine instead of given detections also yields one JSON object.
    ran = CliRunner().invoke(app(), args)
    assert ran.exit_code == 0 and json.loads(ran.stdout)["windows"] == 1


def test_evaluate_reports_bad_input_with_the_file_and_reason(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        app(), ["evaluate", "nab", str(tmp_path / "none.csv"), "--windows", "w.json"]
    )
    assert out.exit_code == 2 and "none.csv" in out.output
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[detection]\nz_opn = 3\n")
    data, windows, _ = write_nab(tmp_path)
    out = CliRunner().invoke(
        app(), ["evaluate", "nab", str(data), "--windows", str(windows), "--config", str(cfg)]
    )
    assert out.exit_code == 2 and "unknown detection knob" in out.output


def test_every_asset_type_has_a_profile_and_bearing_wear_hypothesis() -> None:
    for asset in ("pump", "motor", "compressor", "spindle", "chiller", "robot_joint"):
        assert asset in DEFAULT_PROFILES
    pump = DEFAULT_PROFILES["pump"]
    assert pump.hypothesis({"vibration_rms_mm_s": 5.0, "bearing_temp_c": 4.0})[0] == "bearing_wear"
    assert pump.hypothesis({"vibration_rms_mm_s": 5.0})[0] == "imbalance"
    assert (
        pump.hypothesis(
            {"flow_m3_h": -6.0, "suction_pressure_bar": -3.0, "power_kw": -4.0, "current_a": -4.0}
        )[0]
        == "clogged_filter"
    )
    # Moving the wrong way does not match.
    assert pump.hypothesis({"vibration_rms_mm_s": -5.0})[0] == "unknown"
    assert pump.spec("vibration_rms_mm_s").limit_level(5.0) == 1
    assert pump.spec("vibration_rms_mm_s").limit_level(8.0) == 2
    assert not pump.scored("speed_rpm") and pump.scored("vibration_rms_mm_s")
    assert GENERIC_PROFILE.scored("anything")


def test_detector_state_round_trips() -> None:
    z = RobustZ(100)
    z.seed([1.0, 2.0, 3.0, 2.5, 1.5])
    c, t = Cusum(), TrendFit()
    for i in range(30):
        z.learn_one(i, 2.0 + 0.01 * i)
        c.score_one(i, 1.0)
        t.learn_one(i * 60_000_000_000, float(i))
    for det in (z, c, t):
        again = type(det).from_dict(json.loads(json.dumps(det.to_dict())))
        assert again.to_dict() == det.to_dict()


def test_condition_model_keeps_learning_from_calm_readings() -> None:
    rows = [{"load": float(i % 10)} for i in range(100)]
    model = ConditionModel.fit(["load"], rows, [2.0 * r["load"] for r in rows])
    before = model.expected({"load": 9.0}) - model.expected({"load": 0.0})
    for i in range(3000):
        load = float(i % 10)
        model.learn({"load": load}, 3.0 * load, forget=0.01)
    after = model.expected({"load": 9.0}) - model.expected({"load": 0.0})
    assert before == pytest.approx(18.0, rel=0.05)
    assert after == pytest.approx(27.0, rel=0.05)
