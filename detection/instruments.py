"""What the instruments say: run state, instrument health, sensor-fault flags, usable values.

Each reading first goes through its instruments. Whether the machine runs
decides which health checks apply (a stopped machine's steady values are not
stuck sensors); each metric's health check may turn into a sensor-fault flag,
never an equipment one; and only values the checks pass go on to the equipment
detectors (a possible spike is held back, to be judged as a single point).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState, new_tracker
from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.detection.profiles import AssetProfile
from prognos.detection.series import LAG_SUFFIX, RUN_KEY, SLOW_SUFFIX, MetricSeries

#: Sensor faults that an equipment fault on the same metric explains as well.
_ERRATIC = frozenset({"spikes", "noise_burst"})
#: Kept with the lags: when a condition metric was last usable (epoch ns, as a float).
SEEN_SUFFIX = "~seen_ns"


@dataclass(slots=True)
class Instruments:
    """The outcome of one reading's instrument checks."""

    #: Whether the machine runs (its run metric, or no run metric at all).
    running: bool
    #: Stopped though the run sensor says otherwise (several loads read exactly zero).
    stands_still: bool
    #: Values fit for the equipment detectors.
    values: dict[str, float]
    #: Values held back as possible spikes (judged only as single points).
    jumps: dict[str, float]
    #: Sensor-fault flag events this reading caused.
    events: list[Flag]


def check_instruments(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
    metrics: Mapping[str, object],
    ts_ns: int,
) -> Instruments:
    """Run every series' health check on one reading's values (see the module docstring)."""
    events: list[Flag] = []
    values: dict[str, float] = {}
    jumps: dict[str, float] = {}
    run_metric = profile.running_metric
    run_value = _as_float(metrics.get(run_metric)) if run_metric else None
    series_map = dev.series
    stands_still = False
    if run_value is not None:
        # Running unless the run metric reads exactly zero (stopped) this reading.
        running = run_value > 0.0 and not _impossible(profile, run_metric, run_value)
        if running and _resting_zeros(metrics, run_metric) >= 2:
            # Current, power, flow... at exactly zero together: the machine stands
            # still whatever its run sensor says (a drifting one reads an offset).
            running, stands_still = False, True
    else:
        # A device without a run metric runs; one whose run metric has gone missing may
        # not: the instrument checks pause rather than call a stopped machine's steady
        # zeros stuck, and nothing is judged (its operating point is unknown).
        running = run_metric is None or run_metric not in series_map
    # Stopped for certain: the run metric itself reads a valid zero.
    at_rest = (
        not running and run_value is not None and not _impossible(profile, run_metric, run_value)
    )
    sensor_cfg = cfg.sensor
    checked: list[tuple[str, MetricSeries, float | None, str | None]] = []
    erratic = zeros = 0
    for name, series in series_map.items():
        raw = metrics.get(name)
        # Plain finite floats (nearly every value) skip the general conversion.
        x = raw if type(raw) is float and math.isfinite(raw) else _as_float(raw)
        if running:
            fault, usable = series.health.check(x, sensor_cfg)
        else:
            # A machine-heated temperature cools for hours, and the room's own
            # temperature never rests: neither has a resting level.
            settles = (
                at_rest and name != profile.ambient_metric and not profile.spec(name).above_ambient
            )
            fault, usable = series.health.check(x, sensor_cfg, False, settles)
        series.usable = usable and x is not None
        checked.append((name, series, x, fault))
        if fault is not None:
            if fault in _ERRATIC:
                erratic += 1
            elif fault == "stuck" and x == 0.0:
                zeros += 1
    # One instrument rarely fails together with another: several metrics turning
    # erratic at once is the machine itself, and so is a metric the open equipment
    # fault makes erratic (a worn bearing's vibration bursts). Several metrics
    # sitting at exactly zero together are a stopped machine (whatever its run
    # sensor says), not frozen instruments.
    machine_erratic = erratic >= 2
    machine_stopped = zeros >= 2
    open_mode = dev.eq["failure_mode"] if dev.eq["flag_id"] is not None else None
    sensor = dev.sensor
    for name, series, x, fault in checked:
        if fault in _ERRATIC and (
            machine_erratic or (open_mode is not None and profile.erratic_in(open_mode, name))
        ):
            fault = None
            series.usable = x is not None
        elif machine_stopped and fault == "stuck" and x == 0.0:
            fault = None
        if fault is None and series.drifting:
            fault = "drift"
        if fault is not None or (
            sensor and (tracker := sensor.get(name)) is not None and tracker["flag_id"] is not None
        ):
            flag = sensor_step(dev, name, fault, ts_ns, x)
            if flag is not None:
                events.append(flag)
        if series.usable and x is not None:
            values[name] = x
        elif fault is None and x is not None:
            jumps[name] = x  # held back as a possible spike; still judged as a point
    if profile.condition_metrics or run_metric is not None:
        forget_stale_lags(dev, profile, cfg, values, ts_ns)
    return Instruments(running, stands_still, values, jumps, events)


def sensor_step(
    dev: DeviceState, metric: str, fault: str | None, ts_ns: int, x: float | None
) -> Flag | None:
    """Advance the sensor-fault flag of one metric: opened, updated or cleared, or None."""
    tracker = dev.sensor.get(metric)
    if fault is None and (tracker is None or tracker["flag_id"] is None):
        return None
    if tracker is None:
        tracker = dev.sensor[metric] = new_tracker()
    evidence = {"latest": x} if x is not None and math.isfinite(x) else {}
    if fault is not None and tracker["flag_id"] is None:
        tracker.update(
            flag_id=f"{dev.device}:sensor:{metric}:{ts_ns}",
            opened_ns=ts_ns,
            window_start_ns=ts_ns,
            failure_mode=fault,
        )
        state = FlagState.OPENED
    elif fault is not None and fault != tracker["failure_mode"]:
        tracker["failure_mode"] = fault
        state = FlagState.UPDATED
    elif fault is None:
        state = FlagState.CLEARED
    else:
        return None
    flag = Flag(
        flag_id=tracker["flag_id"],
        device=dev.device,
        asset_type=dev.asset_type,
        site=dev.site,
        kind=FlagKind.SENSOR,
        state=state,
        detector="sensor_health",
        metrics=(metric,),
        failure_mode=tracker["failure_mode"],
        score=1.0,
        severity=Severity.LOW,
        opened_ns=tracker["opened_ns"],
        updated_ns=ts_ns,
        window_start_ns=tracker["window_start_ns"],
        window_end_ns=ts_ns,
        evidence=evidence,
    )
    if state is FlagState.CLEARED:
        dev.sensor[metric] = new_tracker()
    return flag


def _impossible(profile: AssetProfile, metric: str | None, value: float) -> bool:
    """Whether a value lies outside what the metric's instrument can report."""
    if metric is None:
        return False
    spec = profile.spec(metric)
    return not spec.valid_min <= value <= spec.valid_max


def forget_stale_lags(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
    values: Mapping[str, float],
    ts_ns: int,
) -> None:
    """Restart the lags of a condition metric back from an outage longer than they reach.

    A device that goes silent restarts its lags from the first reading back
    (the gap weighs in full); a single instrument out for hours must too, or
    its lagged load, stale since before the outage, is judged against
    temperatures that followed the real load all along.
    """
    names = dict.fromkeys(profile.condition_metrics)
    if profile.running_metric is not None:
        names[profile.running_metric] = None
    lags = dev.lags
    for name in names:
        if name not in values:
            continue
        key = name + SEEN_SUFFIX
        seen = lags.get(key)
        lags[key] = float(ts_ns)
        if seen is None or ts_ns - seen <= cfg.condition_lag_s * 1e9:
            continue
        lag = RUN_KEY if name == profile.running_metric else name
        for suffix in (LAG_SUFFIX, SLOW_SUFFIX):
            lags.pop(lag + suffix, None)
            if name != lag and name in profile.condition_metrics:
                lags.pop(name + suffix, None)


def _resting_zeros(metrics: Mapping[str, object], run_metric: str | None) -> int:
    """How many metrics besides the run metric read exactly zero."""
    return sum(1 for name, value in metrics.items() if value == 0.0 and name != run_metric)


def _as_float(raw: object) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        x = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
