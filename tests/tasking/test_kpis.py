"""KPIs on a hand-built history whose every number is worked out in the comments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tasking_testkit import T0, make_flag

from prognos.detection.flags import FlagKind
from prognos.tasking import service
from prognos.tasking.catalog import Catalog
from prognos.tasking.domain import Actor, OrderStatus, Role, Verdict
from prognos.tasking.errors import InvalidRequestError
from prognos.tasking.registry import Registry
from prognos.tasking.uow import InMemoryUnitOfWork

H = timedelta(hours=1)
M = timedelta(minutes=1)
PLANNER = Actor("pat", Role.PLANNER)
SENIOR = Actor("sam", Role.SENIOR_ENGINEER)


def build_history(
    catalog: Catalog, registry: Registry
) -> tuple[InMemoryUnitOfWork, dict[str, str]]:
    uow = InMemoryUnitOfWork()

    def open_(key: str, at: timedelta, **kw: Any) -> str:
        flag = make_flag(flag_id=key, at=T0 + at, **kw)
        order = service.open_or_update_order(flag, uow, catalog, registry, T0 + at)
        assert order is not None
        return order.id

    ids = {
        # A: VIP P3 (predicted failure in 8 d, beyond the 7 d rule): due 2 h / 2 d / 5 d
        "A": open_("A", 0 * H, device="pump-01", ttf=timedelta(days=8)),
        # B: standard P3: due 8 h / 3 d / 7 d
        "B": open_("B", 1 * H, device="pump-02"),
        # C: cancelled
        "C": open_("C", 2 * H, device="pump-02", failure_mode="cavitation"),
        # D: VIP P1 (failure in 24 h): first response due 15 min, never answered
        "D": open_("D", 3 * H, device="pump-01", failure_mode="imbalance", ttf=24 * H),
        # E: VIP instrument P3: first response due 4 h, answered after 30 min
        "E": open_("E", 4 * H, device="pump-01", kind=FlagKind.SENSOR, failure_mode="drift"),
        # F: before the period; must not count
        "F": open_("F", -24 * H, device="pump-01", failure_mode="overheating"),
    }
    a, b = ids["A"], ids["B"]
    service.assign(uow, a, "sam", PLANNER, now=T0 + 1 * H)  # responded after 1 h
    service.transition(uow, a, OrderStatus.IN_PROGRESS, SENIOR, now=T0 + 5 * H)
    service.complete(
        uow, a, SENIOR, "bearing replaced", Verdict.CONFIRMED_FAULT, 5, now=T0 + 10 * H
    )
    service.assign(uow, b, "sam", PLANNER, now=T0 + 10 * H)  # 9 h after creation: late
    service.transition(uow, b, OrderStatus.IN_PROGRESS, SENIOR, now=T0 + 24 * H)
    service.complete(uow, b, SENIOR, "nothing wrong", Verdict.FALSE_ALARM, 3, now=T0 + 48 * H)
    service.transition(uow, ids["C"], OrderStatus.CANCELLED, PLANNER, now=T0 + 2 * H + 10 * M)
    service.comment(uow, ids["E"], PLANNER, "calibration kit ordered", now=T0 + 4 * H + 30 * M)
    return uow, ids


def test_kpis_over_the_period(catalog: Catalog, registry: Registry) -> None:
    uow, _ = build_history(catalog, registry)
    report = service.kpis(uow, T0, T0 + 24 * H, now=T0 + 50 * H)["all"]
    assert (report.orders, report.resolved, report.cancelled, report.open) == (5, 2, 1, 2)
    # MTTR: A 10 h, B 47 h -> 28.5 h
    assert report.mttr_s == pytest.approx(28.5 * 3600)
    # first response: A 1 h, B 9 h, E 0.5 h (C cancelled, D none) -> 3.5 h
    assert report.mean_first_response_s == pytest.approx(3.5 * 3600)
    # SLA: A met, B late, D breached, E undecided, C cancelled -> 1 / 3
    assert report.sla_compliance == pytest.approx(1 / 3)
    # resolution rate: 2 resolved of 4 not cancelled
    assert report.resolution_rate == pytest.approx(0.5)
    assert report.mean_satisfaction == pytest.approx(4.0)
    assert report.false_alarm_rate == pytest.approx(0.5)
    # lead time of predictions: A 8 d, D 24 h -> 108 h; A resolved before its predicted failure
    assert report.mean_lead_time_s == pytest.approx(108 * 3600)
    assert report.resolved_before_failure_rate == pytest.approx(1.0)


def test_kpis_by_site_and_category(catalog: Catalog, registry: Registry) -> None:
    uow, _ = build_history(catalog, registry)
    by_site = service.kpis(uow, T0, T0 + 24 * H, "site", now=T0 + 50 * H)
    assert set(by_site) == {"plant-a", "plant-b"}
    a, b = by_site["plant-a"], by_site["plant-b"]
    assert (a.orders, a.resolved, a.open) == (3, 1, 2)
    assert a.mttr_s == pytest.approx(10 * 3600)
    assert a.mean_first_response_s == pytest.approx(0.75 * 3600)
    assert a.sla_compliance == pytest.approx(0.5)
    assert a.resolution_rate == pytest.approx(1 / 3)
    assert (b.orders, b.resolved, b.cancelled) == (2, 1, 1)
    assert b.resolution_rate == pytest.approx(1.0)
    assert b.sla_compliance == pytest.approx(0.0)
    assert b.mean_lead_time_s is None
    by_category = service.kpis(uow, T0, T0 + 24 * H, "category", now=T0 + 50 * H)
    assert by_category["instrument_maintenance"].orders == 1
    assert by_category["predictive_maintenance"].orders == 4
    by_customer = service.kpis(uow, T0, T0 + 24 * H, "customer", now=T0 + 50 * H)
    assert by_customer["acme"].mean_satisfaction == pytest.approx(5.0)
    assert by_customer["bolt"].false_alarm_rate == pytest.approx(1.0)


def test_kpi_arguments_are_checked(catalog: Catalog, registry: Registry) -> None:
    uow, _ = build_history(catalog, registry)
    with pytest.raises(InvalidRequestError, match="group_by"):
        service.kpis(uow, T0, T0 + H, "colour")
    with pytest.raises(InvalidRequestError, match="start < end"):
        service.kpis(uow, T0 + H, T0)
    assert service.kpis(uow, T0 + 100 * H, T0 + 200 * H) == {}
