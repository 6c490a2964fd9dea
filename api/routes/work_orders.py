"""Work orders: the queue, one order with its evidence, and every change planners make.

Routes call tasking's use cases only; each change answers with the order as
it now stands and is published as a ``work_order.changed`` event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from prognos.api.auth import User
from prognos.api.deps import ApiDeps, CurrentUser, Deps, require_role
from prognos.api.evidence import gather_telemetry
from prognos.api.order_views import (
    Evidence,
    OrderPageOut,
    WorkOrderDetail,
    WorkOrderSummary,
    detail,
    evidence_times,
    flag_evidence,
    ms,
    order_event_data,
    summary,
)
from prognos.api.problems import BadRequestError
from prognos.api.queue import sla_page
from prognos.api.roles import roles_for
from prognos.tasking import service
from prognos.tasking.domain import Actor, Role, WorkOrder
from prognos.tasking.repository import OrderFilter

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])

OrderId = Annotated[str, Path(min_length=1, max_length=64, description="Work-order id")]
Transitioner = Annotated[User, Depends(require_role(*roles_for("transition")))]
Assigner = Annotated[User, Depends(require_role(*roles_for("assign")))]
Commenter = Annotated[User, Depends(require_role(*roles_for("comment")))]
Completer = Annotated[User, Depends(require_role(*roles_for("complete")))]
Rater = Annotated[User, Depends(require_role(*roles_for("rate")))]


# -- request bodies ------------------------------------------------------------


class TransitionIn(BaseModel):
    to: str = Field(min_length=1, max_length=32, description="Target status, e.g. in_progress")
    note: str = Field("", max_length=2000)
    expected_version: int = Field(ge=0, description="The version the client last read")


class AssignmentIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=2000)
    expected_version: int = Field(ge=0)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    expected_version: int | None = Field(None, ge=0, description="Optional concurrency check")


class StepIn(BaseModel):
    done: bool
    expected_version: int | None = Field(None, ge=0)


class RatingIn(BaseModel):
    rating: int = Field(ge=1, le=5, description="Customer rating 1-5")
    expected_version: int | None = Field(None, ge=0)


class EscalationIn(BaseModel):
    note: str = Field("", max_length=2000)
    expected_version: int | None = Field(None, ge=0)


class CompletionIn(BaseModel):
    notes: str = Field(min_length=1, max_length=5000, description="What was found and done")
    verdict: str = Field(description="confirmed_fault, false_alarm or other_cause")
    rating: int | None = Field(None, ge=1, le=5, description="Customer rating 1-5")
    checklist: list[bool] | None = Field(None, max_length=500, description="SOP steps done")
    expected_version: int = Field(ge=0)


# -- helpers -------------------------------------------------------------------


def actor_for(user: User, deps: ApiDeps) -> Actor:
    """The domain actor for a signed-in user; engineers carry their registry authorisations."""
    engineer = deps.registry.engineer(user.name) if deps.registry is not None else None
    authorised = engineer.authorised_entries if engineer is not None else frozenset()
    return Actor(user.name, Role(user.role), frozenset(authorised))


def _publish(deps: ApiDeps, kind: str, order: WorkOrder, user: User) -> None:
    deps.events.publish(f"work_order.{kind}", order_event_data(order, by=user.name))


# -- routes --------------------------------------------------------------------


@router.get(
    "",
    response_model=OrderPageOut,
    summary="The queue: filter, sort by SLA urgency (default) or creation, page by cursor",
)
def list_work_orders(
    deps: Deps,
    user: CurrentUser,
    status: Annotated[
        list[str] | None, Query(description="Repeat or comma-separate for several")
    ] = None,
    open: Annotated[bool, Query(description="Only orders still open")] = False,
    site: Annotated[str | None, Query(max_length=200)] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    tier: Annotated[str | None, Query(pattern="^(vip|standard)$")] = None,
    priority: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    device: Annotated[str | None, Query(max_length=200)] = None,
    asset_type: Annotated[str | None, Query(max_length=64)] = None,
    failure_mode: Annotated[str | None, Query(max_length=64)] = None,
    catalog_entry_id: Annotated[str | None, Query(max_length=100)] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    sla_state: Annotated[str | None, Query(pattern="^(ok|at_risk|breached|met)$")] = None,
    created_from: Annotated[datetime | None, Query(description="Period start (inclusive)")] = None,
    created_to: Annotated[datetime | None, Query(description="Period end (exclusive)")] = None,
    sort: Annotated[str, Query(pattern="^(sla|created)$")] = "sla",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> OrderPageOut:
    statuses = frozenset(s.strip() for raw in status or [] for s in raw.split(",") if s.strip())
    known = {"new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled"}
    unknown = sorted(statuses - known)
    if unknown:
        raise BadRequestError(
            f"unknown status {', '.join(unknown)}; use {', '.join(sorted(known))}"
        )
    filters = OrderFilter(
        status=statuses,
        open_only=open,
        device=device,
        site=site,
        customer=customer,
        tier=tier,
        asset_type=asset_type,
        failure_mode=failure_mode,
        category=category,
        priority=priority,
        catalog_entry_id=catalog_entry_id,
        assignee=assignee,
        created_from=_aware(created_from),
        created_to=_aware(created_to),
    )
    if sort == "sla" or sla_state is not None:
        if cursor is not None and not cursor.startswith("s."):
            raise BadRequestError("this cursor belongs to sort=created")
        return sla_page(deps.uow_factory, filters, sla_state, limit, cursor)
    if cursor is not None and not cursor.startswith("c."):
        raise BadRequestError("this cursor belongs to sort=sla")
    page = service.list_orders(deps.uow_factory(), filters, limit, cursor[2:] if cursor else None)
    now = datetime.now(UTC)
    return OrderPageOut(
        items=[WorkOrderSummary(**summary(o, now)) for o in page.items],
        next_cursor=f"c.{page.next_cursor}" if page.next_cursor else None,
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get(
    "/{order_id}",
    response_model=WorkOrderDetail,
    summary="One order with its evidence: flags and the telemetry window around them",
)
def get_work_order(
    order_id: OrderId,
    deps: Deps,
    user: CurrentUser,
    evidence: Annotated[bool, Query(description="Include flags and telemetry")] = True,
    max_points: Annotated[int, Query(ge=10, le=2000, description="Per metric")] = 400,
) -> WorkOrderDetail:
    order = service.get_order(deps.uow_factory(), order_id)
    ev: Evidence | None = None
    if evidence:
        windows, predicted_ns = evidence_times(order)
        tele = gather_telemetry(order.device, windows, deps.telemetry, max_points)
        ev = Evidence(
            flags=flag_evidence(order),
            window_start_ms=ms(min((f.window_start_at for f in order.flags), default=None)),
            window_end_ms=ms(max((f.window_end_at for f in order.flags), default=None)),
            predicted_failure_ms=None if predicted_ns is None else predicted_ns // 1_000_000,
            read_start_ms=None if tele.read_start_ns is None else tele.read_start_ns // 1_000_000,
            read_end_ms=None if tele.read_end_ns is None else tele.read_end_ns // 1_000_000,
            telemetry=tele.telemetry,
            telemetry_note=tele.note,
        )
    return detail(order, actor_for(user, deps), datetime.now(UTC), ev)


def _answer(deps: ApiDeps, order: WorkOrder, user: User, kind: str = "changed") -> WorkOrderDetail:
    _publish(deps, kind, order, user)
    return detail(order, actor_for(user, deps), datetime.now(UTC), None)


@router.post(
    "/{order_id}/transitions",
    response_model=WorkOrderDetail,
    summary="Move an order to another status (the domain checks role, assignee, level)",
)
def post_transition(
    order_id: OrderId, body: TransitionIn, deps: Deps, user: Transitioner
) -> WorkOrderDetail:
    order = service.transition(
        deps.uow_factory(),
        order_id,
        body.to,
        actor_for(user, deps),
        body.note,
        body.expected_version,
    )
    return _answer(deps, order, user)


@router.put("/{order_id}/assignment", response_model=WorkOrderDetail, summary="Assign an order")
def put_assignment(
    order_id: OrderId, body: AssignmentIn, deps: Deps, user: Assigner
) -> WorkOrderDetail:
    order = service.assign(
        deps.uow_factory(),
        order_id,
        body.assignee,
        actor_for(user, deps),
        body.expected_version,
        registry=deps.registry,
        note=body.note,
    )
    return _answer(deps, order, user)


class AssigneeSuggestion(BaseModel):
    """A qualified engineer for the order, ranked by skills and open workload."""

    engineer: str
    level: str
    score: float
    open_orders: int
    matched_skills: list[str]
    missing_skills: list[str]
    reason: str


@router.get(
    "/{order_id}/assignee-suggestions",
    response_model=list[AssigneeSuggestion],
    summary="Qualified engineers for an order, best first (registry engineers)",
)
def get_assignee_suggestions(
    order_id: OrderId,
    deps: Deps,
    user: Assigner,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> list[AssigneeSuggestion]:
    engineers = getattr(deps.registry, "engineers", ())
    ranked = service.suggest_assignees(deps.uow_factory(), order_id, engineers, limit)
    return [
        AssigneeSuggestion(
            engineer=s.engineer,
            level=str(s.level),
            score=s.score,
            open_orders=s.open_orders,
            matched_skills=list(s.matched_skills),
            missing_skills=list(s.missing_skills),
            reason=s.reason,
        )
        for s in ranked
    ]


@router.post("/{order_id}/comments", response_model=WorkOrderDetail, summary="Add a comment")
def post_comment(
    order_id: OrderId, body: CommentIn, deps: Deps, user: Commenter
) -> WorkOrderDetail:
    uow = deps.uow_factory()
    service.comment(uow, order_id, actor_for(user, deps), body.text, body.expected_version)
    return _answer(deps, service.get_order(uow, order_id), user)


@router.post(
    "/{order_id}/completion",
    response_model=WorkOrderDetail,
    summary="Complete (resolve) an order with notes, verdict and optional rating",
)
def post_completion(
    order_id: OrderId, body: CompletionIn, deps: Deps, user: Completer
) -> WorkOrderDetail:
    order = service.complete(
        deps.uow_factory(),
        order_id,
        actor_for(user, deps),
        body.notes,
        body.verdict,
        body.rating,
        body.checklist,
        body.expected_version,
        on_false_alarm=deps.on_false_alarm,
    )
    return _answer(deps, order, user)


@router.put(
    "/{order_id}/checklist/{index}",
    response_model=WorkOrderDetail,
    summary="Tick or untick one SOP checklist step (0-based index)",
)
def put_checklist_step(
    order_id: OrderId,
    index: Annotated[int, Path(ge=0, le=499)],
    body: StepIn,
    deps: Deps,
    user: Completer,
) -> WorkOrderDetail:
    order = service.set_step(
        deps.uow_factory(), order_id, index, body.done, actor_for(user, deps), body.expected_version
    )
    return _answer(deps, order, user)


@router.post(
    "/{order_id}/rating", response_model=WorkOrderDetail, summary="Record the customer's rating"
)
def post_rating(order_id: OrderId, body: RatingIn, deps: Deps, user: Rater) -> WorkOrderDetail:
    uow = deps.uow_factory()
    service.rate(uow, order_id, body.rating, actor_for(user, deps), body.expected_version)
    return _answer(deps, service.get_order(uow, order_id), user)


@router.post(
    "/{order_id}/escalation",
    response_model=WorkOrderDetail,
    summary="Ask for escalation (intermediate engineers and up)",
)
def post_escalation(
    order_id: OrderId, body: EscalationIn, deps: Deps, user: Transitioner
) -> WorkOrderDetail:
    uow = deps.uow_factory()
    service.request_escalation(
        uow, order_id, actor_for(user, deps), body.note, body.expected_version
    )
    return _answer(deps, service.get_order(uow, order_id), user)
