"""Use cases of the tasking stage: what the pipeline, the API and the CLI call.

Each function is one transaction on a unit of work. Flag intake retries when
a concurrent writer wins the race for the same (device, failure mode), so
at-least-once and concurrent delivery still yield one order. Changes made by
people carry ``expected_version`` so two planners cannot overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from prognos.detection.flags import Flag, FlagKind
from prognos.tasking.assignment import Suggestion, rank_engineers
from prognos.tasking.catalog import Catalog
from prognos.tasking.domain import (
    Actor,
    Comment,
    Completion,
    OrderStatus,
    SlaEvent,
    Verdict,
    WorkOrder,
)
from prognos.tasking.errors import (
    InvalidRequestError,
    OrderNotFoundError,
    StorageError,
    VersionConflictError,
)
from prognos.tasking.intake import absorb_flag, check_flag, new_order, suppression_until_ns
from prognos.tasking.kpis import KpiReport, compute_kpis
from prognos.tasking.registry import Engineer, Registry
from prognos.tasking.repository import DuplicateOpenOrderError, OrderFilter, OrderPage
from prognos.tasking.sla import evaluate_sla
from prognos.tasking.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Called with (device, failure_mode, until_ns) when a technician finds a false alarm;
#: the composition root wires it to ``DetectionEngine.suppress``.
FalseAlarmHook = Callable[[str, str, int], None]

INTAKE_ATTEMPTS = 20
DEFAULT_SUPPRESSION = timedelta(days=7)
T = TypeVar("T")


def open_or_update_order(
    flag: Flag,
    uow: UnitOfWork,
    catalog: Catalog,
    registry: Registry,
    now: datetime | None = None,
) -> WorkOrder | None:
    """Open a work order for a flag, or add the flag to the order already open.

    Returns the order, or None for a cleared flag with no open order. The
    order's clocks start at ``now`` (default: the wall clock).
    """
    check_flag(flag)
    at = _now(now)
    kind = FlagKind(flag.kind).value
    mode = flag.failure_mode or "unknown"
    for attempt in range(1, INTAKE_ATTEMPTS + 1):
        try:
            with uow:
                order = uow.orders.get_open(flag.device, mode, kind)
                if order is not None:
                    if absorb_flag(order, flag, catalog, at):
                        uow.orders.update(order)
                        uow.commit()
                    return order
                if flag.state == "cleared":
                    return None
                order = new_order(flag, catalog, registry, at)
                uow.orders.add(order)
                uow.commit()
                log.info(
                    "work order opened id=%s device=%s failure_mode=%s entry=%s "
                    "priority=%s rule=%s",
                    order.id,
                    order.device,
                    order.failure_mode,
                    order.catalog_entry_id,
                    order.priority.value,
                    order.match_rule,
                )
                return order
        except (DuplicateOpenOrderError, VersionConflictError) as exc:
            log.debug("flag intake raced attempt=%d flag=%s reason=%s", attempt, flag.flag_id, exc)
    raise StorageError(
        f"flag {flag.flag_id} could not be recorded after {INTAKE_ATTEMPTS} attempts of contention"
    )


def get_order(uow: UnitOfWork, order_id: str) -> WorkOrder:
    """One order by id; ``OrderNotFoundError`` if there is none."""
    with uow:
        order = uow.orders.get(order_id)
    if order is None:
        raise OrderNotFoundError(order_id)
    return order


def list_orders(
    uow: UnitOfWork,
    filters: OrderFilter | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> OrderPage:
    """Orders matching ``filters``, newest first, one page at a time."""
    with uow:
        return uow.orders.list(filters or OrderFilter(), limit, cursor)


def _change(
    uow: UnitOfWork,
    order_id: str,
    expected_version: int | None,
    fn: Callable[[WorkOrder], T],
) -> tuple[WorkOrder, T]:
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise OrderNotFoundError(order_id)
        if expected_version is not None and order.version != expected_version:
            raise VersionConflictError(order_id, expected_version, order.version)
        result = fn(order)
        uow.orders.update(order)
        uow.commit()
        return order, result


def transition(
    uow: UnitOfWork,
    order_id: str,
    to: OrderStatus | str,
    actor: Actor,
    note: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Move an order along its lifecycle if the role matrix allows it."""
    try:
        target = OrderStatus(to)
    except ValueError:
        raise InvalidRequestError(
            f"status {to!r} is not one of {', '.join(s.value for s in OrderStatus)}"
        ) from None
    at = _now(now)
    order, _ = _change(
        uow, order_id, expected_version, lambda o: o.transition(target, actor, note, at)
    )
    log.info(
        "work order id=%s status=%s by=%s role=%s",
        order.id,
        order.status.value,
        actor.name,
        actor.role,
    )
    return order


def assign(
    uow: UnitOfWork,
    order_id: str,
    assignee: str,
    actor: Actor,
    expected_version: int | None = None,
    now: datetime | None = None,
    registry: Registry | None = None,
    note: str = "",
) -> WorkOrder:
    """Assign an engineer; one the registry knows must be qualified for the entry."""
    at = _now(now)
    engineer = registry.engineer(assignee) if registry is not None else None

    def apply(order: WorkOrder) -> None:
        if engineer is None:
            order.assign(assignee, actor, at, note=note)
        else:
            order.assign(
                assignee,
                actor,
                at,
                level=engineer.level,
                authorised=engineer.authorised_entries,
                note=note,
            )

    order, _ = _change(uow, order_id, expected_version, apply)
    return order


def comment(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    text: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Comment:
    """Add a comment; the first one counts as the first response."""
    at = _now(now)
    _, result = _change(uow, order_id, expected_version, lambda o: o.add_comment(actor, text, at))
    return result


def set_step(
    uow: UnitOfWork,
    order_id: str,
    index: int,
    done: bool,
    actor: Actor,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Tick or untick one SOP checklist step."""
    at = _now(now)
    order, _ = _change(
        uow, order_id, expected_version, lambda o: o.set_step(index, done, actor, at)
    )
    return order


def complete(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    notes: str,
    verdict: Verdict | str,
    rating: int | None = None,
    checklist: list[bool] | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    on_false_alarm: FalseAlarmHook | None = None,
    suppress_for: timedelta = DEFAULT_SUPPRESSION,
) -> WorkOrder:
    """Resolve an order with notes, verdict, checklist state and optional rating.

    A false-alarm verdict calls ``on_false_alarm(device, failure_mode,
    until_ns)`` after the commit, so detection stops flagging that mode for
    ``suppress_for``.
    """
    at = _now(now)
    order, done = _change(
        uow,
        order_id,
        expected_version,
        lambda o: o.complete(actor, notes, verdict, rating, checklist, at),
    )
    if done.verdict == Verdict.FALSE_ALARM and on_false_alarm is not None:
        until_ns = suppression_until_ns(at, suppress_for)
        try:
            on_false_alarm(order.device, order.failure_mode, until_ns)
            log.info(
                "false alarm fed back device=%s failure_mode=%s until_ns=%d",
                order.device,
                order.failure_mode,
                until_ns,
            )
        except Exception:  # the order is saved; feedback failing must not undo it
            log.exception("false-alarm feedback failed order=%s", order.id)
    return order


def rate(
    uow: UnitOfWork,
    order_id: str,
    rating: int,
    actor: Actor,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Completion:
    """Record the customer's 1-5 rating on a completed order."""
    at = _now(now)
    order, _ = _change(uow, order_id, expected_version, lambda o: o.rate(rating, actor, at))
    assert order.completion is not None
    return order.completion


def request_escalation(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    note: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> SlaEvent:
    """Ask for escalation (intermediate engineers and up)."""
    at = _now(now)
    _, event = _change(
        uow, order_id, expected_version, lambda o: o.request_escalation(actor, note, at)
    )
    return event


def monitor_sla(
    uow: UnitOfWork, now: datetime | None = None, at_risk_fraction: float = 0.8
) -> list[tuple[str, SlaEvent]]:
    """Evaluate every open order's SLA clocks; record and return new events."""
    at = _now(now)
    if not 0 < at_risk_fraction < 1:
        raise InvalidRequestError(
            f"at_risk_fraction must be between 0 and 1 (exclusive), got {at_risk_fraction}"
        )
    with uow:
        ids = [o.id for o in uow.orders.iter_all(OrderFilter(open_only=True))]
    events: list[tuple[str, SlaEvent]] = []
    for order_id in ids:
        try:
            with uow:
                order = uow.orders.get(order_id)
                if order is None:
                    continue
                new = evaluate_sla(order, at, at_risk_fraction)
                if new:
                    uow.orders.update(order)
                    uow.commit()
                    events.extend((order_id, e) for e in new)
        except VersionConflictError:
            log.debug("sla monitor skipped order=%s: changed meanwhile; next pass", order_id)
    return events


def suggest_assignees(
    uow: UnitOfWork, order_id: str, engineers: Sequence[Engineer], limit: int = 3
) -> list[Suggestion]:
    """Qualified engineers for an order, ranked by skills and open workload."""
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise OrderNotFoundError(order_id)
        workload = uow.orders.open_workload()
    return rank_engineers(order, engineers, workload, limit)


def kpis(
    uow: UnitOfWork,
    start: datetime,
    end: datetime,
    group_by: str | None = None,
    now: datetime | None = None,
) -> dict[str, KpiReport]:
    """KPIs of the orders created in ``[start, end)``, optionally grouped (see ``kpis``)."""
    at = _now(now)
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidRequestError("start and end must be aware UTC times with start < end")
    with uow:
        orders = list(uow.orders.iter_all(OrderFilter(created_from=start, created_to=end)))
    return compute_kpis(orders, at, group_by)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidRequestError("now must be timezone-aware (UTC)")
    return now.astimezone(UTC)
