"""Work orders as the API shows them: summaries for the queue, details with evidence.

Built from tasking's ``WorkOrder`` but owned here, so the domain can change
shape without breaking clients. SLA urgency (the next unmet clock and whether
it is at risk or breached) is derived at read time from the order's due times.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from prognos.tasking.domain import TRANSITIONS, Actor, OrderStatus, WorkOrder
from prognos.tasking.errors import TaskingError

CLOCKS = ("first_response", "onsite", "resolution")
AT_RISK_FRACTION = 0.8


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _finite(value: float) -> float:
    # JSON has no NaN or infinity; an odd detector number must not break the answer.
    return float(value) if math.isfinite(value) else 0.0


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def sla_view(order: WorkOrder, now: datetime) -> tuple[str, str | None, datetime | None]:
    """``(sla_state, next_clock, next_due_at)``: ok, at_risk, breached, or met when closed.

    The next clock is the earliest unmet one; an order is breached when any
    unmet clock is past due or any clock was met late.
    """
    unmet = [(order.due_at(c), c) for c in CLOCKS if order.met_at(c) is None]
    late_met = any((met := order.met_at(c)) is not None and met > order.due_at(c) for c in CLOCKS)
    if not order.is_open or not unmet:
        return ("breached" if late_met else "met"), None, None
    due, clock = min(unmet)
    if late_met or any(d < now for d, _ in unmet):
        return "breached", clock, due
    risk_at = order.created_at + (due - order.created_at) * AT_RISK_FRACTION
    return ("at_risk" if now >= risk_at else "ok"), clock, due


class WorkOrderSummary(BaseModel):
    """One row of the queue."""

    order_id: str
    version: int
    status: str
    is_open: bool
    priority: str
    title: str
    catalog_entry_id: str
    category: str
    failure_mode: str
    flag_kind: str
    device: str
    asset_type: str
    site: str
    customer: str
    tier: str
    assignee: str | None
    created_at: str | None
    updated_at: str | None
    sla_state: str = Field(description="ok, at_risk, breached, or met (closed orders)")
    next_due_kind: str | None = Field(description="The earliest unmet SLA clock")
    next_due_at: str | None
    seconds_to_due: float | None = Field(description="Negative when already late")
    predicted_failure_at: str | None


class FlagEvidence(BaseModel):
    flag_id: str
    state: str
    detector: str
    metrics: list[str]
    score: float
    severity: str
    opened_at: str | None
    updated_at: str | None
    window_start_at: str | None
    window_end_at: str | None
    predicted_failure_at: str | None
    evidence: dict[str, float]
    updates: int


class Evidence(BaseModel):
    """The flags and the telemetry around them; telemetry times are epoch milliseconds."""

    flags: list[FlagEvidence]
    window_start_ms: int | None
    window_end_ms: int | None
    predicted_failure_ms: int | None
    read_start_ms: int | None = None
    read_end_ms: int | None = None
    telemetry: dict[str, list[tuple[int, float]]] = Field(default_factory=dict)
    telemetry_note: str | None = None


class HistoryItem(BaseModel):
    at: str | None
    actor: str
    role: str
    action: str
    from_status: str
    to_status: str
    note: str
    summary: str


class WorkOrderDetail(WorkOrderSummary):
    """One order in full, with what the signed-in user may do next."""

    catalog_version: str
    match_reason: str
    priority_reason: str
    required_level: str
    skills: list[str]
    first_response_due_at: str | None
    onsite_due_at: str | None
    resolve_due_at: str | None
    first_response_at: str | None
    started_at: str | None
    resolved_at: str | None
    closed_at: str | None
    sop_checklist: list[dict[str, Any]]
    knowledge_links: list[dict[str, str]]
    escalation_chain: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    history: list[HistoryItem]
    sla_events: list[dict[str, Any]]
    completion: dict[str, Any] | None
    allowed_transitions: list[str] = Field(
        description="Statuses the signed-in user may move this order to now"
    )
    can_complete: bool
    evidence: Evidence | None = None


class OrderPageOut(BaseModel):
    items: list[WorkOrderSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


def summary(order: WorkOrder, now: datetime) -> dict[str, Any]:
    """The queue fields of an order (a dict, so details can extend it)."""
    state, clock, due = sla_view(order, now)
    return {
        "order_id": order.id,
        "version": order.version,
        "status": str(order.status),
        "is_open": order.is_open,
        "priority": str(order.priority),
        "title": order.title,
        "catalog_entry_id": order.catalog_entry_id,
        "category": str(order.category),
        "failure_mode": order.failure_mode,
        "flag_kind": order.flag_kind,
        "device": order.device,
        "asset_type": order.asset_type,
        "site": order.site,
        "customer": order.customer,
        "tier": str(order.tier),
        "assignee": order.assignee,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "sla_state": state,
        "next_due_kind": clock,
        "next_due_at": _iso(due),
        "seconds_to_due": None if due is None else (due - now).total_seconds(),
        "predicted_failure_at": _iso(order.predicted_failure_at),
    }


def allowed_transitions(order: WorkOrder, actor: Actor) -> list[str]:
    """The statuses ``actor`` may move the order to, asking the domain's own rules."""
    allowed = []
    for (source, target), _roles in TRANSITIONS.items():
        if source != order.status or target == OrderStatus.RESOLVED:
            continue
        try:
            order.check_transition(target, actor)
        except TaskingError:
            continue
        allowed.append(str(target))
    return allowed


def can_complete(order: WorkOrder, actor: Actor) -> bool:
    try:
        order.check_transition(OrderStatus.RESOLVED, actor)
    except TaskingError:
        return False
    return True


def flag_evidence(order: WorkOrder) -> list[FlagEvidence]:
    return [
        FlagEvidence(
            flag_id=f.flag_id,
            state=f.state,
            detector=f.detector,
            metrics=list(f.metrics),
            score=_finite(f.score),
            severity=f.severity,
            opened_at=_iso(f.opened_at),
            updated_at=_iso(f.updated_at),
            window_start_at=_iso(f.window_start_at),
            window_end_at=_iso(f.window_end_at),
            predicted_failure_at=_iso(f.predicted_failure_at),
            evidence={k: _finite(v) for k, v in f.evidence.items()},
            updates=f.updates,
        )
        for f in order.flags
    ]


def _history(order: WorkOrder) -> list[HistoryItem]:
    items = []
    for h in order.history:
        moved = h.from_status != h.to_status
        text = f"{h.action}: {h.from_status} → {h.to_status}" if moved else h.action
        items.append(
            HistoryItem(
                at=_iso(h.at),
                actor=h.actor,
                role=h.role,
                action=h.action,
                from_status=str(h.from_status),
                to_status=str(h.to_status),
                note=h.note,
                summary=f"{text} — {h.note}" if h.note else text,
            )
        )
    return items


def detail(
    order: WorkOrder, actor: Actor, now: datetime, evidence: Evidence | None
) -> WorkOrderDetail:
    """Everything about one order, for one signed-in actor."""
    c = order.completion
    return WorkOrderDetail(
        **summary(order, now),
        catalog_version=order.catalog_version,
        match_reason=order.match_reason,
        priority_reason=order.priority_reason,
        required_level=str(order.required_level),
        skills=list(order.skills),
        first_response_due_at=_iso(order.first_response_due_at),
        onsite_due_at=_iso(order.onsite_due_at),
        resolve_due_at=_iso(order.resolve_due_at),
        first_response_at=_iso(order.first_response_at),
        started_at=_iso(order.started_at),
        resolved_at=_iso(order.resolved_at),
        closed_at=_iso(order.closed_at),
        sop_checklist=[
            {"index": i, "step": item.step, "done": item.done}
            for i, item in enumerate(order.sop_checklist)
        ],
        knowledge_links=[dict(k) for k in order.knowledge_links],
        escalation_chain=[
            {"after_s": r.after.total_seconds(), "role": r.role, "action": r.action}
            for r in order.escalation_chain
        ],
        comments=[
            {"at": _iso(x.at), "author": x.author, "role": x.role, "text": x.text}
            for x in order.comments
        ],
        history=_history(order),
        sla_events=[
            {"at": _iso(e.at), "clock": e.clock, "kind": e.kind, "detail": e.detail, "role": e.role}
            for e in order.sla_events
        ],
        completion=None
        if c is None
        else {
            "at": _iso(c.at),
            "by": c.by,
            "notes": c.notes,
            "verdict": str(c.verdict),
            "rating": c.rating,
        },
        allowed_transitions=allowed_transitions(order, actor),
        can_complete=can_complete(order, actor),
        evidence=evidence,
    )


def evidence_times(order: WorkOrder) -> tuple[list[tuple[int, int]], int | None]:
    """The flags' windows and the earliest predicted failure, as epoch ns on the device clock.

    Only the flags' own predictions are used: they share the telemetry's clock,
    which the chart is drawn on.
    """
    windows = [
        (_ns(f.window_start_at), max(_ns(f.window_end_at), _ns(f.updated_at))) for f in order.flags
    ]
    predicted = [f.predicted_failure_at for f in order.flags if f.predicted_failure_at]
    return windows, (_ns(min(predicted)) if predicted else None)


def _ns(value: datetime) -> int:
    return int(value.timestamp()) * 10**9 + value.microsecond * 1000


def ms(value: datetime | None) -> int | None:
    """A datetime as epoch milliseconds (None stays None)."""
    return _ms(value)


def order_event_data(order: WorkOrder, by: str = "prognos") -> dict[str, Any]:
    """The body of a ``work_order.*`` event: enough for a listener to decide to fetch it."""
    return {
        "order_id": order.id,
        "version": order.version,
        "status": str(order.status),
        "priority": str(order.priority),
        "device": order.device,
        "site": order.site,
        "catalog_entry_id": order.catalog_entry_id,
        "assignee": order.assignee,
        "by": by,
    }
