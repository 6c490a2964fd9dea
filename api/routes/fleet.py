"""The fleet: devices with last-seen, health and open flags; flags with filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query

from prognos.api.deps import CurrentUser, Deps
from prognos.api.problems import NotFoundError, UnavailableError
from prognos.api.schemas import DeviceOut, DevicePage, FlagOut, FlagPage, iso_from_ns
from prognos.detection.flags import Flag

router = APIRouter(prefix="/api/v1", tags=["fleet"])


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _device_out(item: Any) -> DeviceOut:
    flags = [f for f in (_field(item, "open_flags") or []) if isinstance(f, Flag)]
    last_seen_ns = _field(item, "last_seen_ns")
    return DeviceOut(
        device=str(_field(item, "device", "")),
        asset_type=str(_field(item, "asset_type", "") or ""),
        site=str(_field(item, "site", "") or ""),
        customer=_field(item, "customer"),
        last_seen_ns=last_seen_ns,
        last_seen_at=iso_from_ns(last_seen_ns),
        health=str(_field(item, "health", "unknown") or "unknown"),
        open_flags=[FlagOut.from_flag(f) for f in flags],
        open_orders=_field(item, "open_orders"),
    )


def fleet_devices(deps: Deps) -> list[DeviceOut]:
    """Every device the wired fleet view knows, as response models."""
    if deps.fleet_state is None:
        raise UnavailableError("the fleet view is not wired in this deployment")
    return [_device_out(item) for item in deps.fleet_state()]


@router.get("/fleet/devices", response_model=DevicePage, summary="Devices and their health")
def list_devices(
    deps: Deps,
    user: CurrentUser,
    site: Annotated[str | None, Query(max_length=200)] = None,
    asset_type: Annotated[str | None, Query(max_length=200)] = None,
    health: Annotated[str | None, Query(max_length=50)] = None,
) -> DevicePage:
    items = [
        d
        for d in fleet_devices(deps)
        if (site is None or d.site == site)
        and (asset_type is None or d.asset_type == asset_type)
        and (health is None or d.health == health)
    ]
    items.sort(key=lambda d: (d.site, d.device))
    return DevicePage(items=items, total=len(items))


@router.get("/fleet/devices/{device}", response_model=DeviceOut, summary="One device")
def get_device(device: str, deps: Deps, user: CurrentUser) -> DeviceOut:
    for d in fleet_devices(deps):
        if d.device == device:
            return d
    raise NotFoundError(f"device {device!r} is not in the fleet")


@router.get("/flags", response_model=FlagPage, summary="Open flags with filters")
def list_flags(
    deps: Deps,
    user: CurrentUser,
    device: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(pattern="^(equipment|sensor)$")] = None,
    severity: Annotated[str | None, Query(pattern="^(low|medium|high|critical)$")] = None,
    failure_mode: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> FlagPage:
    flags = [
        f
        for d in fleet_devices(deps)
        for f in d.open_flags
        if (device is None or f.device == device)
        and (site is None or f.site == site)
        and (kind is None or f.kind == kind)
        and (severity is None or f.severity == severity)
        and (failure_mode is None or f.failure_mode == failure_mode)
    ]
    flags.sort(key=lambda f: f.updated_ns, reverse=True)
    return FlagPage(items=flags[:limit], total=len(flags))
