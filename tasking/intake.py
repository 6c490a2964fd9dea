"""From a detection flag to a new work order, or to more evidence on an open one.

Pure functions over the catalog, the registry and the domain: which entry,
which priority, which due times, and how a further flag changes an order
(evidence is kept per flag, priority only ever rises, due times only move
earlier). The service layer wraps them in a unit of work.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.tasking.catalog import Catalog, time_to_failure
from prognos.tasking.domain import (
    AuditEntry,
    ChecklistItem,
    EscalationRule,
    FlagSummary,
    OrderStatus,
    WorkOrder,
)
from prognos.tasking.errors import InvalidRequestError
from prognos.tasking.registry import Registry
from prognos.tasking.sla import due_times
from prognos.tasking.vocabulary import Priority

#: Distinct flags kept as evidence on one order; the oldest cleared ones go first.
MAX_FLAGS_PER_ORDER = 50
SYSTEM = "prognos"


def ns_to_dt(ts_ns: int | None) -> datetime | None:
    return None if ts_ns is None else datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)


def check_flag(flag: Flag) -> None:
    """Refuse a malformed flag with a message naming the field."""
    if not isinstance(flag, Flag):
        raise InvalidRequestError(f"expected a Flag, got {type(flag).__name__}")
    for name in ("flag_id", "device", "asset_type", "site", "detector"):
        value = getattr(flag, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequestError(
                f"flag field {name} must be a non-empty string, got {value!r}"
            )
    for name, enum in (("kind", FlagKind), ("state", FlagState), ("severity", Severity)):
        try:
            enum(getattr(flag, name))
        except ValueError:
            raise InvalidRequestError(
                f"flag field {name} has unknown value {getattr(flag, name)!r}"
            ) from None
    for name in ("opened_ns", "updated_ns", "window_start_ns", "window_end_ns"):
        value = getattr(flag, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequestError(f"flag field {name} must be epoch nanoseconds, got {value!r}")
    if flag.predicted_failure_ns is not None and (
        isinstance(flag.predicted_failure_ns, bool)
        or not isinstance(flag.predicted_failure_ns, int)
    ):
        raise InvalidRequestError(
            "flag field predicted_failure_ns must be epoch nanoseconds or None"
        )


def summarise(flag: Flag) -> FlagSummary:
    return FlagSummary(
        flag_id=flag.flag_id,
        state=FlagState(flag.state).value,
        detector=flag.detector,
        metrics=tuple(flag.metrics),
        score=float(flag.score),
        severity=Severity(flag.severity).value,
        opened_at=_dt(flag.opened_ns),
        updated_at=_dt(flag.updated_ns),
        window_start_at=_dt(flag.window_start_ns),
        window_end_at=_dt(flag.window_end_ns),
        predicted_failure_at=ns_to_dt(flag.predicted_failure_ns),
        evidence={str(k): float(v) for k, v in flag.evidence.items()},
    )


def expected_failure_at(flag: Flag, now: datetime) -> datetime | None:
    """When the equipment is expected to fail, on the clock the order's SLA runs on.

    The detector predicts failure on the device's clock; the lead time it
    implies (predicted failure minus the flag's last update) is applied from
    ``now``, when the order learns of it. In live operation the two clocks
    agree; for replayed or accelerated telemetry only the lead time is
    meaningful, so SLA caps and lead-time KPIs stay right either way.
    """
    ttf = time_to_failure(flag)
    return None if ttf is None else now + ttf


def new_order(flag: Flag, catalog: Catalog, registry: Registry, now: datetime) -> WorkOrder:
    """A fresh order for a flag no open order covers yet."""
    info = registry.device(flag.device, flag.asset_type, flag.site)
    match = catalog.match(flag, info)
    entry = match.entry
    priority, priority_reason = catalog.priority_policy.priority(
        Severity(flag.severity), time_to_failure(flag)
    )
    predicted = expected_failure_at(flag, now)
    due = due_times(
        entry.sla_for(info.tier, priority), now, predicted, catalog.priority_policy.safety_margin
    )
    mode = flag.failure_mode or "unknown"
    asset_type = info.asset_type if info.known else flag.asset_type
    order = WorkOrder(
        id=f"WO-{now:%Y%m%d}-{uuid.uuid4().hex[:10]}",
        device=flag.device,
        site=info.site if info.known else flag.site,
        customer=info.customer,
        tier=info.tier,
        asset_type=asset_type,
        flag_kind=FlagKind(flag.kind).value,
        failure_mode=mode,
        catalog_entry_id=entry.id,
        catalog_version=catalog.version,
        category=entry.category.value,
        title=f"{entry.name}: {asset_type} {flag.device} ({mode.replace('_', ' ')})",
        priority=priority,
        status=OrderStatus.NEW,
        match_rule=match.rule_id,
        match_reason=match.reason,
        priority_reason=priority_reason,
        required_level=entry.level,
        skills=entry.skills,
        created_at=now,
        updated_at=now,
        first_response_due_at=due.first_response,
        onsite_due_at=due.onsite,
        resolve_due_at=due.resolution,
        predicted_failure_at=predicted,
        verify_role=entry.workflow.verify,
        sop_checklist=[ChecklistItem(step) for step in entry.sop],
        knowledge_links=[{"kind": k.kind, "title": k.title, "url": k.url} for k in entry.knowledge],
        escalation_chain=[EscalationRule(s.after, s.role, s.action) for s in entry.escalation],
        flags=[summarise(flag)],
    )
    note = f"opened from flag {flag.flag_id} ({flag.detector}); {match.reason}; {priority_reason}"
    order.history.append(
        AuditEntry(now, SYSTEM, "system", OrderStatus.NEW, OrderStatus.NEW, note, "create")
    )
    return order


def absorb_flag(order: WorkOrder, flag: Flag, catalog: Catalog, now: datetime) -> bool:
    """Add a further flag to an open order; return whether anything changed.

    A repeated delivery of the same flag state changes nothing. A cleared flag
    is noted but never closes the order (a person does that).
    """
    summary = summarise(flag)
    existing = next((f for f in order.flags if f.flag_id == flag.flag_id), None)
    if existing is not None:
        if existing.updated_at > summary.updated_at or (
            existing.updated_at == summary.updated_at and existing.state == summary.state
        ):
            return False
        summary.updates = existing.updates + 1
        summary.score = (
            max(summary.score, existing.score) if summary.state != "cleared" else summary.score
        )
        order.flags[order.flags.index(existing)] = summary
    else:
        order.flags.append(summary)
        _trim(order)
    order.updated_at = now
    if summary.state == FlagState.CLEARED.value:
        note = f"flag {flag.flag_id} cleared; the order stays open until it is resolved"
        order.history.append(
            AuditEntry(now, SYSTEM, "system", order.status, order.status, note, "evidence")
        )
        return True
    policy = catalog.priority_policy
    predicted = expected_failure_at(flag, now)
    if predicted is not None and (
        order.predicted_failure_at is None or predicted < order.predicted_failure_at
    ):
        order.predicted_failure_at = predicted
        cap = max(order.created_at, predicted - policy.safety_margin)
        if cap < order.resolve_due_at:
            order.resolve_due_at = cap
            order.onsite_due_at = min(order.onsite_due_at, cap)
            order.first_response_due_at = min(order.first_response_due_at, cap)
    priority, reason = policy.priority(Severity(flag.severity), time_to_failure(flag))
    entry = catalog.entries.get(order.catalog_entry_id)
    if priority.rank < order.priority.rank and entry is not None:
        due = due_times(
            entry.sla_for(order.tier, priority),
            order.created_at,
            order.predicted_failure_at,
            policy.safety_margin,
        )
        order.raise_priority(
            Priority(priority), f"{reason} (flag {flag.flag_id})", due.as_tuple(), now
        )
    return True


def _trim(order: WorkOrder) -> None:
    while len(order.flags) > MAX_FLAGS_PER_ORDER:
        cleared = [f for f in order.flags if f.state == FlagState.CLEARED.value]
        victim = min(cleared or order.flags, key=lambda f: f.updated_at)
        order.flags.remove(victim)


def _dt(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)


def suppression_until_ns(now: datetime, period: timedelta) -> int:
    """Epoch ns at which a false-alarm suppression should end."""
    return int((now + period).timestamp() * 1e9)
