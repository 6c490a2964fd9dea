"""The Skoltech Anomaly Benchmark (SKAB) outlier-detection protocol.

Per file, the first 400 rows train and the rest are test rows; the labels of
all test rows of all files are pooled and scored as binary classification:
F1, FAR = FP / (FP + TN) and MAR = FN / (FN + TP), as SKAB's leaderboard does.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prognos.detection.config import DetectionConfig
from prognos.detection.errors import EvaluationError
from prognos.detection.evaluation import changepoint
from prognos.detection.evaluation.nab import parse_time_ns

TRAIN_ROWS = 400
LABEL_COLUMNS = ("anomaly", "changepoint")


@dataclass(frozen=True, slots=True)
class SkabFile:
    """One SKAB experiment: row times, feature rows and labels."""

    path: Path
    times_ns: list[int]
    rows: list[dict[str, float]]
    anomaly: list[bool]
    changepoint: list[bool]


@dataclass(slots=True)
class Confusion:
    """Pooled binary-classification counts."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, predicted: Sequence[bool], actual: Sequence[bool]) -> None:
        if len(predicted) != len(actual):
            raise EvaluationError("predicted and actual labels differ in length")
        for p, a in zip(predicted, actual, strict=True):
            if p and a:
                self.tp += 1
            elif p:
                self.fp += 1
            elif a:
                self.fn += 1
            else:
                self.tn += 1

    def metrics(self) -> dict[str, float]:
        """F1, FAR, MAR, precision and recall as fractions (0 when undefined)."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        far = self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0
        mar = self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0
        return {"f1": f1, "far": far, "mar": mar, "precision": precision, "recall": recall}


def read_file(path: Path) -> SkabFile:
    """A SKAB CSV (``;``-separated, ``datetime`` first, labels last).

    A file without label columns (SKAB's ``anomaly-free.csv``) is normal
    operation throughout: every row is labelled normal, so it measures the
    false-alarm rate.
    """
    try:
        with path.open(newline="") as fh:
            reader = csv.reader(fh, delimiter=";")
            header = next(reader, None)
            body = list(reader)
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read: {exc}") from exc
    if not header or header[0] != "datetime" or len(header) < 2:
        raise EvaluationError(
            f"{path}:1: expected a SKAB header (datetime;<features>[;anomaly;changepoint])"
        )
    features = [c for c in header[1:] if c not in LABEL_COLUMNS]
    idx = {c: i for i, c in enumerate(header)}
    times, rows, anomaly, changepoint = [], [], [], []
    for line_no, raw in enumerate(body, start=2):
        where = f"{path}:{line_no}"
        if len(raw) != len(header):
            raise EvaluationError(f"{where}: {len(raw)} fields, header has {len(header)}")
        times.append(parse_time_ns(raw[0], where))
        try:
            rows.append({c: float(raw[idx[c]]) for c in features})
            anomaly.append(float(raw[idx["anomaly"]]) > 0.5 if "anomaly" in idx else False)
            cp = raw[idx["changepoint"]] if "changepoint" in idx else "0"
            changepoint.append(float(cp) > 0.5)
        except ValueError as exc:
            raise EvaluationError(f"{where}: {exc}") from exc
    if len(rows) <= TRAIN_ROWS:
        raise EvaluationError(f"{path}: {len(rows)} rows, need more than {TRAIN_ROWS}")
    return SkabFile(path, times, rows, anomaly, changepoint)


def collect(paths: Sequence[Path]) -> list[Path]:
    """The CSV files named, directories expanded (sorted), missing ones refused."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.glob("*.csv"))
        elif p.is_file():
            out.append(p)
        else:
            raise EvaluationError(f"{p}: no such file or directory")
    if not out:
        raise EvaluationError("no SKAB CSV files found")
    return out


def evaluate(paths: Sequence[Path], config: DetectionConfig | None = None) -> dict[str, Any]:
    """SKAB's outlier protocol over files (directories expanded): pooled test-row metrics.

    The engine's warm-up is the protocol's 400 training rows; a test row is
    predicted anomalous while an equipment flag is open, and a changepoint is
    detected where a flag opens (scored by SKAB's NAB variant, ``changepoint``).
    """
    from prognos.detection.evaluation.run import open_labels

    files = collect(paths)
    base = config or DetectionConfig()
    cfg = dataclasses.replace(base, warmup_readings=TRAIN_ROWS)
    pooled = Confusion()
    tallies = {name: changepoint.ChangepointTally() for name in changepoint.PROFILES}
    for path in files:
        f = read_file(path)
        labels = open_labels(f.times_ns, f.rows, cfg)
        pooled.add(labels[TRAIN_ROWS:], f.anomaly[TRAIN_ROWS:])
        times = f.times_ns[TRAIN_ROWS:]
        detected = changepoint.rising_edges(times, labels[TRAIN_ROWS:])
        truth = [t for t, cp in zip(times, f.changepoint[TRAIN_ROWS:], strict=True) if cp]
        for name, profile in changepoint.PROFILES.items():
            changepoint.score_file(detected, truth, profile, tallies[name])
    scores = {f"nab_changepoint_{name}": tally.normalised for name, tally in tallies.items()}
    return {**pooled.metrics(), **scores, "files": len(files)}
