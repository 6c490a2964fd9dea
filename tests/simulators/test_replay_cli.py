"""Replay of NAB, SKAB and generic CSV files, and the simulate/replay commands end to end."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from prognos.commands.simulate import register
from prognos.simulators.errors import ReplayError
from prognos.simulators.jsonl import read_messages
from prognos.simulators.replay import read_dataset, replay_messages
from prognos.simulators.truth import read_truth

NAB = "timestamp,value\n2014-04-01 00:00:00,73.5\n2014-04-01 00:05:00,74.25\n"
SKAB = (
    "datetime;Accelerometer1RMS;Volume Flow RateRMS;anomaly;changepoint\n"
    "2020-03-09 10:14:33;0.0265;32.0;0.0;0.0\n"
    "2020-03-09 10:14:34;0.0261;;1.0;0.0\n"
)
GENERIC = "when,temp,press\n1700000000,20.5,1.25\n1700000060,20.75,1.5\n"


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)

    @application.command()
    def version() -> None:
        """Placeholder so the test app has several commands, like the real one."""

    return application


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_nab_skab_and_generic_csv_are_read(tmp_path: Path) -> None:
    nab = list(read_dataset(_write(tmp_path, "nab.csv", NAB), value_metric="machine_temp_c"))
    assert [r.metrics for r in nab] == [{"machine_temp_c": 73.5}, {"machine_temp_c": 74.25}]
    assert nab[1].ts_ns - nab[0].ts_ns == 300 * 10**9
    skab = list(read_dataset(_write(tmp_path, "skab.csv", SKAB)))
    assert skab[0].metrics == {"accelerometer1rms": 0.0265, "volume_flow_raterms": 32.0}
    assert skab[1].metrics == {"accelerometer1rms": 0.0261}  # empty cell left out, labels dropped
    generic = list(read_dataset(_write(tmp_path, "g.csv", GENERIC), timestamp_column="when"))
    assert generic[0].ts_ns == 1_700_000_000 * 10**9 and generic[1].metrics["press"] == 1.5
    messages = list(replay_messages(iter(generic), "tank-1", "pump", "lab", start_ns=10**18))
    assert messages[0].topic == "prognos/lab/pump/tank-1/telemetry"
    assert [m.ts_ns for m in messages] == [10**18, 10**18 + 60 * 10**9]
    assert orjson.loads(messages[0].payload) == {
        "ts": 10**12,
        "metrics": {"temp": 20.5, "press": 1.25},
    }


@pytest.mark.parametrize(
    ("text", "kwargs", "words"),
    [
        (GENERIC, {}, "no timestamp column"),
        (GENERIC, {"timestamp_column": "clock"}, "no column 'clock'"),
        (
            "timestamp,value\n2014-04-01 00:00:00,hot\n",
            {},
            ":2: column 'value': 'hot' is not a number",
        ),
        ("timestamp,value\nyesterday,1.0\n", {}, ":2: column 'timestamp'"),
        ("", {}, "empty"),
        ("timestamp,value\n2014-04-01 00:00:00\n", {}, ":2: expected 2 columns"),
    ],
)
def test_bad_datasets_are_clear_errors(tmp_path: Path, text: str, kwargs: dict, words: str) -> None:
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(ReplayError, match=words):
        list(read_dataset(path, **kwargs))


def test_simulate_out_is_reproducible_and_truth_is_written(app, tmp_path: Path) -> None:
    runner = CliRunner()
    # The same clock, seed and transport faults for the quick fleet and its fleet file.
    timing = [
        "--duration",
        "2d",
        "--step",
        "5m",
        "--seed",
        "7",
        "--start",
        "2026-02-02T00:00:00Z",
        "--late",
        "0.01",
        "--malformed",
        "0.01",
        "--no-progress",
    ]
    args = ["simulate", "--devices", "6", "--mix", "pump=0.5,chiller=0.5", "--faults", "0.5"]
    args += timing
    first = runner.invoke(
        app,
        [
            *args,
            "--out",
            str(tmp_path / "a.jsonl"),
            "--truth",
            str(tmp_path / "t.jsonl"),
            "--write-fleet",
            str(tmp_path / "f.yaml"),
        ],
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "b.jsonl")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    lines = (tmp_path / "a.jsonl").read_bytes().splitlines()
    assert len(lines) == 6 * 576
    assert set(orjson.loads(lines[0])) == {"topic", "payload"}
    messages = list(read_messages(tmp_path / "a.jsonl"))
    assert {m.device for m in messages} == {r["device"] for r in read_truth(tmp_path / "t.jsonl")}
    assert sum(1 for r in read_truth(tmp_path / "t.jsonl") if r["mode"]) == 3
    from_file = runner.invoke(
        app,
        ["simulate", str(tmp_path / "f.yaml"), *timing, "--out", str(tmp_path / "c.jsonl")],
    )
    assert from_file.exit_code == 0, from_file.output
    assert (tmp_path / "c.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_commands_report_bad_input_without_a_traceback(app, tmp_path: Path) -> None:
    runner = CliRunner()
    bad_fleet = _write(tmp_path, "f.yaml", "customers: []\nsites: []\ndevices:\n  - {id: x}\n")
    result = runner.invoke(app, ["simulate", str(bad_fleet), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert f"{bad_fleet}:4: device.asset_type: missing" in result.output
    result = runner.invoke(app, ["simulate", "--duration", "ten days"])
    assert result.exit_code == 2 and "duration 'ten days'" in result.output
    out = tmp_path / "x.jsonl"
    result = runner.invoke(app, ["simulate", "--mix", "toaster=1", "--out", str(out)])
    assert result.exit_code == 2 and "toaster" in result.output
    result = runner.invoke(app, ["replay", str(tmp_path / "absent.csv"), "--out", str(out)])
    assert result.exit_code == 2 and "cannot read the dataset" in result.output
    # A failed run leaves no output behind, not even an empty or partial file.
    assert not out.exists() and not list(tmp_path.glob("x.jsonl*"))
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_replay_command_writes_a_device_stream(app, tmp_path: Path) -> None:
    path = _write(tmp_path, "skab.csv", SKAB)
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(path),
            "--device",
            "valve-1",
            "--asset-type",
            "pump",
            "--site",
            "skab",
            "--start",
            "2026-01-01T00:00:00Z",
            "--out",
            str(tmp_path / "r.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    messages = list(read_messages(tmp_path / "r.jsonl"))
    assert [m.device for m in messages] == ["valve-1", "valve-1"]
    assert messages[0].ts_ns == 1_767_225_600 * 10**9
