"""The lifecycle and the seed's role matrix: every transition, every role."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from tasking_testkit import T0, make_flag

from prognos.tasking.catalog import Catalog
from prognos.tasking.domain import Actor, OrderStatus, Role, Verdict, WorkOrder
from prognos.tasking.errors import InvalidRequestError, PermissionRefused, TransitionRefused
from prognos.tasking.intake import new_order
from prognos.tasking.registry import Registry

S = OrderStatus
ENTRY = "pdm-bearing-wear"  # requires an intermediate engineer
ENGINEER_ROLES = (Role.JUNIOR_ENGINEER, Role.INTERMEDIATE_ENGINEER, Role.SENIOR_ENGINEER)

# The specification, written out: which role may take which edge. Engineers act
# on orders assigned to them (juniors authorised for the service); resolving is
# done by completing, so it is not a plain transition.
_WORK = {
    (S.ASSIGNED, S.IN_PROGRESS),
    (S.ASSIGNED, S.ON_HOLD),
    (S.IN_PROGRESS, S.ASSIGNED),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.ON_HOLD, S.IN_PROGRESS),
}
_DISPATCH = {
    (S.NEW, S.ASSIGNED),
    (S.NEW, S.ON_HOLD),
    (S.NEW, S.CANCELLED),
    (S.ASSIGNED, S.NEW),
    (S.ASSIGNED, S.ON_HOLD),
    (S.ASSIGNED, S.CANCELLED),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.ON_HOLD, S.NEW),
    (S.ON_HOLD, S.ASSIGNED),
    (S.ON_HOLD, S.CANCELLED),
}
_ALL_EDGES = (
    _WORK
    | _DISPATCH
    | {
        (S.IN_PROGRESS, S.CANCELLED),
        (S.RESOLVED, S.CLOSED),
        (S.RESOLVED, S.IN_PROGRESS),
    }
)
EXPECTED: dict[Role, set[tuple[OrderStatus, OrderStatus]]] = {
    Role.PLANNER: _DISPATCH,
    Role.JUNIOR_ENGINEER: _WORK,
    Role.INTERMEDIATE_ENGINEER: _WORK,
    Role.SENIOR_ENGINEER: _WORK
    | {(S.NEW, S.ASSIGNED), (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.IN_PROGRESS)},
    Role.PROJECT_MANAGER: _ALL_EDGES,
    Role.ADMIN: _ALL_EDGES,
}


def actor_for(role: Role) -> Actor:
    return Actor("alex", role, frozenset({ENTRY}))


def order_in(catalog: Catalog, status: OrderStatus, assignee: str | None = "alex") -> WorkOrder:
    order = new_order(make_flag(), catalog, Registry(), T0)
    order.status = status
    order.assignee = None if status == S.NEW else assignee
    return order


TARGETS = [s for s in OrderStatus if s != S.RESOLVED]


@pytest.mark.parametrize("role", list(Role))
def test_every_transition_allowed_or_refused_per_role(catalog: Catalog, role: Role) -> None:
    refused = 0
    for start, to in itertools.product(OrderStatus, TARGETS):
        if start == to:
            continue
        order = order_in(catalog, start)
        if (start, to) == (S.NEW, S.ASSIGNED):
            order.assignee = "alex"  # assignment sets it before the move
        allowed = (start, to) in EXPECTED[role]
        if allowed:
            order.transition(to, actor_for(role), "ok", T0 + timedelta(hours=1))
            assert order.status == to
            entry = order.history[-1]
            assert (entry.from_status, entry.to_status, entry.actor, entry.role) == (
                start,
                to,
                "alex",
                role.value,
            )
        else:
            with pytest.raises(TransitionRefused) as info:
                order.transition(to, actor_for(role), "no", T0)
            assert info.value.reason
            assert order.status == start
            refused += 1
    assert refused > 0


def test_illegal_edges_name_the_legal_ones(catalog: Catalog) -> None:
    admin = Actor("root", Role.ADMIN)
    with pytest.raises(TransitionRefused, match=r"not a legal transition.*from new"):
        order_in(catalog, S.NEW).transition(S.IN_PROGRESS, admin)
    with pytest.raises(TransitionRefused, match="final"):
        order_in(catalog, S.CLOSED).transition(S.IN_PROGRESS, admin)
    with pytest.raises(TransitionRefused, match="complet"):
        order_in(catalog, S.IN_PROGRESS).transition(S.RESOLVED, admin)
    with pytest.raises(ValueError):
        order_in(catalog, S.NEW).transition("teleported", admin)


def test_refusals_say_whether_the_actor_or_the_change_is_wrong(catalog: Catalog) -> None:
    # An illegal edge is about the order, whoever asks: not a permission problem.
    with pytest.raises(TransitionRefused) as illegal:
        order_in(catalog, S.NEW).transition(S.IN_PROGRESS, Actor("root", Role.ADMIN))
    assert not isinstance(illegal.value, PermissionRefused)
    # A legal edge refused for the role is.
    with pytest.raises(PermissionRefused, match="may not"):
        order_in(catalog, S.NEW).transition(S.CANCELLED, Actor("jo", Role.JUNIOR_ENGINEER))


def test_junior_only_on_services_they_are_authorised_for(catalog: Catalog) -> None:
    order = order_in(catalog, S.ASSIGNED, assignee="jo")
    with pytest.raises(PermissionRefused, match="not authorised for service pdm-bearing-wear"):
        order.transition(S.IN_PROGRESS, Actor("jo", Role.JUNIOR_ENGINEER))
    order.transition(S.IN_PROGRESS, Actor("jo", Role.JUNIOR_ENGINEER, frozenset({ENTRY})))
    assert order.status == S.IN_PROGRESS


def test_engineers_work_only_on_their_own_orders_except_seniors(catalog: Catalog) -> None:
    order = order_in(catalog, S.ASSIGNED, assignee="kim")
    with pytest.raises(PermissionRefused, match="not the assignee"):
        order.transition(S.IN_PROGRESS, Actor("lee", Role.INTERMEDIATE_ENGINEER))
    order.transition(S.IN_PROGRESS, Actor("sam", Role.SENIOR_ENGINEER))
    assert order.status == S.IN_PROGRESS


def test_level_below_the_entry_needs_an_authorisation(catalog: Catalog) -> None:
    order = new_order(
        make_flag(failure_mode="refrigerant_leak", asset_type="chiller"), catalog, Registry(), T0
    )
    assert order.required_level.value == "senior"
    order.status, order.assignee = S.ASSIGNED, "kim"
    with pytest.raises(TransitionRefused, match="needs senior"):
        order.transition(S.IN_PROGRESS, Actor("kim", Role.INTERMEDIATE_ENGINEER))
    order.transition(
        S.IN_PROGRESS, Actor("kim", Role.INTERMEDIATE_ENGINEER, frozenset({order.catalog_entry_id}))
    )


def test_closing_is_approved_by_senior_or_the_entry_verifier(catalog: Catalog) -> None:
    for role in (Role.PLANNER, *ENGINEER_ROLES[:2]):
        with pytest.raises(TransitionRefused, match="may not"):
            order_in(catalog, S.RESOLVED).transition(S.CLOSED, actor_for(role))
    order = order_in(catalog, S.RESOLVED)
    order.transition(S.CLOSED, Actor("sam", Role.SENIOR_ENGINEER), "verified on site", T0)
    assert order.closed_at == T0
    custom = order_in(catalog, S.RESOLVED)
    custom.verify_role = Role.PLANNER
    custom.transition(S.CLOSED, Actor("pat", Role.PLANNER))
    assert custom.status == S.CLOSED


def test_escalation_requests_from_intermediate_up(catalog: Catalog) -> None:
    order = order_in(catalog, S.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="may not request escalation"):
        order.request_escalation(actor_for(Role.JUNIOR_ENGINEER), "help", T0)
    with pytest.raises(TransitionRefused, match="may not request escalation"):
        order.request_escalation(actor_for(Role.PLANNER), "help", T0)
    event = order.request_escalation(
        actor_for(Role.INTERMEDIATE_ENGINEER), "cross-module fault", T0
    )
    assert event.kind == "escalation_requested" and event.role == "intermediate_engineer"
    assert order.sla_events == [event]
    assert order.history[-1].action == "escalate"


def test_assign_checks_role_status_and_qualification(catalog: Catalog) -> None:
    order = order_in(catalog, S.NEW)
    with pytest.raises(TransitionRefused, match="may not assign"):
        order.assign("kim", actor_for(Role.JUNIOR_ENGINEER), T0)
    with pytest.raises(TransitionRefused, match="junior engineer jo is not authorised"):
        order.assign("jo", Actor("pat", Role.PLANNER), T0, level=order.required_level.JUNIOR)
    with pytest.raises(InvalidRequestError, match="assignee"):
        order.assign("  ", Actor("pat", Role.PLANNER), T0)
    order.assign("kim", Actor("pat", Role.PLANNER), T0 + timedelta(minutes=5))
    assert (order.status, order.assignee) == (S.ASSIGNED, "kim")
    assert order.first_response_at == T0 + timedelta(minutes=5)
    order.assign("lee", Actor("pat", Role.PLANNER), T0 + timedelta(minutes=9))
    assert order.history[-1].note == "assigned to lee (was kim)"
    assert order.first_response_at == T0 + timedelta(minutes=5)
    closed = order_in(catalog, S.CLOSED)
    with pytest.raises(TransitionRefused, match="cannot be"):
        closed.assign("kim", Actor("pat", Role.PLANNER), T0)


def test_completion_validates_and_records_everything(catalog: Catalog) -> None:
    order = order_in(catalog, S.IN_PROGRESS, assignee="kim")
    kim = Actor("kim", Role.INTERMEDIATE_ENGINEER)
    steps = len(order.sop_checklist)
    with pytest.raises(InvalidRequestError, match="notes"):
        order.complete(kim, " ", Verdict.CONFIRMED_FAULT)
    with pytest.raises(InvalidRequestError, match="verdict"):
        order.complete(kim, "done", "maybe")
    with pytest.raises(InvalidRequestError, match="rating"):
        order.complete(kim, "done", Verdict.CONFIRMED_FAULT, rating=6)
    with pytest.raises(InvalidRequestError, match="checklist"):
        order.complete(kim, "done", Verdict.CONFIRMED_FAULT, checklist=[True])
    with pytest.raises(PermissionRefused, match="not the assignee"):
        order.complete(Actor("lee", Role.INTERMEDIATE_ENGINEER), "done", Verdict.CONFIRMED_FAULT)
    assert order.status == S.IN_PROGRESS
    done = order.complete(
        kim, "bearing replaced", "confirmed_fault", 5, [True] * steps, T0 + timedelta(hours=3)
    )
    assert order.status == S.RESOLVED and order.resolved_at == T0 + timedelta(hours=3)
    assert (done.verdict, done.rating, done.by) == (Verdict.CONFIRMED_FAULT, 5, "kim")
    assert all(item.done for item in order.sop_checklist)
    with pytest.raises(TransitionRefused, match="frozen"):
        order.set_step(0, False, kim)
    # reopening by a senior clears the completion
    order.transition(S.IN_PROGRESS, Actor("sam", Role.SENIOR_ENGINEER), "vibration still high")
    assert order.completion is None and order.resolved_at is None


def test_rating_needs_a_completed_order(catalog: Catalog) -> None:
    order = order_in(catalog, S.IN_PROGRESS, assignee="kim")
    with pytest.raises(TransitionRefused, match="completed"):
        order.rate(4, actor_for(Role.PLANNER))
    order.complete(Actor("kim", Role.INTERMEDIATE_ENGINEER), "ok", Verdict.OTHER_CAUSE)
    order.rate(4, actor_for(Role.PLANNER), T0)
    assert order.completion is not None and order.completion.rating == 4
    with pytest.raises(InvalidRequestError):
        order.rate(0, actor_for(Role.PLANNER))
