"""Instrument effects: measurement noise, quantisation and sensor faults.

A sensor fault changes what is reported, not what the equipment does, so it
is applied after the physics: a stuck value, a slow drift, spikes, dropped
values, noise bursts or an out-of-range reading (raw ADC saturation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prognos.simulators.kinds import SensorFaultKind
from prognos.simulators.physics import INSTRUMENT, scale_of

#: What a saturated 16-bit converter reports when the sensor is out of range.
OUT_OF_RANGE_VALUE = 65535.0


@dataclass(frozen=True, slots=True)
class ActiveSensorFault:
    """A sensor fault resolved to absolute epoch seconds."""

    metric: str
    kind: SensorFaultKind
    start_s: float
    end_s: float


def measure(
    values: dict[str, np.ndarray],
    t_s: np.ndarray,
    faults: list[ActiveSensorFault],
    rng: np.random.Generator,
    state: dict[str, float],
) -> np.ndarray:
    """Turn true values into reported ones, in place; returns the mask of samples that are sent.

    Dropped single metrics become NaN (left out of the payload); a dropout of
    ``*`` suppresses whole messages.
    """
    for name, arr in values.items():
        sd, _ = INSTRUMENT.get(name, (0.0, 0.01))
        noise = rng.normal(0.0, 1.0, arr.size) * sd
        if name.endswith("_c"):
            arr += noise
        else:
            # A stopped machine reads exactly zero flow, speed and current, never below.
            arr += noise * (arr != 0.0)
            np.maximum(arr, 0.0, out=arr)
    sent = np.ones(t_s.size, dtype=bool)
    for index, fault in enumerate(faults):
        window = (t_s >= fault.start_s) & (t_s < fault.end_s)
        if not window.any():
            continue
        if fault.kind is SensorFaultKind.DROPOUT and fault.metric == "*":
            sent &= ~window
            continue
        names = list(values) if fault.metric == "*" else [fault.metric]
        for name in names:
            _apply(fault, name, values[name], t_s, window, rng, state, f"{index}:{name}")
    for name, arr in values.items():
        _, resolution = INSTRUMENT.get(name, (0.0, 0.01))
        decimals = max(0, round(-math.log10(resolution)))
        np.round(arr, decimals, out=arr)
        arr += 0.0  # turns -0.0 into 0.0 so payloads never read "-0.0"
    return sent


def _apply(
    fault: ActiveSensorFault,
    name: str,
    arr: np.ndarray,
    t_s: np.ndarray,
    window: np.ndarray,
    rng: np.random.Generator,
    state: dict[str, float],
    key: str,
) -> None:
    scale = scale_of(name)
    kind = fault.kind
    if kind is SensorFaultKind.STUCK:
        held = state.get(key)
        if held is None:
            first = int(np.argmax(window))
            held = float(arr[first - 1] if first > 0 else arr[first])
            state[key] = held
        arr[window] = held
    elif kind is SensorFaultKind.DRIFT:
        progress = (t_s - fault.start_s) / max(fault.end_s - fault.start_s, 1.0)
        arr += window * 3.0 * scale * progress
    elif kind is SensorFaultKind.SPIKES:
        hit = window & (rng.uniform(0.0, 1.0, t_s.size) < 0.05)
        signs = np.where(rng.uniform(0.0, 1.0, t_s.size) < 0.5, -1.0, 1.0)
        arr += hit * signs * rng.uniform(4.0, 8.0, t_s.size) * scale
    elif kind is SensorFaultKind.NOISE_BURST:
        arr += window * rng.normal(0.0, 1.0, t_s.size) * 1.5 * scale
    elif kind is SensorFaultKind.OUT_OF_RANGE:
        arr[window] = OUT_OF_RANGE_VALUE
    else:  # DROPOUT of one metric
        arr[window] = np.nan
