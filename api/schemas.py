"""Request and response bodies of the API, separate from the domain objects.

Times go out twice: ``*_ns`` integers for machines and ISO-8601 UTC strings
for people and for the page; requests accept either where it makes sense.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prognos.detection.flags import Flag


def iso_from_ns(ts_ns: int | None) -> str | None:
    """An epoch-ns timestamp as ISO-8601 UTC, or None."""
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


class Health(BaseModel):
    status: str = Field(description="ok or degraded")
    components: dict[str, Any] = Field(default_factory=dict)


class Me(BaseModel):
    name: str
    role: str
    actions: list[str] = Field(description="Actions of the role matrix this user may take")


class FlagOut(BaseModel):
    """A detector flag as the API shows it."""

    flag_id: str
    device: str
    asset_type: str
    site: str
    kind: str
    state: str
    detector: str
    metrics: list[str]
    failure_mode: str
    score: float
    severity: str
    opened_ns: int
    updated_ns: int
    window_start_ns: int
    window_end_ns: int
    predicted_failure_ns: int | None = None
    opened_at: str | None = None
    predicted_failure_at: str | None = None
    evidence: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_flag(cls, flag: Flag) -> FlagOut:
        return cls(
            flag_id=flag.flag_id,
            device=flag.device,
            asset_type=flag.asset_type,
            site=flag.site,
            kind=str(flag.kind),
            state=str(flag.state),
            detector=flag.detector,
            metrics=list(flag.metrics),
            failure_mode=flag.failure_mode,
            score=_finite(flag.score),
            severity=str(flag.severity),
            opened_ns=flag.opened_ns,
            updated_ns=flag.updated_ns,
            window_start_ns=flag.window_start_ns,
            window_end_ns=flag.window_end_ns,
            predicted_failure_ns=flag.predicted_failure_ns,
            opened_at=iso_from_ns(flag.opened_ns),
            predicted_failure_at=iso_from_ns(flag.predicted_failure_ns),
            evidence={k: _finite(v) for k, v in flag.evidence.items()},
        )


def _finite(value: float) -> float:
    # JSON has no NaN/inf; a detector's odd number must not break the answer.
    v = float(value)
    return v if v == v and abs(v) != float("inf") else 0.0


class DeviceOut(BaseModel):
    """One device of the fleet with its last sign of life and open flags."""

    model_config = ConfigDict(from_attributes=True)

    device: str
    asset_type: str = ""
    site: str = ""
    customer: str | None = None
    last_seen_ns: int | None = None
    last_seen_at: str | None = None
    health: str = Field("unknown", description="ok, warning, alarm, stale or unknown")
    open_flags: list[FlagOut] = Field(default_factory=list)
    open_orders: int | None = None


class DevicePage(BaseModel):
    items: list[DeviceOut]
    total: int


class FlagPage(BaseModel):
    items: list[FlagOut]
    total: int
