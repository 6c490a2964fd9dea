"""Fixtures of the simulator tests: small fleets and a decoder of simulated telemetry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from prognos.simulators.engine import Message
from prognos.simulators.fleet import Customer, Device, Fault, Fleet, SensorFault, Site

START = datetime(2026, 1, 5, tzinfo=UTC)


def _one_device_fleet(
    asset_type: str,
    device: str = "dev-1",
    faults: Iterable[tuple[str, float, float, str]] = (),
    sensor_faults: Iterable[tuple[str, str, float, float]] = (),
) -> Fleet:
    """A fleet of one device; fault times are offsets in days from the start."""
    return Fleet(
        (Customer("c1", "Customer One", "vip"),),
        (Site("s1", "Site One", "c1"),),
        (Device(device, asset_type, "s1"),),
        tuple(
            Fault(device, mode, timedelta(days=onset), timedelta(days=fail), shape)  # type: ignore[arg-type]
            for mode, onset, fail, shape in faults
        ),
        tuple(
            SensorFault(device, metric, kind, timedelta(days=a), timedelta(days=b))  # type: ignore[arg-type]
            for metric, kind, a, b in sensor_faults
        ),
    )


@pytest.fixture
def one_device_fleet() -> Callable[..., Fleet]:
    """Factory: ``one_device_fleet("pump", faults=[(mode, onset_d, failure_d, shape)])``."""
    return _one_device_fleet


def _series(messages: Iterable[Message]) -> dict[str, dict[str, np.ndarray]]:
    """Per device: ``ts_s`` and one array per metric (NaN where a metric was left out)."""
    rows: dict[str, list[dict]] = {}
    for msg in messages:
        rows.setdefault(msg.device, []).append(orjson.loads(msg.payload))
    out: dict[str, dict[str, np.ndarray]] = {}
    for device, readings in rows.items():
        names = sorted({n for r in readings for n in r["metrics"]})
        data = {n: np.array([r["metrics"].get(n, np.nan) for r in readings]) for n in names}
        data["ts_s"] = np.array([r["ts"] / 1000.0 for r in readings])
        out[device] = data
    return out


@pytest.fixture
def series() -> Callable[[Iterable[Message]], dict[str, dict[str, np.ndarray]]]:
    """Decoder of messages into per-device metric arrays."""
    return _series


@pytest.fixture
def start() -> datetime:
    """A fixed simulation start (a Monday, midnight UTC)."""
    return START
