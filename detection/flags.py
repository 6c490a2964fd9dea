"""The Flag: what detection hands to tasking when a series looks wrong.

A flag has a lifecycle (opened, updated, cleared); each change is emitted as a
new immutable ``Flag`` value carrying the same ``flag_id``. Defined here, in
the stage that produces it, and consumed by tasking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FlagState(StrEnum):
    """Where a flag is in its lifecycle."""

    OPENED = "opened"
    UPDATED = "updated"
    CLEARED = "cleared"


class FlagKind(StrEnum):
    """Whether the equipment or the instrument measuring it looks faulty."""

    EQUIPMENT = "equipment"
    SENSOR = "sensor"


class Severity(StrEnum):
    """How bad the deviation is; tasking turns it into a priority."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Flag:
    """One state of one flag on one device.

    Times are integer epoch nanoseconds (UTC). ``failure_mode`` is the
    detector's hypothesis (e.g. ``bearing_wear``) or ``unknown``;
    ``predicted_failure_ns`` is set when a trend projects a limit crossing.
    ``evidence`` holds small named numbers (baseline, latest value, slope, ...)
    that explain the score.
    """

    flag_id: str
    device: str
    asset_type: str
    site: str
    kind: FlagKind
    state: FlagState
    detector: str
    metrics: tuple[str, ...]
    failure_mode: str
    score: float
    severity: Severity
    opened_ns: int
    updated_ns: int
    window_start_ns: int
    window_end_ns: int
    predicted_failure_ns: int | None = None
    evidence: dict[str, float] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The flag as plain JSON values (checkpoints keep the open flags)."""
        flag = self
        return {
            "flag_id": flag.flag_id,
            "device": flag.device,
            "asset_type": flag.asset_type,
            "site": flag.site,
            "kind": flag.kind.value,
            "state": flag.state.value,
            "detector": flag.detector,
            "metrics": list(flag.metrics),
            "failure_mode": flag.failure_mode,
            "score": flag.score,
            "severity": flag.severity.value,
            "opened_ns": flag.opened_ns,
            "updated_ns": flag.updated_ns,
            "window_start_ns": flag.window_start_ns,
            "window_end_ns": flag.window_end_ns,
            "predicted_failure_ns": flag.predicted_failure_ns,
            "evidence": dict(flag.evidence),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Flag:
        """A flag from ``to_dict``'s output."""
        return cls(
            flag_id=d["flag_id"],
            device=d["device"],
            asset_type=d["asset_type"],
            site=d["site"],
            kind=FlagKind(d["kind"]),
            state=FlagState(d["state"]),
            detector=d["detector"],
            metrics=tuple(d["metrics"]),
            failure_mode=d["failure_mode"],
            score=float(d["score"]),
            severity=Severity(d["severity"]),
            opened_ns=int(d["opened_ns"]),
            updated_ns=int(d["updated_ns"]),
            window_start_ns=int(d["window_start_ns"]),
            window_end_ns=int(d["window_end_ns"]),
            predicted_failure_ns=d["predicted_failure_ns"],
            evidence={k: float(v) for k, v in d["evidence"].items()},
        )
