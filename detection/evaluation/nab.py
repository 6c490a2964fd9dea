"""The Numenta Anomaly Benchmark (NAB) scorer, reproducing NAB's own numbers.

NAB rewards the earliest detection inside each labelled anomaly window with
a scaled sigmoid of its position (earlier is better), charges each missed
window ``fn_weight`` and each detection outside windows ``fp_weight`` times a
sigmoid of its distance after the previous window. Rows in the probationary
period (the first ``min(floor(0.15 n), 750)``) are not scored.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prognos.detection.config import DetectionConfig
from prognos.detection.errors import EvaluationError


@dataclass(frozen=True, slots=True)
class NabProfile:
    """Weights of one NAB application profile (NAB's config/profiles.json)."""

    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: dict[str, NabProfile] = {
    "standard": NabProfile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": NabProfile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": NabProfile(1.0, 0.11, 2.0),
}

PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 750


@dataclass(frozen=True, slots=True)
class NabScore:
    """The outcome of scoring one file's detections under one profile."""

    raw: float
    null: float
    perfect: float
    windows: int
    windows_detected: int
    false_positives: int
    lead_times_s: list[float] = field(default_factory=list)

    @property
    def normalised(self) -> float:
        """NAB's 0-100 score: 100 (raw - null) / (perfect - null)."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span else 0.0


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: +1 well before the window end, -1 far after it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Rows at the start of a file that NAB does not score."""
    return min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_MAX_ROWS)


def score(
    timestamps_ns: Sequence[int],
    windows_ns: Sequence[tuple[int, int]],
    detections_ns: Sequence[int],
    profile: NabProfile,
) -> NabScore:
    """Score detection times against anomaly windows over a file's row timestamps.

    Detections are placed on the first row at or after their time; windows
    cover the rows from the first at or after their start to the last at or
    before their end. Windows with no row after the probationary period are
    ignored, as NAB does.
    """
    ts = list(timestamps_ns)
    n = len(ts)
    if n == 0:
        raise EvaluationError("the data file has no rows")
    probation = probation_rows(n)
    spans: list[tuple[int, int]] = []
    for start_ns, end_ns in sorted(windows_ns):
        span = _rows_of_window(ts, start_ns, end_ns)
        if span is not None and span[1] >= probation:
            spans.append(span)
    rows = sorted({r for r in _rows_of_detections(ts, detections_ns) if r >= probation})
    best: dict[int, float] = {}
    first_row: dict[int, int] = {}
    fp_total, fp_count = 0.0, 0
    for row in rows:
        k = _window_of(spans, row)
        if k is not None:
            lo, hi = spans[k]
            width = hi - lo + 1
            tp = scaled_sigmoid(-(hi - row + 1) / width) * profile.tp_weight / scaled_sigmoid(-1.0)
            if tp > best.get(k, -math.inf):
                best[k], first_row[k] = tp, row
            continue
        prev = _previous_window(spans, row)
        if prev is None:
            unweighted = -1.0
        else:
            lo, hi = spans[prev]
            width = hi - lo + 1
            unweighted = scaled_sigmoid(abs(hi - row) / float(width - 1)) if width > 1 else -1.0
        fp_total += unweighted * profile.fp_weight
        fp_count += 1
    missed = len(spans) - len(best)
    raw = sum(best.values()) + fp_total - missed * profile.fn_weight
    leads = [(ts[spans[k][1]] - ts[row]) / 1e9 for k, row in sorted(first_row.items())]
    return NabScore(
        raw=raw,
        null=-profile.fn_weight * len(spans),
        perfect=profile.tp_weight * len(spans),
        windows=len(spans),
        windows_detected=len(best),
        false_positives=fp_count,
        lead_times_s=leads,
    )


def _rows_of_window(ts: Sequence[int], start_ns: int, end_ns: int) -> tuple[int, int] | None:
    """Rows of a window in file order (real files have a few out-of-order rows).

    The window opens at the first row at or after its start and closes at the
    first later row stamped with its end (else the last row before it).
    """
    lo = next((i for i, t in enumerate(ts) if t >= start_ns), None)
    if lo is None:
        return None
    hi = None
    for i in range(lo, len(ts)):
        if ts[i] == end_ns:
            return lo, i
        if ts[i] > end_ns:
            break
        hi = i
    return None if hi is None else (lo, hi)


def _rows_of_detections(ts: Sequence[int], detections_ns: Sequence[int]) -> set[int]:
    """Rows detected: the first row stamped with each detection time (else the next row)."""
    first: dict[int, int] = {}
    for i, t in enumerate(ts):
        first.setdefault(t, i)
    ordered = sorted(first)
    rows = set()
    for d in detections_ns:
        if d in first:
            rows.add(first[d])
            continue
        k = bisect_left(ordered, d)
        if k < len(ordered):
            rows.add(first[ordered[k]])
    return rows


def _window_of(spans: Sequence[tuple[int, int]], row: int) -> int | None:
    for k, (lo, hi) in enumerate(spans):
        if lo <= row <= hi:
            return k
    return None


def _previous_window(spans: Sequence[tuple[int, int]], row: int) -> int | None:
    prev = None
    for k, (_, hi) in enumerate(spans):
        if hi < row:
            prev = k
    return prev


def parse_time_ns(text: str, where: str) -> int:
    """A NAB timestamp (``YYYY-MM-DD HH:MM:SS[.ffffff]``, UTC) as epoch ns."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise EvaluationError(f"{where}: {text!r} is not a timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1e6) * 1000


def read_series(path: Path) -> tuple[list[int], list[float]]:
    """A NAB data file (``timestamp,value``) as row timestamps (ns) and values."""
    times: list[int] = []
    values: list[float] = []
    for line_no, row in _csv_rows(path, ("timestamp", "value")):
        where = f"{path}:{line_no}"
        times.append(parse_time_ns(row["timestamp"], where))
        try:
            value = float(row["value"])
        except ValueError as exc:
            raise EvaluationError(f"{where}: value {row['value']!r} is not a number") from exc
        values.append(value)
    if not times:
        raise EvaluationError(f"{path}: no data rows")
    return times, values


def read_detections(path: Path) -> list[int]:
    """Detection times from a CSV with a ``timestamp`` column."""
    return [
        parse_time_ns(row["timestamp"], f"{path}:{line_no}")
        for line_no, row in _csv_rows(path, ("timestamp",))
    ]


def read_windows(path: Path, data_file: str) -> list[tuple[int, int]]:
    """The windows of ``data_file`` from a NAB windows JSON.

    Keys may be bare file names or NAB paths such as ``realKnownCause/<file>``.
    """
    try:
        table = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{path}: cannot read windows JSON: {exc}") from exc
    if not isinstance(table, dict):
        raise EvaluationError(f"{path}: expected an object of file name -> windows")
    name = Path(data_file).name
    matches = [k for k in table if Path(k).name == name]
    if not matches:
        raise EvaluationError(f"{path}: no windows for {name} (keys: {', '.join(table)})")
    windows = []
    for i, pair in enumerate(table[matches[0]]):
        where = f"{path}: {matches[0]} window {i}"
        if not isinstance(pair, list) or len(pair) != 2:
            raise EvaluationError(f"{where} must be [start, end]")
        start, end = (parse_time_ns(str(p), where) for p in pair)
        if end < start:
            raise EvaluationError(f"{where} ends before it starts")
        windows.append((start, end))
    return windows


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise EvaluationError(f"{path}:1: missing column(s) {', '.join(missing)}")
            return [(i + 2, row) for i, row in enumerate(reader)]
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read: {exc}") from exc


def evaluate(
    data: Path,
    windows: Path,
    detections: Path | None = None,
    config: DetectionConfig | None = None,
) -> dict[str, Any]:
    """Score a NAB file: the engine's detections, or those given in ``detections``.

    The engine learns during NAB's probationary period (its warm-up), as NAB
    intends, and each equipment flag it opens is one detection.
    """
    from prognos.detection.evaluation.run import opened_times

    times, values = read_series(data)
    spans = read_windows(windows, data.name)
    if detections is not None:
        found = read_detections(detections)
    else:
        base = config or DetectionConfig()
        cfg = dataclasses.replace(base, warmup_readings=probation_rows(len(times)))
        found = opened_times(times, [{"value": v} for v in values], cfg)
    standard = score(times, spans, found, PROFILES["standard"])
    low_fp = score(times, spans, found, PROFILES["reward_low_FP_rate"])
    low_fn = score(times, spans, found, PROFILES["reward_low_FN_rate"])
    leads = standard.lead_times_s
    return {
        "file": data.name,
        "nab_standard_raw": standard.raw,
        "nab_standard": standard.normalised,
        "nab_low_fp_raw": low_fp.raw,
        "nab_low_fn_raw": low_fn.raw,
        "windows": standard.windows,
        "windows_detected": standard.windows_detected,
        "false_positives": standard.false_positives,
        "lead_time_median_s": statistics.median(leads) if leads else None,
    }
