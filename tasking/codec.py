"""Work orders to and from plain JSON-safe dicts, for storage and transport adapters.

Times are ISO-8601 UTC strings, durations whole seconds, enums their values.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from prognos.tasking.domain import (
    AuditEntry,
    ChecklistItem,
    Comment,
    Completion,
    EscalationRule,
    FlagSummary,
    OrderStatus,
    SlaEvent,
    Verdict,
    WorkOrder,
)
from prognos.tasking.vocabulary import Level, Priority, Role, Tier

_TIME_FIELDS = (
    "created_at",
    "updated_at",
    "first_response_due_at",
    "onsite_due_at",
    "resolve_due_at",
    "predicted_failure_at",
    "first_response_at",
    "started_at",
    "resolved_at",
    "closed_at",
)


def dt_to_str(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def str_to_dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _times(obj: dict[str, Any], names: tuple[str, ...], fn: Any) -> dict[str, Any]:
    for name in names:
        if name in obj:
            obj[name] = fn(obj[name])
    return obj


def _plain(value: Any) -> Any:
    """JSON-safe copy: dataclasses to dicts, times to ISO strings, enums to values."""
    if isinstance(value, datetime):
        return dt_to_str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def order_to_dict(order: WorkOrder) -> dict[str, Any]:
    """A JSON-safe dict of every field of the order."""
    data: dict[str, Any] = _plain(order)
    data["escalation_chain"] = [
        {"after_s": int(r.after.total_seconds()), "role": r.role, "action": r.action}
        for r in order.escalation_chain
    ]
    return data


def order_from_dict(data: dict[str, Any]) -> WorkOrder:
    """The inverse of ``order_to_dict``."""
    d = dict(data)
    _times(d, _TIME_FIELDS, str_to_dt)
    d["tier"] = Tier(d["tier"])
    d["priority"] = Priority(d["priority"])
    d["status"] = OrderStatus(d["status"])
    d["required_level"] = Level(d["required_level"])
    d["verify_role"] = Role(d["verify_role"])
    d["skills"] = tuple(d["skills"])
    d["sop_checklist"] = [ChecklistItem(**i) for i in d["sop_checklist"]]
    d["knowledge_links"] = [dict(k) for k in d["knowledge_links"]]
    d["escalation_chain"] = [
        EscalationRule(timedelta(seconds=r["after_s"]), r["role"], r["action"])
        for r in d["escalation_chain"]
    ]
    d["flags"] = [
        FlagSummary(
            **_times(
                dict(f),
                (
                    "opened_at",
                    "updated_at",
                    "window_start_at",
                    "window_end_at",
                    "predicted_failure_at",
                ),
                str_to_dt,
            )
            | {"metrics": tuple(f["metrics"])}
        )
        for f in d["flags"]
    ]
    d["comments"] = [Comment(**_times(dict(c), ("at",), str_to_dt)) for c in d["comments"]]
    d["history"] = [
        AuditEntry(
            **_times(dict(h), ("at",), str_to_dt)
            | {
                "from_status": OrderStatus(h["from_status"]),
                "to_status": OrderStatus(h["to_status"]),
            }
        )
        for h in d["history"]
    ]
    d["sla_events"] = [SlaEvent(**_times(dict(e), ("at",), str_to_dt)) for e in d["sla_events"]]
    if d["completion"] is not None:
        c = _times(dict(d["completion"]), ("at",), str_to_dt)
        d["completion"] = Completion(**(c | {"verdict": Verdict(c["verdict"])}))
    return WorkOrder(**d)
