"""The queue in SLA-urgency order: earliest unmet due time first, then priority.

The store pages by creation time; urgency changes with the clock, so this
sorts the matching orders in memory (bounded) and pages with a cursor that
names the last row's sort key, which stays valid while orders change.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prognos.api.order_views import OrderPageOut, WorkOrderSummary, sla_view, summary
from prognos.api.problems import BadRequestError
from prognos.tasking import service
from prognos.tasking.domain import WorkOrder
from prognos.tasking.repository import OrderFilter

#: Beyond this many matching orders the SLA sort refuses and asks for narrower filters.
MAX_SLA_SORT = 20_000


def _sla_key(order: WorkOrder, now: datetime) -> tuple[float, int, str]:
    _, _, due = sla_view(order, now)
    due_s = due.timestamp() if due is not None else float("inf")
    return due_s, order.priority.rank, order.id


def _encode(key: tuple[float, int, str]) -> str:
    due = None if key[0] == float("inf") else key[0]
    raw = json.dumps([due, key[1], key[2]]).encode()
    return "s." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor[2:] + "=" * (-len(cursor[2:]) % 4))
        due, rank, order_id = json.loads(raw)
        return (float("inf") if due is None else float(due)), int(rank), str(order_id)
    except (ValueError, TypeError) as exc:
        raise BadRequestError(f"cursor {cursor!r} is not one this service issued") from exc


def sla_page(
    uow_factory: Callable[[], Any],
    filters: OrderFilter,
    sla_state: str | None,
    limit: int,
    cursor: str | None,
) -> OrderPageOut:
    """One page of the matching orders, most urgent first, optionally of one SLA state."""
    now = datetime.now(UTC)
    orders: list[WorkOrder] = []
    page_cursor: str | None = None
    while True:
        page = service.list_orders(uow_factory(), filters, 500, page_cursor)
        orders.extend(page.items)
        if len(orders) > MAX_SLA_SORT:
            raise BadRequestError(
                f"more than {MAX_SLA_SORT} orders match; narrow the filters or sort=created"
            )
        if page.next_cursor is None:
            break
        page_cursor = page.next_cursor
    if sla_state is not None:
        orders = [o for o in orders if sla_view(o, now)[0] == sla_state]
    keyed = sorted(((_sla_key(o, now), o) for o in orders), key=lambda pair: pair[0])
    if cursor is not None:
        after = _decode(cursor)
        keyed = [pair for pair in keyed if pair[0] > after]
    chosen = keyed[:limit]
    next_cursor = _encode(chosen[-1][0]) if len(keyed) > limit else None
    return OrderPageOut(
        items=[WorkOrderSummary(**summary(o, now)) for _, o in chosen], next_cursor=next_cursor
    )
