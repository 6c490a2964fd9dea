"""Flag -> work order on the in-memory store: entry, priority, due times, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tasking_testkit import T0, make_flag

from prognos.detection.flags import FlagKind, FlagState, Severity
from prognos.tasking import service
from prognos.tasking.catalog import Catalog
from prognos.tasking.domain import OrderStatus
from prognos.tasking.errors import InvalidRequestError
from prognos.tasking.registry import Registry
from prognos.tasking.repository import OrderFilter
from prognos.tasking.uow import InMemoryUnitOfWork
from prognos.tasking.vocabulary import Priority, Tier

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("device", "tier", "customer", "first_response", "onsite", "resolution"),
    [
        # default catalog, profile "predictive", P3 (medium severity, no prediction)
        ("pump-01", Tier.VIP, "acme", 2 * H, 2 * D, 5 * D),
        ("pump-02", Tier.STANDARD, "bolt", 8 * H, 3 * D, 7 * D),
    ],
)
def test_pump_bearing_wear_gets_its_entry_and_tier_due_times(
    catalog: Catalog,
    registry: Registry,
    device: str,
    tier: Tier,
    customer: str,
    first_response: timedelta,
    onsite: timedelta,
    resolution: timedelta,
) -> None:
    uow = InMemoryUnitOfWork()
    order = service.open_or_update_order(make_flag(device=device), uow, catalog, registry, T0)
    assert order is not None
    assert order.catalog_entry_id == "pdm-bearing-wear"
    assert order.match_rule == "applies:pdm-bearing-wear"
    assert order.catalog_version == catalog.version
    assert (order.tier, order.customer, order.priority) == (tier, customer, Priority.P3)
    assert order.first_response_due_at == T0 + first_response
    assert order.onsite_due_at == T0 + onsite
    assert order.resolve_due_at == T0 + resolution
    assert order.status == OrderStatus.NEW
    assert order.required_level.value == "intermediate"
    assert [item.step for item in order.sop_checklist] == list(
        catalog.entry("pdm-bearing-wear").sop
    )
    assert order.flags[0].flag_id == "flag-1" and order.flags[0].metrics == ("vibration_rms_mm_s",)
    assert order.history[0].action == "create"


@pytest.mark.parametrize(
    ("device", "first_response", "onsite"),
    [("pump-01", 30 * timedelta(minutes=1), 12 * H), ("pump-02", 4 * H, 1 * D)],
)
def test_resolve_by_is_capped_by_predicted_failure_minus_margin(
    catalog: Catalog, registry: Registry, device: str, first_response: timedelta, onsite: timedelta
) -> None:
    # medium severity but failure predicted in 36 h -> P2; resolve-by = 36 h - 4 h margin
    flag = make_flag(device=device, ttf=36 * H)
    order = service.open_or_update_order(flag, InMemoryUnitOfWork(), catalog, registry, T0)
    assert order is not None
    assert order.priority == Priority.P2
    assert "predicted failure within" in order.priority_reason
    assert order.first_response_due_at == T0 + first_response
    assert order.onsite_due_at == T0 + onsite
    assert order.resolve_due_at == T0 + 32 * H
    assert order.predicted_failure_at == T0 + 36 * H


def test_unknown_device_is_standard_tier_of_unknown_customer(catalog: Catalog) -> None:
    flag = make_flag(device="pump-zz", site="nowhere")
    order = service.open_or_update_order(flag, InMemoryUnitOfWork(), catalog, Registry(), T0)
    assert order is not None
    assert (order.customer, order.tier, order.site, order.asset_type) == (
        "unknown",
        Tier.STANDARD,
        "nowhere",
        "pump",
    )
    assert order.resolve_due_at == T0 + 7 * D


def test_repeated_and_further_flags_join_the_open_order(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    first = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert first is not None
    # at-least-once delivery: the very same flag again changes nothing
    again = service.open_or_update_order(make_flag(), uow, catalog, registry, T0 + H)
    assert again is not None and again.id == first.id and again.version == first.version
    # an update of the same flag, more severe: evidence updated, priority raised
    worse = make_flag(state=FlagState.UPDATED, severity=Severity.HIGH, at=T0 + 2 * H, score=9.0)
    raised = service.open_or_update_order(worse, uow, catalog, registry, T0 + 2 * H)
    assert raised is not None and raised.id == first.id
    assert raised.priority == Priority.P2
    assert len(raised.flags) == 1 and raised.flags[0].updates == 2 and raised.flags[0].score == 9.0
    # VIP P2 clocks from the original creation time, never later than before
    assert raised.first_response_due_at == T0 + 30 * timedelta(minutes=1)
    assert raised.resolve_due_at == T0 + 2 * D
    assert any(h.action == "priority" and "P3 -> P2" in h.note for h in raised.history)
    # a second detector's flag on the same mode: more evidence, same order
    other = make_flag(flag_id="flag-2", severity=Severity.LOW, at=T0 + 3 * H)
    same = service.open_or_update_order(other, uow, catalog, registry, T0 + 3 * H)
    assert same is not None and same.id == first.id
    assert [f.flag_id for f in same.flags] == ["flag-1", "flag-2"]
    assert same.priority == Priority.P2  # a milder flag never lowers priority
    # a different failure mode on the same device is a different order
    cav = service.open_or_update_order(
        make_flag(flag_id="flag-3", failure_mode="cavitation"), uow, catalog, registry, T0
    )
    assert cav is not None and cav.id != first.id
    assert len(service.list_orders(uow).items) == 2


def test_cleared_flag_does_not_close_the_order(catalog: Catalog, registry: Registry) -> None:
    uow = InMemoryUnitOfWork()
    order = service.open_or_update_order(make_flag(), uow, catalog, registry, T0)
    assert order is not None
    cleared = make_flag(state=FlagState.CLEARED, at=T0 + H)
    after = service.open_or_update_order(cleared, uow, catalog, registry, T0 + H)
    assert after is not None and after.id == order.id
    assert after.status == OrderStatus.NEW
    assert after.flags[0].state == "cleared"
    assert any("cleared" in h.note for h in after.history)
    # a cleared flag with no open order creates nothing
    lone = make_flag(device="pump-02", state=FlagState.CLEARED)
    assert service.open_or_update_order(lone, uow, catalog, registry, T0) is None
    assert len(service.list_orders(uow).items) == 1


def test_sensor_fault_opens_instrument_order_beside_equipment_order(
    catalog: Catalog, registry: Registry
) -> None:
    uow = InMemoryUnitOfWork()
    equipment = service.open_or_update_order(
        make_flag(failure_mode="unknown"), uow, catalog, registry, T0
    )
    sensor = service.open_or_update_order(
        make_flag(flag_id="s1", kind=FlagKind.SENSOR, failure_mode="unknown"),
        uow,
        catalog,
        registry,
        T0,
    )
    assert equipment is not None and sensor is not None
    assert equipment.id != sensor.id
    assert equipment.catalog_entry_id == "routine-inspection"
    assert sensor.catalog_entry_id == "im-sensor-check"
    assert sensor.category == "instrument_maintenance"
    # VIP instrument P3 resolution is 5 days
    assert sensor.resolve_due_at == T0 + 5 * D


def test_emergency_order_for_critical_imminent_failure(
    catalog: Catalog, registry: Registry
) -> None:
    flag = make_flag(device="pump-02", severity=Severity.CRITICAL, ttf=10 * H)
    order = service.open_or_update_order(flag, InMemoryUnitOfWork(), catalog, registry, T0)
    assert order is not None
    assert order.catalog_entry_id == "emergency-repair"
    assert order.match_rule == "emergency-imminent"
    assert order.priority == Priority.P1
    # standard P1 emergency: 30 min response, 4 h on site; resolution capped at 10 h - 4 h
    assert order.first_response_due_at == T0 + 30 * timedelta(minutes=1)
    assert order.onsite_due_at == T0 + 4 * H
    assert order.resolve_due_at == T0 + 6 * H
    assert order.escalation_chain[0].role == "on_duty_engineer"


def test_list_orders_filters_and_pages(catalog: Catalog, registry: Registry) -> None:
    uow = InMemoryUnitOfWork()
    modes = ["bearing_wear", "imbalance", "misalignment", "overheating", "cavitation"]
    for i, mode in enumerate(modes):
        for device in ("pump-01", "pump-02"):
            flag = make_flag(device=device, failure_mode=mode, flag_id=f"{device}-{mode}")
            service.open_or_update_order(flag, uow, catalog, registry, T0 + i * H)
    page = service.list_orders(uow, OrderFilter(customer="acme"), limit=2)
    seen = [o.id for o in page.items]
    while page.next_cursor:
        page = service.list_orders(
            uow, OrderFilter(customer="acme"), limit=2, cursor=page.next_cursor
        )
        seen += [o.id for o in page.items]
    assert len(seen) == len(set(seen)) == 5
    created = [service.get_order(uow, i).created_at for i in seen]
    assert created == sorted(created, reverse=True)
    assert len(service.list_orders(uow, OrderFilter(failure_mode="imbalance")).items) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"device": ""}, "device"),
        ({"updated_ns": -5}, "updated_ns"),
        ({"severity": "apocalyptic"}, "severity"),
    ],
)
def test_malformed_flag_is_refused_with_the_field_named(
    catalog: Catalog, registry: Registry, change: dict[str, object], message: str
) -> None:
    import dataclasses

    flag = dataclasses.replace(make_flag(), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=message):
        service.open_or_update_order(flag, InMemoryUnitOfWork(), catalog, registry, T0)


def test_bad_cursor_and_limit_are_clear_errors() -> None:
    with pytest.raises(InvalidRequestError, match="cursor"):
        service.list_orders(InMemoryUnitOfWork(), cursor="%%%")
    with pytest.raises(InvalidRequestError, match="limit"):
        service.list_orders(InMemoryUnitOfWork(), limit=0)


MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kind", "mode", "severity", "ttf", "entry_id", "vip", "standard"),
    [
        # instrument profile, P3
        (
            FlagKind.SENSOR,
            "drift",
            Severity.MEDIUM,
            None,
            "im-sensor-calibration",
            (4 * H, 2 * D, 5 * D),
            (1 * D, 4 * D, 10 * D),
        ),
        # instrument profile, P2
        (
            FlagKind.SENSOR,
            "dropout",
            Severity.HIGH,
            None,
            "im-connectivity",
            (1 * H, 1 * D, 2 * D),
            (4 * H, 2 * D, 4 * D),
        ),
        (
            FlagKind.SENSOR,
            "stuck",
            Severity.LOW,
            None,
            "im-sensor-replacement",
            (8 * H, 5 * D, 10 * D),
            (2 * D, 10 * D, 20 * D),
        ),
        # inspection profile, P4
        (
            FlagKind.EQUIPMENT,
            "unknown",
            Severity.LOW,
            None,
            "routine-inspection",
            (8 * H, 3 * D, 7 * D),
            (1 * D, 5 * D, 7 * D),
        ),
        # predictive profile, P1 by severity (no prediction, so not an emergency)
        (
            FlagKind.EQUIPMENT,
            "overheating",
            Severity.CRITICAL,
            None,
            "pdm-overheating",
            (15 * MIN, 4 * H, 12 * H),
            (1 * H, 8 * H, 1 * D),
        ),
        # emergency profile, P1; resolution capped at 10 h - 4 h margin
        (
            FlagKind.EQUIPMENT,
            "cavitation",
            Severity.CRITICAL,
            10 * H,
            "emergency-repair",
            (15 * MIN, 2 * H, 6 * H),
            (30 * MIN, 4 * H, 6 * H),
        ),
    ],
)
def test_flag_kinds_map_to_entries_with_due_times_for_both_tiers(
    catalog: Catalog,
    registry: Registry,
    kind: FlagKind,
    mode: str,
    severity: Severity,
    ttf: timedelta | None,
    entry_id: str,
    vip: tuple[timedelta, timedelta, timedelta],
    standard: tuple[timedelta, timedelta, timedelta],
) -> None:
    for device, expected in (("pump-01", vip), ("pump-02", standard)):
        flag = make_flag(device=device, kind=kind, failure_mode=mode, severity=severity, ttf=ttf)
        order = service.open_or_update_order(flag, InMemoryUnitOfWork(), catalog, registry, T0)
        assert order is not None
        assert order.catalog_entry_id == entry_id
        dues = (order.first_response_due_at, order.onsite_due_at, order.resolve_due_at)
        assert dues == tuple(T0 + d for d in expected), device
