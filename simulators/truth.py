"""Ground truth: what the simulator injected, written next to the telemetry for evaluation.

One JSON line per device (healthy ones included, so false alarms can be
counted): its place in the registry, its equipment faults with onset and
failure times, and its sensor faults. ``prognos evaluate sim`` reads this.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from prognos.simulators.clock import iso, resolve, to_ns
from prognos.simulators.fleet import Fleet


def ground_truth(fleet: Fleet, start: datetime, duration_s: float) -> list[dict[str, Any]]:
    """One record per device of the faults injected in the window ``[start, start + duration)``.

    Times appear twice: ISO-8601 UTC text (``onset``) and integer epoch ns
    (``onset_ns``). The top-level ``mode``/``onset``/``failure`` repeat the
    device's earliest equipment fault (null when healthy); ``faults`` lists all.
    """
    end = start + timedelta(seconds=duration_s)
    records = []
    for device in fleet.devices:
        faults = []
        for f in fleet.faults:
            if f.device != device.id:
                continue
            onset, failure = resolve(f.onset, start), resolve(f.failure, start)
            faults.append(
                {
                    "mode": f.mode,
                    "shape": str(f.shape),
                    "onset": iso(onset),
                    "onset_ns": to_ns(onset),
                    "failure": iso(failure),
                    "failure_ns": to_ns(failure),
                    "failure_in_window": start <= failure < end,
                }
            )
        faults.sort(key=lambda item: item["onset_ns"])
        sensor_faults = []
        for s in fleet.sensor_faults:
            if s.device != device.id:
                continue
            begin, finish = resolve(s.start, start), resolve(s.end, start)
            sensor_faults.append(
                {
                    "metric": s.metric,
                    "kind": str(s.kind),
                    "start": iso(begin),
                    "start_ns": to_ns(begin),
                    "end": iso(finish),
                    "end_ns": to_ns(finish),
                }
            )
        first = faults[0] if faults else {}
        customer = fleet.customer_of(device)
        records.append(
            {
                "device": device.id,
                "asset_type": device.asset_type,
                "site": device.site,
                "customer": customer.id,
                "customer_tier": customer.tier,
                "mode": first.get("mode"),
                "shape": first.get("shape"),
                "onset": first.get("onset"),
                "onset_ns": first.get("onset_ns"),
                "failure": first.get("failure"),
                "failure_ns": first.get("failure_ns"),
                "faults": faults,
                "sensor_faults": sensor_faults,
                "window_start": iso(start),
                "window_start_ns": to_ns(start),
                "window_end": iso(end),
                "window_end_ns": to_ns(end),
            }
        )
    return records


def write_truth(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Write truth records as JSON lines; returns how many were written."""
    count = 0
    with Path(path).open("wb") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")
            count += 1
    return count


def read_truth(path: Path) -> list[dict[str, Any]]:
    """Read a truth file written by ``write_truth``."""
    with Path(path).open("rb") as src:
        return [orjson.loads(line) for line in src if line.strip()]
