"""Replay of recorded datasets as if a device were publishing them.

Reads the NAB format (``timestamp,value``), the SKAB format (``;``-separated,
``datetime`` plus sensor columns) and any CSV with a timestamp column, and
turns each row into a telemetry message of one named device.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prognos.ingest.contract import ContractError, encode_reading, parse_ts_ns, topic_for
from prognos.simulators.engine import Message
from prognos.simulators.errors import ReplayError

log = logging.getLogger(__name__)

FORMATS = ("auto", "nab", "skab", "csv")
#: Label columns of labelled datasets: ground truth, not telemetry.
LABEL_COLUMNS = frozenset({"anomaly", "changepoint", "label", "is_anomaly"})
_TIME_NAMES = ("timestamp", "datetime", "time", "ts", "date")


@dataclass(frozen=True, slots=True)
class Row:
    """One recorded sample: its time in epoch ns and its metric values."""

    ts_ns: int
    metrics: dict[str, float]


def metric_name(column: str) -> str:
    """A metric name from a column header (``Volume Flow RateRMS`` -> ``volume_flow_raterms``)."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", column.strip()).strip("_").lower()
    return name or "value"


def read_dataset(
    path: Path,
    fmt: str = "auto",
    timestamp_column: str | None = None,
    value_metric: str = "value",
    delimiter: str | None = None,
) -> Iterator[Row]:
    """Rows of a recorded dataset; a ``ReplayError`` names file, line and column on bad input."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ReplayError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read the dataset: {exc.strerror or exc}") from None
    with handle:
        header_line = handle.readline()
        if not header_line.strip():
            raise ReplayError(f"{path}:1: the file is empty; expected a header row")
        sep = delimiter or (
            ";" if fmt == "skab" or header_line.count(";") > header_line.count(",") else ","
        )
        header = next(csv.reader([header_line], delimiter=sep))
        time_col = _time_column(path, header, fmt, timestamp_column)
        names = {
            i: metric_name(col)
            for i, col in enumerate(header)
            if i != time_col and metric_name(col) not in LABEL_COLUMNS
        }
        if fmt == "nab" or (
            fmt == "auto" and [h.strip() for h in header] == ["timestamp", "value"]
        ):
            names = {1: value_metric}
        if not names:
            raise ReplayError(
                f"{path}:1: no value columns besides the timestamp {header[time_col]!r}"
            )
        for line_no, cells in enumerate(csv.reader(handle, delimiter=sep), start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) <= max(time_col, *names):
                raise ReplayError(
                    f"{path}:{line_no}: expected {len(header)} columns, got {len(cells)}"
                )
            try:
                ts_ns = parse_ts_ns(_number_or_text(cells[time_col]))
            except ContractError as exc:
                raise ReplayError(f"{path}:{line_no}: column {header[time_col]!r}: {exc}") from None
            metrics = {}
            for index, name in names.items():
                raw = cells[index].strip()
                if raw == "" or raw.lower() in ("nan", "null", "none"):
                    continue
                try:
                    metrics[name] = float(raw)
                except ValueError:
                    raise ReplayError(
                        f"{path}:{line_no}: column {header[index]!r}: {raw!r} is not a number"
                    ) from None
            if metrics:
                yield Row(ts_ns, metrics)


def _time_column(path: Path, header: list[str], fmt: str, wanted: str | None) -> int:
    stripped = [h.strip() for h in header]
    if wanted is not None:
        if wanted not in stripped:
            raise ReplayError(f"{path}:1: no column {wanted!r}; columns are {', '.join(stripped)}")
        return stripped.index(wanted)
    expected = {"nab": ("timestamp",), "skab": ("datetime",)}.get(fmt, _TIME_NAMES)
    for name in expected:
        if name in [h.lower() for h in stripped]:
            return [h.lower() for h in stripped].index(name)
    raise ReplayError(
        f"{path}:1: no timestamp column (looked for {', '.join(expected)}); "
        "name it with --timestamp-column"
    )


def _number_or_text(raw: str) -> float | str:
    raw = raw.strip()
    try:
        return float(raw)
    except ValueError:
        return raw


def replay_messages(
    rows: Iterator[Row], device: str, asset_type: str, site: str, start_ns: int | None = None
) -> Iterator[Message]:
    """Messages of one device for each row; ``start_ns`` moves the first row to that time."""
    try:
        topic = topic_for(site, asset_type, device)
    except ContractError as exc:
        raise ReplayError(str(exc)) from None
    shift: int | None = None
    for row in rows:
        if shift is None:
            shift = 0 if start_ns is None else start_ns - row.ts_ns
        ts_ns = row.ts_ns + shift
        ts_ms = ts_ns // 1_000_000
        yield Message(topic, encode_reading(ts_ms, row.metrics), ts_ms * 1_000_000, device)
