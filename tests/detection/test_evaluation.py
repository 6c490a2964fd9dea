"""The scorers: NAB (hand-computed and NAB's own published results), SKAB and simulated truth."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pytest

from prognos.detection.errors import EvaluationError
from prognos.detection.evaluation import nab, sim, skab
from prognos.detection.flags import Flag, FlagKind, FlagState, Severity

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
NAB_DIR = DATASETS / "nab"
SKAB_DIR = DATASETS / "skab"
STD = nab.PROFILES["standard"]
ROWS = list(range(100))  # timestamps = row numbers; probation = 15 rows
WINDOW = [(40, 49)]  # ten rows wide


def ss(x: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def test_earliest_detection_in_a_window_scores_the_full_tp_weight() -> None:
    s = nab.score(ROWS, WINDOW, [40, 45], STD)
    assert s.raw == pytest.approx(1.0)
    assert (s.windows, s.windows_detected, s.false_positives) == (1, 1, 0)
    assert s.normalised == pytest.approx(100.0)


def test_late_detection_scores_the_sigmoid_of_its_position() -> None:
    s = nab.score(ROWS, WINDOW, [49], STD)
    assert s.raw == pytest.approx(ss(-0.1) / ss(-1.0))  # 0.24825...
    assert s.raw == pytest.approx(0.248242, abs=1e-6)


def test_missed_window_and_false_positives() -> None:
    assert nab.score(ROWS, WINDOW, [], STD).raw == pytest.approx(-1.0)
    assert nab.score(ROWS, WINDOW, [], STD).normalised == pytest.approx(0.0)
    # Before any window: a full-weight false positive.
    assert nab.score(ROWS, WINDOW, [20], STD).raw == pytest.approx(-1.0 - 0.11)
    # After the window: the sigmoid of the distance in window widths (less one row).
    after = nab.score(ROWS, WINDOW, [40, 59], STD)
    assert after.raw == pytest.approx(1.0 + 0.11 * ss(10 / 9))
    assert after.false_positives == 1
    # Far after: capped at -1 x fp weight.
    assert nab.score(ROWS, WINDOW, [40, 95], STD).raw == pytest.approx(1.0 - 0.11)


def test_probationary_rows_are_not_scored() -> None:
    assert nab.probation_rows(100) == 15 and nab.probation_rows(100_000) == 750
    assert nab.score(ROWS, WINDOW, [5], STD).raw == pytest.approx(-1.0)
    # A window wholly inside the probationary period is ignored.
    s = nab.score(ROWS, [(2, 8), *WINDOW], [40], STD)
    assert s.windows == 1 and s.raw == pytest.approx(1.0)


def test_profiles_weigh_misses_and_false_alarms_differently() -> None:
    low_fn = nab.score(ROWS, WINDOW, [20], nab.PROFILES["reward_low_FN_rate"])
    low_fp = nab.score(ROWS, WINDOW, [20], nab.PROFILES["reward_low_FP_rate"])
    assert low_fn.raw == pytest.approx(-2.0 - 0.11)
    assert low_fp.raw == pytest.approx(-1.0 - 0.22)


def test_windows_json_accepts_nab_paths_and_refuses_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"realKnownCause/a.csv": [["2014-01-01 00:00:00", "2014-01-02"]]}))
    assert len(nab.read_windows(path, "a.csv")) == 1
    with pytest.raises(EvaluationError, match=r"no windows for b\.csv"):
        nab.read_windows(path, "b.csv")
    path.write_text(json.dumps({"a.csv": [["2014-01-02", "2014-01-01"]]}))
    with pytest.raises(EvaluationError, match="ends before it starts"):
        nab.read_windows(path, "a.csv")
    data = tmp_path / "a.csv"
    data.write_text("timestamp,value\n2014-01-01 00:00:00,1.0\n2014-01-01 00:05:00,oops\n")
    with pytest.raises(EvaluationError, match=r"a\.csv:3: value 'oops' is not a number"):
        nab.read_series(data)


@pytest.mark.skipif(not (NAB_DIR / "scorer-check").is_dir(), reason="NAB data absent")
def test_scorer_reproduces_nab_published_scores() -> None:
    expected = json.loads((NAB_DIR / "scorer-check" / "expected.json").read_text())
    assert expected
    for name, case in expected.items():
        times, _ = nab.read_series(NAB_DIR / case["data_file"])
        windows = nab.read_windows(NAB_DIR / "windows.json", case["data_file"])
        found = nab.read_detections(NAB_DIR / "scorer-check" / name)
        raw = nab.score(times, windows, found, STD).raw
        assert raw == pytest.approx(case["expected_raw_standard_score"], abs=1e-6), name


def test_skab_confusion_metrics_by_hand() -> None:
    c = skab.Confusion()
    c.add([True, True, False, False, True], [True, False, False, True, True])
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 1, 1, 1)
    m = c.metrics()
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["far"] == pytest.approx(0.5) and m["mar"] == pytest.approx(1 / 3)
    with pytest.raises(EvaluationError):
        c.add([True], [])


def test_skab_reader_refuses_a_file_without_its_header(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a;b\n1;2\n")
    with pytest.raises(EvaluationError, match=r"x\.csv:1: expected a SKAB header"):
        skab.read_file(bad)
    with pytest.raises(EvaluationError, match="no such file"):
        skab.collect([tmp_path / "missing"])


def test_skab_file_without_labels_is_normal_operation(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = ["datetime;flow;pressure"]
    for i in range(600):
        shift = 40.0 if i >= 500 else 0.0  # an excursion that is not labelled
        lines.append(
            f"2020-02-08 13:{i // 60:02d}:{i % 60:02d};"
            f"{120 + rng.gauss(0, 1) + shift:.3f};{0.4 + rng.gauss(0, 0.01):.4f}"
        )
    path = tmp_path / "anomaly-free.csv"
    path.write_text("\n".join(lines) + "\n")
    f = skab.read_file(path)
    assert not any(f.anomaly) and not any(f.changepoint)
    result = skab.evaluate([path])
    # Every flagged row is a false alarm; nothing can be missed.
    assert result["far"] > 0.0 and result["mar"] == 0.0 and result["recall"] == 0.0


@pytest.mark.skipif(not (SKAB_DIR / "valve1").is_dir(), reason="SKAB data absent")
def test_skab_protocol_runs_on_one_file() -> None:
    result = skab.evaluate([SKAB_DIR / "valve1" / "1.csv"])
    assert result["files"] == 1
    assert 0.0 <= result["far"] <= 1.0 and 0.0 <= result["mar"] <= 1.0
    # Changepoint scores are normalised so that detecting nothing scores 0 and
    # detecting every changepoint at once scores 100.
    assert result["nab_changepoint_standard"] <= 100.0
    assert result["nab_changepoint_low_fn"] <= 100.0


def _flag(device: str, kind: FlagKind, opened_ns: int, metric: str = "m", mode: str = "x") -> Flag:
    return Flag(
        flag_id=f"{device}:{opened_ns}",
        device=device,
        asset_type="pump",
        site="s",
        kind=kind,
        state=FlagState.OPENED,
        detector="d",
        metrics=(metric,),
        failure_mode=mode,
        score=5.0,
        severity=Severity.LOW,
        opened_ns=opened_ns,
        updated_ns=opened_ns,
        window_start_ns=opened_ns,
        window_end_ns=opened_ns,
    )


def test_sim_scoring_by_hand() -> None:
    day = sim.DAY_NS
    truth = [
        {
            "device": "a",
            "faults": [{"mode": "bearing_wear", "onset_ns": 2 * day, "failure_ns": 4 * day}],
            "sensor_faults": [],
            "window_start_ns": 0,
            "window_end_ns": 10 * day,
        },
        {
            "device": "b",
            "faults": [],
            "window_start_ns": 0,
            "window_end_ns": 10 * day,
            "sensor_faults": [{"metric": "t", "kind": "stuck", "start_ns": day, "end_ns": 2 * day}],
        },
    ]
    flags = [
        _flag("a", FlagKind.EQUIPMENT, 3 * day, mode="imbalance"),  # lead 1 day of a 2-day span
        _flag("b", FlagKind.SENSOR, day + 10, "t", mode="stuck"),
        _flag("b", FlagKind.EQUIPMENT, 6 * day),  # false: b is healthy
    ]
    result = sim.score(flags, truth)
    assert result["faults"] == 1 and result["recall_before_failure"] == 1.0
    assert result["lead_time_median_s"] == pytest.approx(86_400)
    assert result["lead_fraction_median"] == pytest.approx(0.5)
    assert result["false_flags_per_100_device_days"] == pytest.approx(100 * 1 / 20)
    assert result["sensor_fault_accuracy"] == 1.0
    assert result["failure_mode_accuracy"] == 0.0  # imbalance is not bearing_wear
    right_mode = [_flag("a", FlagKind.EQUIPMENT, 3 * day, mode="bearing_wear"), *flags[1:]]
    assert sim.score(right_mode, truth)["failure_mode_accuracy"] == 1.0
    # A sensor flag of the wrong kind on the right metric was flagged, but not right.
    wrong_kind = [_flag("b", FlagKind.SENSOR, day + 10, "t", mode="drift")]
    assert sim.score(wrong_kind, truth)["sensor_fault_accuracy"] == 0.0
    assert sim.score(wrong_kind, truth)["sensor_fault_flagged"] == 1.0
    # ... and one that turns to the right kind while the fault lasts is right.
    turned = dataclasses.replace(wrong_kind[0], state=FlagState.UPDATED, updated_ns=day + 99)
    turned = dataclasses.replace(turned, failure_mode="stuck")
    assert sim.score([*wrong_kind, turned], truth)["sensor_fault_accuracy"] == 1.0
    # The same sensor fault blamed on the equipment is not handled.
    wrong = [_flag("b", FlagKind.EQUIPMENT, day + 20)]
    assert sim.score(wrong, truth)["sensor_fault_accuracy"] == 0.0
    assert sim.score(wrong, truth)["recall_before_failure"] == 0.0


@pytest.mark.skipif(not (NAB_DIR / "windows.json").is_file(), reason="NAB data absent")
@pytest.mark.parametrize(
    ("data_file", "floor"),
    [
        # The best published detectors score 2.56 (ARTime) and 2.04 here.
        ("machine_temperature_system_failure.csv", 2.56),
        ("ec2_request_latency_system_failure.csv", 2.04),
    ],
)
def test_default_detector_keeps_its_nab_level(data_file: str, floor: float) -> None:
    result = nab.evaluate(NAB_DIR / data_file, NAB_DIR / "windows.json")
    assert result["nab_standard_raw"] > floor, result
    assert result["windows_detected"] == result["windows"]  # the catastrophic failure too


def test_sim_telemetry_reader_skips_what_the_ingester_would_refuse(tmp_path: Path) -> None:
    topic = "prognos/s1/pump/p1/telemetry"
    good = {"ts": 1_767_225_600_000, "metrics": {"flow_m3_h": 12.5}}
    lines = [
        {"topic": topic, "payload": json.dumps(good)},
        {"topic": topic, "payload": "[1, 2, 3]"},  # JSON, but not an object
        {"topic": topic, "payload": json.dumps({"metrics": {"flow_m3_h": 1.0}})},  # no ts
        {"topic": topic, "payload": json.dumps({"ts": 1, "metrics": {"flow_m3_h": "high"}})},
        {"topic": "prognos/s1/pump", "payload": json.dumps(good)},  # not the topic scheme
        {"topic": topic, "payload_b64": "not base64!"},
    ]
    path = tmp_path / "tele.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    read = list(sim.read_telemetry(path))
    assert read[0] is not None and read[0].device == "p1" and read[0].metrics == {"flow_m3_h": 12.5}
    assert read[0].ts_ns == 1_767_225_600_000 * 1_000_000
    assert read[1:] == [None] * 5
