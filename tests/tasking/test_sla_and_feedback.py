"""SLA monitor (at risk, breached, escalation), completion feedback, assignment suggestions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tasking_testkit import T0, make_flag, ns

from prognos.tasking import service
from prognos.tasking.catalog import Catalog
from prognos.tasking.domain import Actor, OrderStatus, Role, Verdict
from prognos.tasking.errors import InvalidRequestError, TransitionRefused
from prognos.tasking.registry import Registry
from prognos.tasking.uow import InMemoryUnitOfWork, SqlUnitOfWork, UnitOfWork

H = timedelta(hours=1)
PLANNER = Actor("pat", Role.PLANNER)


def test_monitor_flags_risk_then_breach_then_walks_the_chain(
    engine: Engine, catalog: Catalog, registry: Registry
) -> None:
    uow = SqlUnitOfWork(engine)
    # standard P3: first response due T0 + 8 h; chain: 0 m planner, 4 h senior, 1 d PM
    order = service.open_or_update_order(make_flag(device="pump-02"), uow, catalog, registry, T0)
    assert order is not None
    assert service.monitor_sla(uow, T0 + 6 * H) == []  # 75 % of 8 h: not yet at risk
    events = service.monitor_sla(uow, T0 + 6.5 * H)  # 81 %
    assert [(e.clock, e.kind) for _, e in events] == [("first_response", "at_risk")]
    events = service.monitor_sla(uow, T0 + 9 * H)
    assert [(e.clock, e.kind, e.role) for _, e in events] == [
        ("first_response", "breached", ""),
        ("escalation", "escalated", "planner"),
    ]
    assert service.monitor_sla(uow, T0 + 9 * H) == []  # each event once
    events = service.monitor_sla(uow, T0 + 12.5 * H)  # 4 h after the breach
    assert [(e.kind, e.role) for _, e in events] == [("escalated", "senior_engineer")]
    stored = service.get_order(uow, order.id)
    assert [e.kind for e in stored.sla_events] == ["at_risk", "breached", "escalated", "escalated"]
    # once answered, the missed clock no longer drives escalation
    service.assign(uow, order.id, "mid", PLANNER, now=T0 + 13 * H)
    assert service.monitor_sla(uow, T0 + 40 * H) == []


def test_monitor_ignores_closed_orders_and_checks_its_argument(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    order = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert order is not None
    service.transition(uow, order.id, OrderStatus.CANCELLED, PLANNER, now=T0)
    assert service.monitor_sla(uow, T0 + 100 * H) == []
    with pytest.raises(InvalidRequestError, match="at_risk_fraction"):
        service.monitor_sla(uow, T0, at_risk_fraction=1.5)


def _in_progress(uow: UnitOfWork, catalog: Catalog, registry: Registry) -> str:
    order = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert order is not None
    service.assign(uow, order.id, "mid", PLANNER, now=T0, registry=registry)
    service.transition(
        uow, order.id, OrderStatus.IN_PROGRESS, Actor("mid", Role.INTERMEDIATE_ENGINEER), now=T0
    )
    return order.id


def test_false_alarm_verdict_suppresses_that_mode_in_detection(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    order_id = _in_progress(uow, catalog, registry)
    calls: list[tuple[str, str, int]] = []
    done_at = T0 + 5 * H
    order = service.complete(
        uow,
        order_id,
        Actor("mid", Role.INTERMEDIATE_ENGINEER),
        "bearing fine; vibration from a loose guard",
        Verdict.FALSE_ALARM,
        rating=4,
        expected_version=3,
        now=done_at,
        on_false_alarm=lambda d, m, u: calls.append((d, m, u)),
        suppress_for=timedelta(days=3),
    )
    assert order.status == OrderStatus.RESOLVED
    assert calls == [("pump-01", "bearing_wear", ns(done_at + timedelta(days=3)))]


def test_confirmed_fault_does_not_suppress_and_a_failing_hook_keeps_the_order(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    order_id = _in_progress(uow, catalog, registry)
    calls: list[object] = []
    mid = Actor("mid", Role.INTERMEDIATE_ENGINEER)
    service.complete(
        uow, order_id, mid, "replaced", Verdict.CONFIRMED_FAULT, on_false_alarm=calls.append
    )
    assert calls == []
    other = service.open_or_update_order(
        make_flag(flag_id="x", device="pump-02"), uow, catalog, registry, T0
    )
    assert other is not None
    service.assign(uow, other.id, "mid", PLANNER, now=T0)
    service.transition(uow, other.id, OrderStatus.IN_PROGRESS, mid, now=T0)

    def broken(device: str, mode: str, until_ns: int) -> None:
        raise ConnectionError("detection is down")

    service.complete(uow, other.id, mid, "fine", Verdict.FALSE_ALARM, on_false_alarm=broken)
    assert service.get_order(uow, other.id).status == OrderStatus.RESOLVED


def test_suggestions_rank_by_qualification_skills_and_workload(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    bearing = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert bearing is not None
    ranked = service.suggest_assignees(uow, bearing.id, registry.engineers)
    # jun is not qualified; mid covers both skills; sen too but is over-qualified; mid2 covers half
    assert [s.engineer for s in ranked] == ["mid", "sen", "mid2"]
    assert ranked[0].score == 10.0 and ranked[2].missing_skills == ("bearing_replacement",)
    for i, mode in enumerate(["imbalance", "misalignment"]):
        other = service.open_or_update_order(
            make_flag(flag_id=f"o{i}", failure_mode=mode), uow, catalog, registry, T0
        )
        assert other is not None
        service.assign(uow, other.id, "mid", PLANNER, now=T0)
    ranked = service.suggest_assignees(uow, bearing.id, registry.engineers)
    assert [s.engineer for s in ranked] == ["sen", "mid", "mid2"]
    assert ranked[1].open_orders == 2
    inspection = service.open_or_update_order(
        make_flag(flag_id="i", failure_mode="unknown"), uow, catalog, registry, T0
    )
    assert inspection is not None
    assert (
        service.suggest_assignees(uow, inspection.id, registry.engineers, limit=1)[0].engineer
        == "jun"
    )


def test_assign_refuses_an_unqualified_engineer_from_the_registry(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    order = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert order is not None
    with pytest.raises(TransitionRefused, match="junior engineer jun is not authorised"):
        service.assign(uow, order.id, "jun", PLANNER, registry=registry, now=T0)
    assert service.get_order(uow, order.id).assignee is None
