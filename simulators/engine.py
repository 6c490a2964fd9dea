"""The simulation engine: a fleet and a clock in, telemetry messages out, in timestamp order.

Devices are simulated in chunks of samples, vectorised with numpy, so months
of fleet telemetry take minutes. Every random draw comes from generators
seeded by (seed, device id, chunk), so a run is reproducible byte for byte and
a device's data does not depend on which other devices are in the fleet.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from prognos.ingest.contract import encode_reading, topic_for
from prognos.simulators.clock import resolve, to_ns
from prognos.simulators.errors import SimulatorError
from prognos.simulators.fleet import Device, Fleet
from prognos.simulators.kinds import METRICS_BY_ASSET
from prognos.simulators.physics import MODELS, Ctx, nominal_params
from prognos.simulators.regime import Ambient, severity, stable_key
from prognos.simulators.sensors import ActiveSensorFault, measure
from prognos.simulators.transport import TransportFaults, apply_transport_faults

log = logging.getLogger(__name__)

#: Samples per device per chunk: small enough for thousands of devices, big enough for numpy.
CHUNK_SAMPLES = 256


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as it will be published: topic, payload and the reading's time."""

    topic: str
    payload: bytes
    ts_ns: int
    device: str


class DeviceSimulator:
    """One device's physics, instrument and fault schedule, advanced chunk by chunk."""

    def __init__(self, fleet: Fleet, device: Device, start: datetime, step_s: float, seed: int):
        key = stable_key(device.id)
        site = fleet.site_of(device)
        self.device = device
        self.topic = topic_for(site.id, device.asset_type, device.id)
        self.metrics = METRICS_BY_ASSET[device.asset_type]
        self.model = MODELS[device.asset_type]
        self.seed, self.key = seed, key
        self.ambient = Ambient(stable_key(site.id), seed)
        self.step_s = step_s
        self.params = nominal_params(device.asset_type, np.random.default_rng([seed, key, 1]))
        step_ms = max(1, round(step_s * 1000))
        #: Each device samples at its own phase within the step, as real devices do.
        self.offset_ms = int(np.random.default_rng([seed, key, 2]).integers(0, step_ms))
        self.faults = [
            (
                f.mode,
                to_ns(resolve(f.onset, start)) / 1e9,
                to_ns(resolve(f.failure, start)) / 1e9,
                f.shape,
            )
            for f in fleet.faults
            if f.device == device.id
        ]
        self.trip_s = min((failure for _, _, failure, _ in self.faults), default=math.inf)
        self.sensor_faults = [
            ActiveSensorFault(
                f.metric,
                f.kind,
                to_ns(resolve(f.start, start)) / 1e9,
                to_ns(resolve(f.end, start)) / 1e9,
            )
            for f in fleet.sensor_faults
            if f.device == device.id
        ]
        self.state: dict[str, float] = {}
        self.sensor_state: dict[str, float] = {}

    def values(self, chunk: int, t_ms: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Reported metric arrays for the sample times of one chunk, and which samples are sent."""
        t_s = t_ms / 1000.0
        rng = np.random.default_rng([self.seed, self.key, 3, chunk])
        severities: dict[str, np.ndarray] = {}
        for mode, onset_s, failure_s, shape in self.faults:
            sev = severity(t_s, onset_s, failure_s, shape)
            severities[mode] = np.maximum(severities[mode], sev) if mode in severities else sev
        ctx = Ctx(
            t=t_s,
            step_s=self.step_s,
            rng=rng,
            ambient=self.ambient(t_s),
            severities=severities,
            tripped=t_s >= self.trip_s,
            params=self.params,
            state=self.state,
        )
        values = {name: np.asarray(arr, dtype=float) for name, arr in self.model(ctx).items()}
        sent = measure(values, t_s, self.sensor_faults, rng, self.sensor_state)
        return values, sent

    def payloads(self, chunk: int, t_ms: np.ndarray) -> list[bytes | None]:
        """Encoded payloads of one chunk (``None`` where the device sent nothing)."""
        values, sent = self.values(chunk, t_ms)
        names = self.metrics
        matrix = np.stack([values[name] for name in names], axis=1)
        rows = matrix.tolist()
        stamps = t_ms.tolist()
        has_gaps = bool(np.isnan(matrix).any())
        out: list[bytes | None] = []
        for ts, row, ok in zip(stamps, rows, sent.tolist(), strict=True):
            if not ok:
                out.append(None)
            else:
                metrics = dict(zip(names, row, strict=True))
                if has_gaps:
                    metrics = {n: v for n, v in metrics.items() if v == v}
                # orjson's bytes keep a 4 KiB allocation; a right-sized copy keeps a chunk of
                # thousands of devices in tens of megabytes instead of gigabytes.
                out.append(bytes(memoryview(encode_reading(ts, metrics))))
        return out


def simulate(
    fleet: Fleet,
    start: datetime,
    duration_s: float,
    step_s: float,
    seed: int,
    transport: TransportFaults | None = None,
) -> Iterator[Message]:
    """Telemetry of the whole fleet from ``start`` for ``duration_s``, one sample per ``step_s``.

    Messages come in timestamp order across the fleet (transport faults, when
    given, then deliberately disturb that order).
    """
    if step_s <= 0 or not math.isfinite(step_s):
        raise SimulatorError(f"step must be a positive number of seconds, got {step_s}")
    if duration_s < 0 or not math.isfinite(duration_s):
        raise SimulatorError(f"duration must be a non-negative number of seconds, got {duration_s}")
    if start.tzinfo is None:
        raise SimulatorError("start must be an aware datetime (UTC)")
    stream = _ordered(fleet, start, duration_s, step_s, seed)
    if transport is not None:
        stream = apply_transport_faults(stream, transport, seed, step_s)
    return stream


def _ordered(
    fleet: Fleet, start: datetime, duration_s: float, step_s: float, seed: int
) -> Iterator[Message]:
    sims = [DeviceSimulator(fleet, d, start, step_s, seed) for d in fleet.devices]
    sims.sort(key=lambda s: (s.offset_ms, s.device.id))
    start_ms = to_ns(start) // 1_000_000
    step_ms = max(1, round(step_s * 1000))
    total = math.ceil(duration_s * 1000 / step_ms)
    log.info("simulating devices=%d samples=%d step_s=%s", len(sims), total, step_s)
    for chunk, first in enumerate(range(0, total, CHUNK_SAMPLES)):
        grid = start_ms + step_ms * np.arange(
            first, min(first + CHUNK_SAMPLES, total), dtype=np.int64
        )
        columns = [(sim, sim.payloads(chunk, grid + sim.offset_ms)) for sim in sims]
        for k, ts_ms in enumerate(grid.tolist()):
            for sim, payloads in columns:
                payload = payloads[k]
                if payload is not None:
                    yield Message(
                        sim.topic, payload, (ts_ms + sim.offset_ms) * 1_000_000, sim.device.id
                    )
