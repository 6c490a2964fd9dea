"""Scoring the engine on a simulated fleet against the simulator's ground truth.

Reads the telemetry (JSON lines of ``{"topic", "payload"}`` as written by
``prognos simulate --out``) and the truth (one JSON record per device, from
``--truth``), runs the engine over the telemetry and asks the product's
questions: was each fault flagged before the failure, how early, how often
did a healthy machine get flagged, were instrument faults told apart.

An instrument fault is handled right (``sensor_fault_accuracy``) when a
sensor flag on that device and metric names the fault's kind (opened, or
updated to it) between its start and an hour after its end, and no
equipment flag the machine's own faults do not explain opens meanwhile;
``sensor_fault_flagged`` counts any sensor flag on the metric. A detected
equipment fault's hypothesis is right (``failure_mode_accuracy``) when the
first flag names the fault's mode: that flag picks the work order's
catalog entry.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.errors import EvaluationError
from prognos.detection.flags import Flag, FlagKind, FlagState
from prognos.ingest.contract import Reading
from prognos.ingest.parse import Limits, TopicTemplate, parse_message

DAY_NS = 86_400 * 10**9
#: A sensor flag counts for an injected instrument fault up to this long after it ends.
SENSOR_GRACE_NS = 3_600 * 10**9
#: Sensor-flag events that say what is wrong with an instrument (a flag can change kind).
_SENSOR_SAYS = (FlagState.OPENED, FlagState.UPDATED)


@dataclass(slots=True)
class SimOutcome:
    """What the engine did on the fleet (kept for tests and the report)."""

    flags: list[Flag] = field(default_factory=list)
    readings: int = 0
    skipped_lines: int = 0


#: Recorded telemetry is judged on its own clock, not against when it is scored.
_LIMITS = Limits(max_future_skew_s=math.inf, max_past_age_s=math.inf)
_TEMPLATE = TopicTemplate()
#: Receive time handed to the parser; a reading left with it had no ``ts`` of its own.
_NO_TS = -1

#: Lines between two progress reports of ``read_telemetry``.
PROGRESS_EVERY = 50_000
#: Readings handed to the engine at once (about what the service's batches hold).
BATCH = 4096


def read_telemetry(
    path: Path, progress: Callable[[int, int], None] | None = None
) -> Iterator[Reading | None]:
    """Readings from a telemetry JSON-lines file (``None`` for a malformed line).

    ``progress(bytes_read, file_bytes)`` is called every ``PROGRESS_EVERY``
    lines and at the end: a 200-device, 60-day fleet takes minutes to score.
    """
    try:
        src = path.open("rb")
        size = path.stat().st_size
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read: {exc}") from exc
    with src:
        for n, line in enumerate(src, start=1):
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(src.tell(), size)
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                topic = str(item["topic"])
                if "payload_b64" in item:
                    payload = base64.b64decode(item["payload_b64"])
                else:
                    payload = str(item["payload"]).encode("utf-8")
                # The ingester's own parser: detection is scored on what would be stored.
                readings = parse_message(topic, payload, _NO_TS, _TEMPLATE, _LIMITS)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                yield None  # BadMessageError is a ValueError too
                continue
            if any(r.ts_ns == _NO_TS for r in readings):
                yield None  # no device time: a file has no receive time to stand in
                continue
            yield from readings
        if progress is not None:
            progress(size, size)


def read_truth(path: Path) -> list[dict[str, Any]]:
    """The ground-truth records (one JSON object per device and line)."""
    records = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read: {exc}") from exc
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "device" not in record:
                raise ValueError("expected an object with a device")
            for key in ("faults", "sensor_faults", "window_start_ns", "window_end_ns"):
                if key not in record:
                    raise ValueError(f"missing {key}")
        except ValueError as exc:
            raise EvaluationError(f"{path}:{line_no}: not a truth record: {exc}") from exc
        records.append(record)
    if not records:
        raise EvaluationError(f"{path}: no truth records")
    return records


def run_engine(
    telemetry: Path,
    config: DetectionConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimOutcome:
    """All flag events of the engine over the telemetry file.

    ``progress`` is called as in ``read_telemetry``.
    """
    engine = DetectionEngine(config=config)
    out = SimOutcome()
    batch: list[Reading] = []
    # Batches as the service would see them (the batch path gives the same flags).
    for reading in read_telemetry(telemetry, progress):
        if reading is None:
            out.skipped_lines += 1
            continue
        out.readings += 1
        batch.append(reading)
        if len(batch) >= BATCH:
            out.flags += engine.process_batch(batch)
            batch = []
    out.flags += engine.process_batch(batch)
    return out


def score(flags: list[Flag], truth: list[dict[str, Any]]) -> dict[str, Any]:
    """The fleet metrics of issue 6 from flag events and ground truth."""
    opened_eq: dict[str, list[int]] = {}
    eq_modes: dict[tuple[str, int], str] = {}
    #: (device, metric) -> (time, kind) of each sensor flag event naming a kind.
    sensor_said: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for f in flags:
        if f.kind is FlagKind.SENSOR and f.state in _SENSOR_SAYS:
            event = (f.updated_ns, f.failure_mode)
            sensor_said.setdefault((f.device, f.metrics[0]), []).append(event)
            sensor_said.setdefault((f.device, "*"), []).append(event)
        if f.state is not FlagState.OPENED:
            continue
        if f.kind is FlagKind.EQUIPMENT:
            opened_eq.setdefault(f.device, []).append(f.opened_ns)
            eq_modes[(f.device, f.opened_ns)] = f.failure_mode
    faults = detected = false_flags = mode_right = 0
    leads_s: list[float] = []
    fractions: list[float] = []
    device_ns = 0
    sensor_total = sensor_ok = sensor_seen = 0
    for rec in truth:
        dev = rec["device"]
        device_ns += int(rec["window_end_ns"]) - int(rec["window_start_ns"])
        in_window = [f for f in rec["faults"] if f.get("failure_in_window", True)]
        spans = [(int(f["onset_ns"]), int(f["failure_ns"])) for f in in_window]
        modes = [str(f.get("mode", "")) for f in in_window]
        times = sorted(opened_eq.get(dev, []))
        explained: set[int] = set()
        for (onset, failure), mode in zip(spans, modes, strict=True):
            faults += 1
            hits = [t for t in times if onset <= t < failure]
            if hits:
                detected += 1
                # The first flag's hypothesis is what picks the work order's catalog entry.
                mode_right += int(eq_modes.get((dev, hits[0])) == mode)
                leads_s.append((failure - hits[0]) / 1e9)
                fractions.append((failure - hits[0]) / max(failure - onset, 1))
        for t in times:
            # Flags after a fault's onset belong to it (the machine stays failed).
            if any(onset <= t for onset, _ in spans):
                explained.add(t)
        false_flags += len([t for t in times if t not in explained])
        for sf in rec["sensor_faults"]:
            sensor_total += 1
            start, end = int(sf["start_ns"]), int(sf["end_ns"]) + SENSOR_GRACE_NS
            equipment_blamed = any(start <= t <= end and t not in explained for t in times)
            said = [k for t, k in sensor_said.get((dev, sf["metric"]), []) if start <= t <= end]
            if sf["metric"] == "*" and sf["kind"] == "dropout":
                # A silent device sends nothing to flag: right unless the machine is blamed.
                said = ["dropout"]
            sensor_seen += int(bool(said) and not equipment_blamed)
            sensor_ok += int(sf["kind"] in said and not equipment_blamed)
    device_days = device_ns / DAY_NS
    return {
        "faults": faults,
        "recall_before_failure": detected / faults if faults else 0.0,
        "lead_time_median_s": statistics.median(leads_s) if leads_s else None,
        "lead_fraction_median": statistics.median(fractions) if fractions else None,
        "false_flags_per_100_device_days": 100.0 * false_flags / device_days
        if device_days
        else 0.0,
        "sensor_fault_accuracy": sensor_ok / sensor_total if sensor_total else None,
        "sensor_fault_flagged": sensor_seen / sensor_total if sensor_total else None,
        "failure_mode_accuracy": mode_right / detected if detected else None,
        "devices": len(truth),
        "device_days": device_days,
        "false_flags": false_flags,
        "sensor_faults": sensor_total,
    }
