"""``prognos evaluate``: score the detectors on NAB, SKAB and simulated fleets.

Each command prints a small table, or with ``--json`` exactly one JSON object
on stdout. Bad input ends with a one-line message naming the file and why.
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from prognos.detection.config import DetectionConfig
from prognos.detection.errors import DetectionError

evaluate_app = typer.Typer(
    help="Score the default detector configuration (or a given one) on labelled data.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file with detection knobs (top level or a [detection] table).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` sub-command group to the main application."""
    app.add_typer(evaluate_app, name="evaluate")


def _config(path: Path | None) -> DetectionConfig | None:
    if path is None:
        return None
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DetectionError(f"{path}: cannot read detection config: {exc}") from exc
    return DetectionConfig.from_mapping(table.get("detection", table))


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, allow_nan=False, default=_finite))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        typer.echo(f"{key:<{width}}  {shown}")


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON-serialisable: {value!r}")


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"prognos evaluate: {exc}", err=True)
    return typer.Exit(code=2)


@evaluate_app.command("nab")
def nab_command(
    data: Annotated[Path, typer.Argument(help="NAB data file (timestamp,value).")],
    windows: Annotated[Path, typer.Option(help="NAB windows JSON (file name -> windows).")],
    detections: Annotated[
        Path | None,
        typer.Option(help="CSV with a timestamp column: score these instead of running."),
    ] = None,
    config: ConfigFile = None,
    as_json: JsonFlag = False,
) -> None:
    """NAB scores (standard, low-FP, low-FN) of one data file."""
    from prognos.detection.evaluation import nab

    try:
        result = nab.evaluate(data, windows, detections, _config(config))
    except DetectionError as exc:
        raise _fail(exc) from None
    _emit(result, as_json)


@evaluate_app.command("skab")
def skab_command(
    paths: Annotated[list[Path], typer.Argument(help="SKAB CSV files or directories.")],
    config: ConfigFile = None,
    as_json: JsonFlag = False,
) -> None:
    """SKAB outlier protocol (400 training rows per file; test rows pooled)."""
    from prognos.detection.evaluation import skab

    try:
        result = skab.evaluate(paths, _config(config))
    except DetectionError as exc:
        raise _fail(exc) from None
    _emit(result, as_json)


@evaluate_app.command("sim")
def sim_command(
    telemetry: Annotated[Path, typer.Option(help="Telemetry JSON lines (simulate --out).")],
    truth: Annotated[Path, typer.Option(help="Ground truth JSON lines (simulate --truth).")],
    config: ConfigFile = None,
    as_json: JsonFlag = False,
    progress: Annotated[bool, typer.Option(help="Show a progress line on stderr.")] = True,
) -> None:
    """Fleet metrics against the simulator's ground truth."""
    from prognos.detection.evaluation import sim

    try:
        records = sim.read_truth(truth)
        outcome = sim.run_engine(telemetry, _config(config), _show_progress if progress else None)
        result = sim.score(outcome.flags, records)
    except DetectionError as exc:
        raise _fail(exc) from None
    result["readings"] = outcome.readings
    result["skipped_lines"] = outcome.skipped_lines
    _emit(result, as_json)


def _show_progress(done: int, total: int) -> None:
    """One self-overwriting line on stderr: how much of the telemetry is scored."""
    sys.stderr.write(f"\rscoring telemetry: {100 * done / max(total, 1):.0f}%")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
