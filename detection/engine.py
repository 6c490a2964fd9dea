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
from dataclasses import dataclass
from typing import Any

from prognos.detection.batch import SeriesBank, finish_calm
from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState
from prognos.detection.errors import StateError
from prognos.detection.flags import Flag, FlagState, Severity
from prognos.detection.instruments import check_instruments
from prognos.detection.lifecycle import device_score, equipment_step, track_drift
from prognos.detection.profiles import AssetProfile, profile_for
from prognos.detection.series import (
    READY,
    SETTLING,
    TS_KEY,
    MetricSeries,
)
from prognos.ingest.contract import Reading

logger = logging.getLogger(__name__)

#: A scored series of one reading: (series, badness sign, value, raw z).
Scored = tuple[MetricSeries, float, float, float]


@dataclass(slots=True)
class Deferred:
    """A reading left to the batch round, with what ``process`` worked out for it."""

    dev: DeviceState
    profile: AssetProfile
    cfg: DetectionConfig
    values: dict[str, float]
    features: dict[str, float]
    ts_ns: int
    #: Position of the reading in the round (its flags go there).
    index: int = -1


STATE_VERSION = 1
_SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
#: Fewest calm devices per round for the numpy rounds to beat the scalar path.
MIN_ROUND = 16
#: A round of fewer calm devices than this (a batch's tail) is finished one at a time.
NARROW_ROUND = 4
#: A batch that would take the scalar path tries rounds again this often.
PROBE_EVERY = 16
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
        self._bank = SeriesBank()
        #: Readings deferred to the current batch round (None outside ``process_batch``).
        self._round: list[Deferred] | None = None
        self._recording = True
        #: Calm devices per round in the last wide batch (optimistic until measured).
        self._round_width = float(MIN_ROUND)
        self._batches = 0

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
        if dev.first_ns < 0:
            dev.first_ns = ts_ns
        dev.last_ts = ts_ns
        dev.n += 1
        profile = profile_for(dev.asset_type, self.profiles)
        cfg = self._config_for(dev.asset_type)
        if not reading.metrics.keys() <= dev.series.keys():
            self._metric_names(dev, reading, profile)
        seen = check_instruments(dev, profile, cfg, reading.metrics, ts_ns)
        for flag in seen.events:
            self._record(flag)
        events, values, jumps, running = seen.events, seen.values, seen.jumps, seen.running
        series_map = dev.series
        features = dev.features(values, profile, dt_s, cfg)
        if not dev.ready:
            assert dev.warm is not None
            if not running:
                # A stopped machine teaches nothing about how it runs: a fleet that starts
                # on a weekend learns its shift machines on Monday, not from two idle days.
                return events
            if profile.condition_metrics and ts_ns - dev.first_ns < 4e9 * cfg.condition_lag_s:
                # For three time constants of the slow lag (4 x condition_lag_s) the lagged
                # loads still remember their first value (one loaded instant held as if it
                # had lasted): such rows would teach the temperature models a relation the
                # machine never had, and a range of loads it never ran at.
                return events
            dev.warm.append({**features, TS_KEY: float(ts_ns)})
            if len(dev.warm) >= cfg.warmup_readings:
                dev.finish_warmup(profile, cfg)
                logger.info("warm-up done device=%s readings=%d", dev.device, cfg.warmup_readings)
            return events
        for c in profile.condition_metrics:
            if c in series_map and c not in values:
                return events  # the operating point is unknown: nothing can be judged
        run_metric = profile.running_metric
        if seen.stands_still or (run_metric is not None and values.get(run_metric, 1.0) <= 0.0):
            return events  # stopped: nothing to judge, nothing to learn, no settling time
        if dev.stage == SETTLING and _novel(dev, profile, features):
            # An operating point warm-up never saw (the night after a day-shift warm-up)
            # cannot be judged yet: keep it for the refit at the end of settling.
            self._settle(dev, profile, cfg, features, ts_ns, calm=True)
            return events
        return events + self._judge(dev, profile, cfg, values, features, ts_ns, jumps)

    def _judge(
        self,
        dev: DeviceState,
        profile: AssetProfile,
        cfg: DetectionConfig,
        values: dict[str, float],
        features: dict[str, float],
        ts_ns: int,
        jumps: dict[str, float],
    ) -> list[Flag]:
        """Score a reading the models can judge, or leave it to the batch round.

        Inside ``process_batch`` a calm, ready device's reading joins the round
        (its flags come when the round is scored); everything else, and every
        reading outside a batch, takes the one-at-a-time path.
        """
        pending = self._round
        if (
            pending is not None
            and dev.stage == READY
            and dev.eq["flag_id"] is None
            and dev.eq["above"] == 0
            and not jumps
        ):
            rows = self._bank.admit(dev, profile, cfg)
            if rows is not None and all(n in values for n in rows.names):
                pending.append(Deferred(dev, profile, cfg, values, features, ts_ns))
                return []
        if dev.bank is not None:
            self._bank.release(dev)
        events = self._score_device(dev, profile, cfg, values, features, ts_ns, jumps)
        if dev.stage == SETTLING:
            calm = all(
                abs(s.z_raw) < cfg.settle_z for n, s in dev.series.items() if profile.scored(n)
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
        """Score many readings; the same flags, in the same order, as one at a time.

        Devices are independent, so the batch is taken in rounds: each device's
        first reading, then each one's second, and so on. Within a round the
        instrument checks and the flag lifecycle run per reading as usual, but
        the calm, ready devices' series are scored and learned together, with
        numpy over a ``SeriesBank``; a device whose reading might open a flag
        leaves the bank and finishes that reading on the scalar path. Flags are
        returned (and recorded) in the readings' order.

        Rounds pay off only when they are wide: while recent rounds held fewer
        than ``MIN_ROUND`` calm devices (a small fleet, or most devices warming
        up or flagged), batches take the scalar path, with a wide-round probe
        every ``PROBE_EVERY`` batches.
        """
        self._batches += 1
        wide = self._round_width >= MIN_ROUND or self._batches % PROBE_EVERY == 0
        if not wide or len(readings) < MIN_ROUND:
            out: list[Flag] = []
            for reading in readings:
                out += self.process(reading)
            return out
        by_device: dict[str, list[int]] = {}
        for n, reading in enumerate(readings):
            by_device.setdefault(reading.device, []).append(n)
        per_reading: list[list[Flag]] = [[] for _ in readings]
        lists = list(by_device.values())
        widths: list[int] = []
        pending: list[Deferred] = []
        self._round, self._recording = pending, False
        try:
            for k in range(max(len(v) for v in lists)):
                for n in sorted(v[k] for v in lists if len(v) > k):
                    per_reading[n] = self.process(readings[n])
                    if pending and pending[-1].index < 0:
                        pending[-1].index = n
                widths.append(len(pending))
                self._run_round(pending, per_reading)
                pending.clear()
        finally:
            self._round, self._recording = None, True
        busy = [w for w in widths if w]
        if busy:  # a batch of warm-ups alone says nothing about the ready fleet
            self._round_width = sum(busy) / len(busy)
        out = []
        for events in per_reading:
            for flag in events:
                self._record(flag)
            out += events
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
        for dev in self._devices.values():
            if dev.bank is not None:
                self._bank.release(dev)
        return {
            "version": STATE_VERSION,
            "devices": {k: d.to_dict() for k, d in self._devices.items()},
            "open": {k: f.to_dict() for k, f in self._open.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint made by ``state_dict`` (replaces the current state)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise StateError(f"checkpoint version must be {STATE_VERSION}")
        try:
            devices = {k: DeviceState.from_dict(v) for k, v in state["devices"].items()}
            open_flags = {k: Flag.from_dict(v) for k, v in state["open"].items()}
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise StateError(f"checkpoint is malformed: {exc}") from exc
        self._devices, self._open = devices, open_flags
        self._bank = SeriesBank()

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
        scored: list[Scored] = []
        for name, series, _, judged, _, _, sign, _ in dev.plan(profile):
            if not judged or series.base.n == 0:
                continue
            x = values.get(name)
            if x is None:
                series.idle(cfg)
                if name in jumps and math.isfinite(cfg.z_point):
                    expected = series.expected_at(ts_ns, features)
                    series.z_raw = series.base.score_one(ts_ns, jumps[name] - expected)
            else:
                scored.append((series, sign, x, series.score(ts_ns, x, features, cfg)))
        return self._finish(dev, profile, cfg, values, features, ts_ns, scored)

    def _finish(
        self,
        dev: DeviceState,
        profile: AssetProfile,
        cfg: DetectionConfig,
        values: dict[str, float],
        features: dict[str, float],
        ts_ns: int,
        scored: list[Scored],
    ) -> list[Flag]:
        """Once a reading's series are scored: equipment score, flag lifecycle, learning."""
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
        for (series, _, x, _), rate in zip(scored, _rates(dev, cfg, scored, ts_ns), strict=True):
            series.learn(ts_ns, x, features, rate)
        return events

    def _run_round(self, pending: list[Deferred], per_reading: list[list[Flag]]) -> None:
        """Score the readings deferred to this round together (see ``process_batch``)."""
        if len(pending) < NARROW_ROUND:
            # Too few for the array overhead: finish them one at a time.
            for item in pending:
                self._bank.release(item.dev)
                per_reading[item.index] += self._score_device(
                    item.dev, item.profile, item.cfg, item.values, item.features, item.ts_ns, {}
                )
            return
        hot = self._bank.score_round(pending)
        finish_calm(pending, hot)
        for item, is_hot in zip(pending, hot, strict=True):
            if not is_hot:
                continue
            # The reading may open a flag (which reads the trend and baseline): finish it
            # on the objects, from the scored state the bank hands back.
            rows = item.dev.bank
            assert rows is not None
            self._bank.release(item.dev)
            scored: list[Scored] = [
                (series, sign, item.values[name], series.z_raw)
                for name, series, sign in zip(rows.names, rows.series, rows.signs, strict=True)
            ]
            per_reading[item.index] += self._finish(
                item.dev, item.profile, item.cfg, item.values, item.features, item.ts_ns, scored
            )

    def _config_for(self, asset_type: str) -> DetectionConfig:
        """The configuration with the asset type's default overrides applied."""
        found = self._configs.get(asset_type)
        if found is None:
            found = self.config.for_asset(asset_type, self.profiles)
            self._configs[asset_type] = found
        return found

    def _record(self, flag: Flag) -> None:
        if not self._recording:
            return  # ``process_batch`` records its flags in the readings' order
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


def _rates(dev: DeviceState, cfg: DetectionConfig, scored: list[Scored], ts_ns: int) -> list[float]:
    """Learning rate per scored series, once the lifecycle has run.

    Fast when calm, slow when suspicious, fast again after false-alarm feedback.
    """
    calm_device = dev.eq["flag_id"] is None
    feedback = dev.in_feedback(ts_ns)
    z_freeze, z_clip, slow = cfg.z_freeze, cfg.z_clip, cfg.suspicious_learn_rate
    rates = []
    for series, sign, _, z in scored:
        bad = series.dev * sign if sign else abs(series.dev)  # the spec's badness
        calm = calm_device and bad < z_freeze and abs(z) < z_clip
        rates.append(1.0 if (calm or feedback) else slow)
    return rates


def _novel(dev: DeviceState, profile: AssetProfile, features: Mapping[str, float]) -> bool:
    """Whether any judged metric's condition model has never seen this operating point."""
    return any(
        p.judged and p.series.model.outside(features) > NOVEL_MARGIN for p in dev.plan(profile)
    )
