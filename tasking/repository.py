"""The work-order repository port, its SQL adapter and an in-memory fake.

Use cases talk to ``Repository`` only. ``SqlRepository`` runs on a
connection owned by a unit of work (SQLite or PostgreSQL); ``InMemoryRepository``
backs fast domain tests. Both enforce one open order per (device, failure
mode) and optimistic concurrency on ``version``.
"""

from __future__ import annotations

import base64
import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from prognos.tasking.codec import order_from_dict, order_to_dict
from prognos.tasking.domain import OPEN_STATUSES, OrderStatus, WorkOrder
from prognos.tasking.errors import InvalidRequestError, TaskingError, VersionConflictError
from prognos.tasking.schema import work_orders

MAX_PAGE = 500


class DuplicateOpenOrderError(TaskingError):
    """An open order already exists for this device and failure mode."""


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders to list; every field given must match (sets match any member)."""

    status: frozenset[str] = frozenset()
    open_only: bool = False
    device: str | None = None
    site: str | None = None
    customer: str | None = None
    tier: str | None = None
    asset_type: str | None = None
    failure_mode: str | None = None
    category: str | None = None
    priority: str | None = None
    catalog_entry_id: str | None = None
    assignee: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders, newest first, and the cursor of the next page (None at the end)."""

    items: list[WorkOrder] = field(default_factory=list)
    next_cursor: str | None = None


def open_key(order: WorkOrder) -> str | None:
    if order.status not in OPEN_STATUSES:
        return None
    return make_open_key(order.device, order.flag_kind, order.failure_mode)


def make_open_key(device: str, flag_kind: str, failure_mode: str) -> str:
    """The uniqueness key of an open order: one per device, fault kind and failure mode."""
    return f"{device}|{flag_kind}|{failure_mode}"


def encode_cursor(order: WorkOrder) -> str:
    raw = json.dumps([order.created_at.isoformat(), order.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, order_id = json.loads(raw)
        return datetime.fromisoformat(created), str(order_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"cursor {cursor!r} is not one this service issued") from exc


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be a whole number 1 to {MAX_PAGE}, got {limit!r}")
    return limit


class Repository(ABC):
    """Where work orders live."""

    @abstractmethod
    def add(self, order: WorkOrder) -> None:
        """Store a new order (version becomes 1); ``DuplicateOpenOrderError`` if one is open."""

    @abstractmethod
    def get(self, order_id: str) -> WorkOrder | None: ...

    @abstractmethod
    def get_open(
        self, device: str, failure_mode: str, flag_kind: str = "equipment"
    ) -> WorkOrder | None:
        """The open order for a device and failure mode, if there is one."""

    @abstractmethod
    def update(self, order: WorkOrder) -> None:
        """Save changes if nobody else did since it was read; bumps ``version``."""

    @abstractmethod
    def list(
        self, filters: OrderFilter, limit: int = 50, cursor: str | None = None
    ) -> OrderPage: ...

    def iter_all(self, filters: OrderFilter, batch: int = 200) -> Iterator[WorkOrder]:
        """Every matching order, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            page = self.list(filters, batch, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @abstractmethod
    def open_workload(self) -> dict[str, int]:
        """Open orders per assignee."""


class SqlRepository(Repository):
    """Repository over an SQLAlchemy connection (SQLite or PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _row(self, order: WorkOrder) -> dict[str, Any]:
        return {
            "device": order.device,
            "site": order.site,
            "customer": order.customer,
            "tier": order.tier.value,
            "asset_type": order.asset_type,
            "flag_kind": order.flag_kind,
            "failure_mode": order.failure_mode,
            "catalog_entry_id": order.catalog_entry_id,
            "category": order.category,
            "priority": order.priority.value,
            "status": order.status.value,
            "assignee": order.assignee,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "resolve_due_at": order.resolve_due_at,
            "open_key": open_key(order),
        }

    def add(self, order: WorkOrder) -> None:
        order.version = 1
        row = self._row(order) | {"id": order.id, "version": 1, "body": order_to_dict(order)}
        try:
            with self.conn.begin_nested():
                self.conn.execute(work_orders.insert().values(**row))
        except IntegrityError as exc:
            order.version = 0
            raise DuplicateOpenOrderError(
                f"an open order exists for {order.device} / {order.failure_mode}"
            ) from exc

    def get(self, order_id: str) -> WorkOrder | None:
        body = self.conn.execute(
            select(work_orders.c.body, work_orders.c.version).where(work_orders.c.id == order_id)
        ).first()
        return None if body is None else _load(body[0], body[1])

    def get_open(
        self, device: str, failure_mode: str, flag_kind: str = "equipment"
    ) -> WorkOrder | None:
        body = self.conn.execute(
            select(work_orders.c.body, work_orders.c.version).where(
                work_orders.c.open_key == make_open_key(device, flag_kind, failure_mode)
            )
        ).first()
        return None if body is None else _load(body[0], body[1])

    def update(self, order: WorkOrder) -> None:
        expected = order.version
        order.version = expected + 1
        values = self._row(order) | {"version": expected + 1, "body": order_to_dict(order)}
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(
                    work_orders.update()
                    .where(and_(work_orders.c.id == order.id, work_orders.c.version == expected))
                    .values(**values)
                )
        except IntegrityError as exc:
            order.version = expected
            raise DuplicateOpenOrderError(
                f"another order is open for {order.device} / {order.failure_mode}"
            ) from exc
        if result.rowcount != 1:
            order.version = expected
            actual = self.conn.execute(
                select(work_orders.c.version).where(work_orders.c.id == order.id)
            ).scalar()
            raise VersionConflictError(order.id, expected, actual)

    def list(self, filters: OrderFilter, limit: int = 50, cursor: str | None = None) -> OrderPage:
        check_limit(limit)
        c = work_orders.c
        query = select(c.body, c.version).where(*_conditions(filters))
        if cursor is not None:
            created, order_id = decode_cursor(cursor)
            query = query.where(
                or_(c.created_at < created, and_(c.created_at == created, c.id < order_id))
            )
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
        rows = self.conn.execute(query).all()
        items = [_load(body, version) for body, version in rows[:limit]]
        next_cursor = encode_cursor(items[-1]) if len(rows) > limit and items else None
        return OrderPage(items, next_cursor)

    def open_workload(self) -> dict[str, int]:
        c = work_orders.c
        rows = self.conn.execute(
            select(c.assignee, func.count())
            .where(c.open_key.is_not(None), c.assignee.is_not(None))
            .group_by(c.assignee)
        ).all()
        return {str(name): int(count) for name, count in rows}


#: OrderFilter fields that match one column by equality (SQL and in-memory alike).
EQUALITY_FILTERS = (
    "device",
    "site",
    "customer",
    "tier",
    "asset_type",
    "failure_mode",
    "category",
    "priority",
    "catalog_entry_id",
    "assignee",
)


def _conditions(f: OrderFilter) -> list[Any]:
    c = work_orders.c
    out: list[Any] = []
    if f.status:
        out.append(c.status.in_(sorted(f.status)))
    if f.open_only:
        out.append(c.open_key.is_not(None))
    for name in EQUALITY_FILTERS:
        value = getattr(f, name)
        if value is not None:
            out.append(getattr(c, name) == value)
    if f.created_from is not None:
        out.append(c.created_at >= f.created_from)
    if f.created_to is not None:
        out.append(c.created_at < f.created_to)
    return out


def _load(body: Any, version: int) -> WorkOrder:
    data = json.loads(body) if isinstance(body, str) else body
    order = order_from_dict(data)
    order.version = int(version)
    return order


class InMemoryRepository(Repository):
    """A dict-backed fake with the same rules, for fast tests of the use cases."""

    def __init__(self, store: dict[str, WorkOrder] | None = None) -> None:
        self.store: dict[str, WorkOrder] = store if store is not None else {}

    def add(self, order: WorkOrder) -> None:
        if order.id in self.store:
            raise DuplicateOpenOrderError(f"order id {order.id} exists")
        key = open_key(order)
        if key is not None and any(open_key(o) == key for o in self.store.values()):
            raise DuplicateOpenOrderError(f"an open order exists for {key}")
        order.version = 1
        self.store[order.id] = copy.deepcopy(order)

    def get(self, order_id: str) -> WorkOrder | None:
        order = self.store.get(order_id)
        return copy.deepcopy(order) if order is not None else None

    def get_open(
        self, device: str, failure_mode: str, flag_kind: str = "equipment"
    ) -> WorkOrder | None:
        key = make_open_key(device, flag_kind, failure_mode)
        found = next((o for o in self.store.values() if open_key(o) == key), None)
        return copy.deepcopy(found) if found is not None else None

    def update(self, order: WorkOrder) -> None:
        current = self.store.get(order.id)
        if current is None or current.version != order.version:
            raise VersionConflictError(
                order.id, order.version, None if current is None else current.version
            )
        order.version += 1
        self.store[order.id] = copy.deepcopy(order)

    def list(self, filters: OrderFilter, limit: int = 50, cursor: str | None = None) -> OrderPage:
        check_limit(limit)
        items = sorted(self.store.values(), key=lambda o: (o.created_at, o.id), reverse=True)
        items = [o for o in items if _matches(o, filters)]
        if cursor is not None:
            created, order_id = decode_cursor(cursor)
            items = [o for o in items if (o.created_at, o.id) < (created, order_id)]
        page = [copy.deepcopy(o) for o in items[:limit]]
        return OrderPage(page, encode_cursor(page[-1]) if len(items) > limit else None)

    def open_workload(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for order in self.store.values():
            if order.is_open and order.assignee:
                out[order.assignee] = out.get(order.assignee, 0) + 1
        return out


def _matches(order: WorkOrder, f: OrderFilter) -> bool:
    if f.status and order.status.value not in f.status:
        return False
    if f.open_only and order.status not in OPEN_STATUSES:
        return False
    for name in EQUALITY_FILTERS:
        value = getattr(f, name)
        if value is not None and str(getattr(order, name)) != value:
            return False
    if f.created_from is not None and order.created_at < f.created_from:
        return False
    return not (f.created_to is not None and order.created_at >= f.created_to)


__all__ = [
    "DuplicateOpenOrderError",
    "InMemoryRepository",
    "OrderFilter",
    "OrderPage",
    "OrderStatus",
    "Repository",
    "SqlRepository",
]
