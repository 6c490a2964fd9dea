"""The detection engine: readings in, flag lifecycle events out.

It routes each reading to its device's state, keeps instrument faults apart
from equipment faults, combines the detectors into one equipment score per
device and runs the flag lifecycle (open once, update on material change,
clear with hysteresis) so a flapping signal yields one flag, not fifty.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState, new_tracker
from prognos.detection.errors import StateError
from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.detection.lifecycle import device_score, equipment_step, track_drift
from prognos.detection.profiles import AssetProfile, profile_for
from prognos.detection.series import (
    LAG_SUFFIX,
    RUN_KEY,
    SETTLING,
    SLOW_SUFFIX,
    TS_KEY,
    MetricSeries,
)
from prognos.ingest.contract import Reading

logger = logging.getLogger(__name__)

STATE_VERSION = 1
#: Sensor faults that an equipment fault on the same metric explains as well.
_ERRATIC = frozenset({"spikes", "noise_burst"})
_SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
#: Kept with the lags: when a condition metric was last usable (epoch ns, as a float).
SEEN_SUFFIX = "~seen_ns"
#: While the models settle, an operating point this far (in warm-up standard
#: deviations) outside what warm-up saw is learned, not judged.
NOVEL_MARGIN = 0.5


class DetectionEngine:
    """Streaming anomaly detection for a fleet of devices.

    >>> from prognos.ingest.contract import Reading
    >>> eng = DetectionEngine(config=DetectionConfig(warmup_readings=50, settle_readings=0))
    >>> flags = []
    >>> for i in range(200):
    ...     vib = 2.0 + 0.05 * ((i * 7) % 5) + (0.0 if i < 120 else 0.05 * (i - 120))
    ...     r = Reading("p1", "pump", "s1", i * 60_000_000_000,
    ...                 {"vibration_rms_mm_s": vib, "bearing_temp_c": 60.0 + 0.2 * ((i * 3) % 4)
    ...                  + (0.0 if i < 120 else 0.6 * (i - 120))})
    ...     flags += eng.process(r)
    >>> [(f.state.value, f.failure_mode) for f in flags][0]
    ('opened', 'bearing_wear')
    """

    def __init__(
        self,
        profiles: Mapping[str, AssetProfile] | None = None,
        config: DetectionConfig | None = None,
    ) -> None:
        self.profiles = profiles
        self.config = config or DetectionConfig()
        self._devices: dict[str, DeviceState] = {}
        self._open: dict[str, Flag] = {}
        self._warned: set[str] = set()
        self._configs: dict[str, DetectionConfig] = {}

    # -- public surface -------------------------------------------------------------

    def process(self, reading: Reading) -> list[Flag]:
        """Score one reading; return the flag events it caused (often none)."""
        dev = self._devices.get(reading.device)
        if dev is None:
            dev = DeviceState(reading.device, reading.asset_type, reading.site)
            self._devices[reading.device] = dev
        elif not dev.asset_type:
            dev.asset_type, dev.site = reading.asset_type, reading.site
        ts_ns = reading.ts_ns
        if ts_ns <= dev.last_ts:
            self._warn_once(
                f"order:{reading.device}",
                "reading out of order or duplicate",
                device=reading.device,
                ts_ns=ts_ns,
                last_ts_ns=dev.last_ts,
            )
            return []
        dt_s = (ts_ns - dev.last_ts) / 1e9 if dev.last_ts >= 0 else 0.0
        dev.last_ts = ts_ns
        dev.n += 1
        profile = profile_for(dev.asset_type, self.profiles)
        cfg = self._config_for(dev.asset_type)
        events: list[Flag] = []
        values: dict[str, float] = {}
        jumps: dict[str, float] = {}
        metrics = reading.metrics
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
            not running
            and run_value is not None
            and not _impossible(profile, run_metric, run_value)
        )
        if not metrics.keys() <= series_map.keys():
            self._metric_names(dev, reading, profile)
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
                    at_rest
                    and name != profile.ambient_metric
                    and not profile.spec(name).above_ambient
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
                sensor
                and (tracker := sensor.get(name)) is not None
                and tracker["flag_id"] is not None
            ):
                events += self._sensor_lifecycle(dev, name, fault, ts_ns, x)
            if series.usable and x is not None:
                values[name] = x
            elif fault is None and x is not None:
                jumps[name] = x  # held back as a possible spike; still judged as a point
        if profile.condition_metrics or run_metric is not None:
            _forget_stale_lags(dev, profile, cfg, values, ts_ns)
        features = dev.features(values, profile, dt_s, cfg)
        if not dev.ready:
            assert dev.warm is not None
            if not running:
                # A stopped machine teaches nothing about how it runs: a fleet that starts
                # on a weekend learns its shift machines on Monday, not from two idle days.
                return events
            dev.warm.append({**features, TS_KEY: float(ts_ns)})
            if len(dev.warm) >= cfg.warmup_readings:
                dev.finish_warmup(profile, cfg)
                logger.info("warm-up done device=%s readings=%d", dev.device, cfg.warmup_readings)
            return events
        for c in profile.condition_metrics:
            if c in series_map and c not in values:
                return events  # the operating point is unknown: nothing can be judged
        running = profile.running_metric
        if stands_still or (running is not None and values.get(running, 1.0) <= 0.0):
            return events  # stopped: nothing to judge, nothing to learn, no settling time
        if dev.stage == SETTLING and _novel(dev, profile, features):
            # An operating point warm-up never saw (the night after a day-shift warm-up)
            # cannot be judged yet: keep it for the refit at the end of settling.
            self._settle(dev, profile, cfg, features, ts_ns, calm=True)
            return events
        events += self._score_device(dev, profile, cfg, values, features, ts_ns, jumps)
        if dev.stage == SETTLING:
            calm = all(
                abs(s.z_raw) < cfg.settle_z for n, s in series_map.items() if profile.scored(n)
            )
            self._settle(dev, profile, cfg, features, ts_ns, calm=calm)
        return events

    def _settle(
        self,
        dev: DeviceState,
        profile: AssetProfile,
        cfg: DetectionConfig,
        features: dict[str, float],
        ts_ns: int,
        calm: bool,
    ) -> None:
        if dev.stage != SETTLING:
            return
        dev.settled += 1
        if calm and dev.eq["flag_id"] is None and dev.warm is not None:
            dev.warm.append({**features, TS_KEY: float(ts_ns)})
        if dev.settled >= cfg.settle_readings:
            dev.finish_settling(profile, cfg)
            logger.info("models settled device=%s", dev.device)

    def process_batch(self, readings: Sequence[Reading]) -> list[Flag]:
        """Score many readings; the same flags, in the same order, as one at a time."""
        out: list[Flag] = []
        for reading in readings:
            out += self.process(reading)
        return out

    def open_flags(self) -> list[Flag]:
        """The latest state of every flag that is open now."""
        return list(self._open.values())

    def suppress(self, device: str, failure_mode: str, until_ns: int) -> None:
        """False-alarm feedback: no ``failure_mode`` flag on ``device`` before ``until_ns``.

        An open flag of that mode is cleared on the device's next reading, and
        its baselines learn at full speed meanwhile, so what was judged normal
        becomes the new normal.
        """
        dev = self._devices.get(device)
        if dev is None:
            dev = DeviceState(device, "", "")
            self._devices[device] = dev
        dev.suppressed[failure_mode] = max(until_ns, dev.suppressed.get(failure_mode, 0))

    def state_dict(self) -> dict[str, Any]:
        """A JSON-serialisable checkpoint of every device's detector state."""
        return {
            "version": STATE_VERSION,
            "devices": {k: d.to_dict() for k, d in self._devices.items()},
            "open": {k: _flag_to_dict(f) for k, f in self._open.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint made by ``state_dict`` (replaces the current state)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise StateError(f"checkpoint version must be {STATE_VERSION}")
        try:
            devices = {k: DeviceState.from_dict(v) for k, v in state["devices"].items()}
            open_flags = {k: _flag_from_dict(v) for k, v in state["open"].items()}
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise StateError(f"checkpoint is malformed: {exc}") from exc
        self._devices, self._open = devices, open_flags

    # -- internals ------------------------------------------------------------------

    def _metric_names(
        self,
        dev: DeviceState,
        reading: Reading,
        profile: AssetProfile,
    ) -> list[str]:
        for name in reading.metrics:
            if name not in dev.series:
                if len(dev.series) >= self._config_for(dev.asset_type).max_metrics_per_device:
                    self._warn_once(
                        f"metrics:{dev.device}",
                        "too many metrics, ignoring extra",
                        device=dev.device,
                        metric=name,
                    )
                    continue
                # A metric that first appears after warm-up has no healthy baseline: its
                # instrument health is watched, but it is not judged (base.n stays 0).
                dev.series[name] = MetricSeries(
                    profile.spec(name), self._config_for(dev.asset_type)
                )
        return list(dev.series)

    def _sensor_lifecycle(
        self, dev: DeviceState, metric: str, fault: str | None, ts_ns: int, x: float | None
    ) -> list[Flag]:
        tracker = dev.sensor.get(metric)
        if fault is None and (tracker is None or tracker["flag_id"] is None):
            return []
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
            return []
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
        self._record(flag)
        if state is FlagState.CLEARED:
            dev.sensor[metric] = new_tracker()
        return [flag]

    def _score_device(
        self,
        dev: DeviceState,
        profile: AssetProfile,
        cfg: DetectionConfig,
        values: dict[str, float],
        features: dict[str, float],
        ts_ns: int,
        jumps: dict[str, float],
    ) -> list[Flag]:
        scored: list[tuple[MetricSeries, float, float, float]] = []
        for name, series, _, judged, _, _, sign, _ in dev.plan(profile):
            if not judged or series.base.n == 0:
                continue
            x = values.get(name)
            if x is None:
                series.idle(cfg)
                if name in jumps and math.isfinite(cfg.z_point):
                    expected = series.model.expected(features)
                    if series.season is not None:
                        expected += series.season.value(ts_ns)
                    series.z_raw = series.base.score_one(ts_ns, jumps[name] - expected)
            else:
                scored.append((series, sign, x, series.score(ts_ns, x, features, cfg)))
        if cfg.cusum_opens_only and dev.eq["flag_id"] is not None:
            for series, _, _, _ in scored:
                series.cusum.reset()
                series.dev = series.z_smooth * series.smooth_gain
        if dev.envelope is not None and all(n in values for n in dev.envelope.names):
            z_clip = cfg.z_clip
            env, contrib = dev.envelope.score_one(
                {n: min(max(dev.series[n].z_raw, -z_clip), z_clip) for n in dev.envelope.names}
            )
            alpha = 1.0 - 0.5 ** (1.0 / cfg.smooth_half_life)
            dev.env_smooth += alpha * (min(env, 10.0 * cfg.envelope_open) - dev.env_smooth)
            dev.env_contrib = contrib
        track_drift(dev, profile, cfg, features)
        score, detector = device_score(dev, profile, cfg)
        events = equipment_step(dev, profile, cfg, score, detector, ts_ns)
        for flag in events:
            self._record(flag)
        # Learning: fast when calm, slow when suspicious, fast again after false-alarm feedback.
        calm_device = dev.eq["flag_id"] is None
        feedback = bool(dev.suppressed) and any(until > ts_ns for until in dev.suppressed.values())
        z_freeze, z_clip = cfg.z_freeze, cfg.z_clip
        for series, sign, x, z in scored:
            bad = series.dev * sign if sign else abs(series.dev)  # the spec's badness
            calm = calm_device and bad < z_freeze and abs(z) < z_clip
            rate = 1.0 if (calm or feedback) else cfg.suspicious_learn_rate
            series.learn(ts_ns, x, features, rate)
        return events

    def _config_for(self, asset_type: str) -> DetectionConfig:
        """The configuration with the asset type's default overrides applied."""
        found = self._configs.get(asset_type)
        if found is None:
            found = self.config.for_asset(asset_type, self.profiles)
            self._configs[asset_type] = found
        return found

    def _record(self, flag: Flag) -> None:
        if flag.state is FlagState.CLEARED:
            self._open.pop(flag.flag_id, None)
        else:
            self._open[flag.flag_id] = flag

    def _warn_once(self, key: str, message: str, **context: Any) -> None:
        if key in self._warned:
            return
        if len(self._warned) < 10_000:
            self._warned.add(key)
        ctx = " ".join(f"{k}={v}" for k, v in context.items())
        logger.warning("%s %s", message, ctx)


def _impossible(profile: AssetProfile, metric: str | None, value: float) -> bool:
    """Whether a value lies outside what the metric's instrument can report."""
    if metric is None:
        return False
    spec = profile.spec(metric)
    return not spec.valid_min <= value <= spec.valid_max


def _forget_stale_lags(
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


def _novel(dev: DeviceState, profile: AssetProfile, features: Mapping[str, float]) -> bool:
    """Whether any judged metric's condition model has never seen this operating point."""
    return any(
        p.judged and p.series.model.outside(features) > NOVEL_MARGIN for p in dev.plan(profile)
    )


def _as_float(raw: object) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        x = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _flag_to_dict(flag: Flag) -> dict[str, Any]:
    return {
        "flag_id": flag.flag_id,
        "device": flag.device,
        "asset_type": flag.asset_type,
        "site": flag.site,
        "kind": flag.kind.value,
        "state": flag.state.value,
        "detector": flag.detector,
        "metrics": list(flag.metrics),
        "failure_mode": flag.failure_mode,
        "score": flag.score,
        "severity": flag.severity.value,
        "opened_ns": flag.opened_ns,
        "updated_ns": flag.updated_ns,
        "window_start_ns": flag.window_start_ns,
        "window_end_ns": flag.window_end_ns,
        "predicted_failure_ns": flag.predicted_failure_ns,
        "evidence": dict(flag.evidence),
    }


def _flag_from_dict(d: dict[str, Any]) -> Flag:
    return Flag(
        flag_id=d["flag_id"],
        device=d["device"],
        asset_type=d["asset_type"],
        site=d["site"],
        kind=FlagKind(d["kind"]),
        state=FlagState(d["state"]),
        detector=d["detector"],
        metrics=tuple(d["metrics"]),
        failure_mode=d["failure_mode"],
        score=float(d["score"]),
        severity=Severity(d["severity"]),
        opened_ns=int(d["opened_ns"]),
        updated_ns=int(d["updated_ns"]),
        window_start_ns=int(d["window_start_ns"]),
        window_end_ns=int(d["window_end_ns"]),
        predicted_failure_ns=d["predicted_failure_ns"],
        evidence={k: float(v) for k, v in d["evidence"].items()},
    )
