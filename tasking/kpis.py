"""Service KPIs over a set of work orders: MTTR, first response, SLA compliance and more.

Pure functions over domain objects, so a hand-built history can check every
number. Durations are in seconds, rates are fractions (0.95 = 95 %); a KPI
with nothing to measure is None rather than a misleading zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from prognos.tasking.domain import OrderStatus, Verdict, WorkOrder
from prognos.tasking.errors import InvalidRequestError

GROUP_FIELDS = (
    "category",
    "site",
    "customer",
    "tier",
    "asset_type",
    "catalog_entry_id",
    "priority",
)


@dataclass(frozen=True, slots=True)
class KpiReport:
    """KPIs of one group of orders (``group`` is ``all`` when not grouped)."""

    group: str
    orders: int
    resolved: int
    cancelled: int
    open: int
    mttr_s: float | None
    mean_first_response_s: float | None
    sla_compliance: float | None
    resolution_rate: float | None
    mean_satisfaction: float | None
    false_alarm_rate: float | None
    mean_lead_time_s: float | None
    resolved_before_failure_rate: float | None


def sla_outcome(order: WorkOrder, now: datetime) -> bool | None:
    """True if every clock was met, False if one was missed, None while undecided."""
    if order.status == OrderStatus.CANCELLED:
        return None
    missed = False
    undecided = False
    for clock in ("first_response", "onsite", "resolution"):
        due = order.due_at(clock)
        met = order.met_at(clock)
        if met is not None:
            missed |= met > due
        elif order.resolved_at is not None or now > due:
            missed = True  # resolved without ever meeting this clock, or already late
        else:
            undecided = True
    if missed:
        return False
    return None if undecided else True


def compute_kpis(
    orders: Iterable[WorkOrder], now: datetime, group_by: str | None = None
) -> dict[str, KpiReport]:
    """KPIs per group (``group_by`` one of GROUP_FIELDS, or None for one ``all`` group)."""
    if group_by is not None and group_by not in GROUP_FIELDS:
        raise InvalidRequestError(
            f"group_by must be one of {', '.join(GROUP_FIELDS)}, got {group_by!r}"
        )
    groups: dict[str, list[WorkOrder]] = {}
    for order in orders:
        key = "all" if group_by is None else str(getattr(order, group_by))
        groups.setdefault(key, []).append(order)
    return {key: _report(key, members, now) for key, members in sorted(groups.items())}


def _report(group: str, orders: list[WorkOrder], now: datetime) -> KpiReport:
    resolved = [o for o in orders if o.resolved_at is not None]
    cancelled = [o for o in orders if o.status == OrderStatus.CANCELLED]
    live = len(orders) - len(cancelled)
    # Cancelled orders say nothing about service speed; they only count as orders.
    responses = [
        (o.first_response_at - o.created_at).total_seconds()
        for o in orders
        if o.first_response_at and o.status != OrderStatus.CANCELLED
    ]
    repairs = [(o.resolved_at - o.created_at).total_seconds() for o in resolved if o.resolved_at]
    outcomes = [r for r in (sla_outcome(o, now) for o in orders) if r is not None]
    ratings = [
        o.completion.rating for o in orders if o.completion and o.completion.rating is not None
    ]
    verdicts = [o.completion.verdict for o in orders if o.completion is not None]
    predicted = [o for o in orders if o.predicted_failure_at is not None]
    leads = [
        (o.predicted_failure_at - o.created_at).total_seconds()
        for o in predicted
        if o.predicted_failure_at
    ]
    before = [
        o.resolved_at <= o.predicted_failure_at
        for o in predicted
        if o.resolved_at is not None and o.predicted_failure_at is not None
    ]
    return KpiReport(
        group=group,
        orders=len(orders),
        resolved=len(resolved),
        cancelled=len(cancelled),
        open=sum(1 for o in orders if o.is_open),
        mttr_s=_mean(repairs),
        mean_first_response_s=_mean(responses),
        sla_compliance=_rate(sum(outcomes), len(outcomes)),
        resolution_rate=_rate(len(resolved), live),
        mean_satisfaction=_mean([float(r) for r in ratings]),
        false_alarm_rate=_rate(sum(v == Verdict.FALSE_ALARM for v in verdicts), len(verdicts)),
        mean_lead_time_s=_mean(leads),
        resolved_before_failure_rate=_rate(sum(before), len(before)),
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
