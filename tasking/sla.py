"""SLA clocks: due times from the catalog, and the monitor that flags risk and escalates.

Due times come from the entry's SLA for the customer tier and priority,
measured from order creation; the resolve-by time is never later than the
predicted failure minus the catalog's safety margin. The monitor turns clocks
that are close to or past due into events on the order and walks the entry's
escalation chain, measured from the first breach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prognos.tasking.catalog import SlaTargets
from prognos.tasking.domain import SlaEvent, WorkOrder
from prognos.tasking.errors import InvalidRequestError

log = logging.getLogger(__name__)

CLOCKS = ("first_response", "onsite", "resolution")


@dataclass(frozen=True, slots=True)
class DueTimes:
    first_response: datetime
    onsite: datetime
    resolution: datetime

    def as_tuple(self) -> tuple[datetime, datetime, datetime]:
        return (self.first_response, self.onsite, self.resolution)


def due_times(
    targets: SlaTargets,
    created_at: datetime,
    predicted_failure_at: datetime | None = None,
    safety_margin: timedelta = timedelta(0),
) -> DueTimes:
    """Due times for one order; earlier clocks never fall after later ones.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> sla = SlaTargets(timedelta(hours=1), timedelta(hours=8), timedelta(days=1))
    >>> d = due_times(sla, t0, t0 + timedelta(hours=10), timedelta(hours=4))
    >>> (d.onsite - t0, d.resolution - t0)
    (datetime.timedelta(seconds=21600), datetime.timedelta(seconds=21600))
    """
    resolution = created_at + targets.resolution
    if predicted_failure_at is not None:
        resolution = max(created_at, min(resolution, predicted_failure_at - safety_margin))
    onsite = min(created_at + targets.onsite, resolution)
    first_response = min(created_at + targets.first_response, onsite)
    return DueTimes(first_response, onsite, resolution)


def evaluate_sla(order: WorkOrder, now: datetime, at_risk_fraction: float = 0.8) -> list[SlaEvent]:
    """Append new at-risk, breached and escalation events to an open order; return them.

    A clock is at risk once ``at_risk_fraction`` of its time has passed
    without being met, breached once past due. Each event is recorded once.
    Escalation step ``i`` fires ``after`` the first breach (the earliest
    missed due time).
    """
    if not 0 < at_risk_fraction < 1:
        raise InvalidRequestError(
            f"at_risk_fraction must be between 0 and 1 (exclusive), got {at_risk_fraction}"
        )
    if not order.is_open:
        return []
    seen = {(e.clock, e.kind) for e in order.sla_events}
    new: list[SlaEvent] = []
    breaches: list[datetime] = []
    for clock in CLOCKS:
        if order.met_at(clock) is not None:
            continue
        due = order.due_at(clock)
        if now > due:
            breaches.append(due)
            if (clock, "breached") not in seen:
                late = _short(now - due)
                new.append(
                    SlaEvent(
                        now,
                        clock,
                        "breached",
                        f"{clock} was due {due:%Y-%m-%d %H:%M} UTC; {late} late",
                    )
                )
        else:
            risk_at = order.created_at + (due - order.created_at) * at_risk_fraction
            if (
                now >= risk_at
                and (clock, "at_risk") not in seen
                and (clock, "breached") not in seen
            ):
                left = _short(due - now)
                new.append(SlaEvent(now, clock, "at_risk", f"{clock} due in {left}"))
    if breaches:
        first_breach = min(breaches)
        fired = sum(1 for e in order.sla_events if e.kind == "escalated")
        for index, step in enumerate(order.escalation_chain[fired:], start=fired):
            if now < first_breach + step.after:
                break
            detail = f"escalation step {index + 1}: {step.action}"
            new.append(SlaEvent(now, "escalation", "escalated", detail, step.role))
    if new:
        order.sla_events.extend(new)
        order.updated_at = now
        for event in new:
            log.info(
                "sla event order=%s clock=%s kind=%s role=%s",
                order.id,
                event.clock,
                event.kind,
                event.role,
            )
    return new


def _short(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"
