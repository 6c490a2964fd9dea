"""The Flag: what detection hands to tasking when a series looks wrong.

A flag has a lifecycle (opened, updated, cleared); each change is emitted as a
new immutable ``Flag`` value carrying the same ``flag_id``. Defined here, in
the stage that produces it, and consumed by tasking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
