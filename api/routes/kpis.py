"""KPIs: the tasking KPIs over a period, grouped, for reports and the KPI page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from prognos.api.auth import User
from prognos.api.deps import Deps, require_role
from prognos.api.jsonable import to_jsonable
from prognos.api.problems import BadRequestError
from prognos.api.roles import roles_for
from prognos.tasking import service
from prognos.tasking.kpis import GROUP_FIELDS

router = APIRouter(prefix="/api/v1", tags=["kpis"])

GROUP_BYS = (*GROUP_FIELDS, "none")
MAX_PERIOD = timedelta(days=3660)

KpiReader = Annotated[User, Depends(require_role(*roles_for("kpis")))]


def _aware(value: datetime | None, default: datetime, name: str) -> datetime:
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not datetime(1970, 1, 2, tzinfo=UTC) <= value <= datetime(9000, 1, 1, tzinfo=UTC):
        raise BadRequestError(f"{name} {value.isoformat()} is out of the supported range")
    return value


class KpiGroup(BaseModel):
    key: str
    values: dict[str, float | int | None]


class KpiOut(BaseModel):
    """Durations in seconds, rates as fractions (0.95 = 95 %); None when nothing to measure."""

    start: str
    end: str
    group_by: str
    totals: dict[str, float | int | None]
    groups: list[KpiGroup]


def _values(report: Any) -> dict[str, float | int | None]:
    data: dict[str, Any] = to_jsonable(report)
    data.pop("group", None)
    return data


@router.get("/kpis", response_model=KpiOut, summary="Tasking KPIs over a period, grouped")
def get_kpis(
    deps: Deps,
    user: KpiReader,
    start: Annotated[datetime | None, Query(description="Default: 30 days ago")] = None,
    end: Annotated[datetime | None, Query(description="Period end (ISO-8601); default now")] = None,
    group_by: Annotated[str, Query(description="One of: " + ", ".join(GROUP_BYS))] = "category",
) -> KpiOut:
    if group_by not in GROUP_BYS:
        raise BadRequestError(f"group_by {group_by!r} is not one of {', '.join(GROUP_BYS)}")
    now = datetime.now(UTC)
    end_at = _aware(end, now, "end")
    start_at = _aware(start, end_at - timedelta(days=30), "start")
    if start_at >= end_at:
        raise BadRequestError("start must be before end")
    if end_at - start_at > MAX_PERIOD:
        raise BadRequestError("the period may span at most ten years")
    totals = service.kpis(deps.uow_factory(), start_at, end_at, None)
    grouped = (
        service.kpis(deps.uow_factory(), start_at, end_at, group_by) if group_by != "none" else {}
    )
    all_orders = totals.get("all")
    return KpiOut(
        start=start_at.isoformat(),
        end=end_at.isoformat(),
        group_by=group_by,
        totals=_values(all_orders) if all_orders is not None else {"orders": 0},
        groups=[KpiGroup(key=key, values=_values(r)) for key, r in grouped.items()],
    )
