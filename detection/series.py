"""Per-series and per-device detector state: the numbers the engine keeps between readings.

A ``MetricSeries`` holds everything about one metric of one device (sensor
health, condition model, daily cycle, baseline, CUSUM, trend); the device
that owns the series is in ``device``. Both are bounded
(a fixed handful of floats per series; warm-up rows are dropped once fitted)
and serialise to plain JSON for checkpoints.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from prognos.detection.condition import ConditionModel
from prognos.detection.config import DetectionConfig
from prognos.detection.detectors import ALPHAS, Cusum, RobustZ, TrendFit, alpha_cached, alpha_for
from prognos.detection.errors import StateError
from prognos.detection.profiles import AssetProfile, MetricSpec
from prognos.detection.seasonal import DailyProfile, fit_daily
from prognos.detection.sensor_health import SensorHealth

#: Warm-up rows carry their timestamp under this key (never a metric name).
TS_KEY = "__ts_ns"
#: Lagged copies of condition metrics (thermal inertia) are named ``<metric>~lag``.
LAG_SUFFIX = "~lag"
SLOW_SUFFIX = "~slow"
#: Pseudo-condition: 1 while the machine runs, 0 when stopped (machines heat when running).
RUN_KEY = "__running"
#: Device stages: learning only, scoring while the models settle, fully ready.
WARMING, SETTLING, READY = 0, 1, 2
#: Smallest ``smooth_gain`` worth applying (see ``smooth_gain_of``).
_MIN_GAIN = 1.5


def condition_names(profile: AssetProfile) -> list[str]:
    """The condition features of a profile: its condition metrics and the run state."""
    names = list(profile.condition_metrics)
    if profile.running_metric is not None:
        names.append(RUN_KEY)
    return names


class MetricSeries:
    """Detector state of one metric of one device."""

    __slots__ = (
        "alone",
        "base",
        "cusum",
        "dev",
        "drifting",
        "expected",
        "ext_hi",
        "ext_lo",
        "fresh_ns",
        "health",
        "hi",
        "last_value",
        "lo",
        "model",
        "record_ns",
        "season",
        "smooth_gain",
        "trend",
        "usable",
        "warm_scale",
        "z_raw",
        "z_smooth",
        "z_warm_max",
    )

    def __init__(self, spec: MetricSpec, cfg: DetectionConfig) -> None:
        self.health = SensorHealth(spec.valid_min, spec.valid_max)
        self.model = ConditionModel.none()
        #: The metric's daily cycle, when its warm-up showed one (see ``fit_daily``).
        self.season: DailyProfile | None = None
        self.base = RobustZ(cfg.baseline_half_life, floor=max(spec.min_scale / 1.4826, 1e-9))
        self.cusum = Cusum(cfg.cusum_k, cap=2.0 * cfg.cusum_h)
        self.trend = TrendFit(cfg.trend_half_life)
        self.z_smooth = 0.0
        #: 1 / healthy spread of ``z_smooth`` (see ``DetectionConfig.smooth_standardise``).
        self.smooth_gain = 1.0
        self.dev = 0.0  # signed deviation used for scoring (z_smooth or scaled CUSUM)
        self.z_raw = 0.0
        self.expected = 0.0  # the condition model's value for the reading last scored
        self.z_warm_max = 0.0
        self.warm_scale = 0.0  # the robust sd that ``z_warm_max`` was measured in
        self.alone = 0  # readings this metric has deviated with no companion moving
        self.drifting = False
        self.last_value = float("nan")
        self.usable = False
        #: The lowest and highest value since warm-up began; when the range last grew
        #: (a record) and when it last grew after standing a while (see
        #: ``DetectionConfig.record_hold_s``); -1 = never.
        self.lo, self.hi = math.inf, -math.inf
        self.record_ns = self.fresh_ns = -1
        #: The extremes of an excursion just past a range that had stood, not yet far
        #: enough past it to count (see ``note_record``); +-inf when there is none.
        self.ext_lo, self.ext_hi = math.inf, -math.inf

    def seed(
        self,
        name: str,
        rows: list[dict[str, float]],
        profile: AssetProfile,
        cfg: DetectionConfig | None = None,
    ) -> None:
        """Fit the condition model and baseline on this metric's warm-up rows.

        Temperatures are modelled above ambient on the lagged load (thermal
        mass); everything else on the instantaneous load. With
        ``cfg.smooth_standardise`` the smoothed deviation is also measured
        against its own healthy spread (see ``smooth_gain_of``).
        """
        own = [r for r in rows if name in r]
        loads = [c for c in condition_names(profile) if c != name]
        ambient = profile.ambient_metric
        offset: str | None = None
        lagged = bool(profile.spec(name).above_ambient and ambient)
        if lagged:
            regressors = [c + sfx for c in loads for sfx in (LAG_SUFFIX, SLOW_SUFFIX)]
            key = ambient + LAG_SUFFIX
            # Without an ambient sensor on the device, the temperature itself is modelled.
            if 2 * sum(1 for r in own if key in r) >= len(own) > 0:
                offset = key
        else:
            regressors = loads
        values = [r[name] for r in own]
        if values:
            self.lo, self.hi = min(self.lo, *values), max(self.hi, *values)
            # The range was just set: it stands from the end of warm-up.
            self.record_ns = max(self.record_ns, int(max(r[TS_KEY] for r in own)))
        # Temperatures on lagged loads: linear (heat balance), see ``ConditionModel.fit``.
        self.model = ConditionModel.fit(regressors, own, values, offset=offset, linear=lagged)
        own = [r for r in own if offset is None or offset in r]
        residuals = [r[name] - self.model.expected(r) for r in own]
        self.season = None
        if cfg is not None and cfg.daily_season:
            times = [r[TS_KEY] for r in own]
            self.season = fit_daily(
                times,
                residuals,
                cfg.season_min_days,
                cfg.season_min_share,
                cfg.season_half_life_days,
            )
            if self.season is not None:
                day = self.season.value
                residuals = [v - day(int(t)) for v, t in zip(residuals, times, strict=True)]
        self.base.seed(residuals)
        # The largest excursion seen while healthy: a lone reading must beat it to
        # count as a point anomaly.
        self.z_warm_max = max((abs(self.base.score_one(0, v)) for v in residuals), default=0.0)
        self.warm_scale = self.base.scale
        if cfg is not None and cfg.smooth_standardise:
            zs = [self.base.score_one(0, v) for v in residuals]
            self.smooth_gain = smooth_gain_of(zs, cfg)
        for r in own:
            self.trend.learn_one(int(r[TS_KEY]), r[name])

    def score(
        self,
        ts_ns: int,
        x: float,
        condition: dict[str, float],
        cfg: DetectionConfig,
    ) -> float:
        """Update the scoring state with a usable value; return the raw z."""
        expected = self.expected = self.expected_at(ts_ns, condition)
        z = self.base.score_one(ts_ns, x - expected)
        self.z_raw = z
        clip = cfg.z_clip
        zc = -clip if -clip > z else z  # min(max(z, -clip), clip) without the calls
        zc = clip if clip < zc else zc
        z_smooth = self.z_smooth
        half_life = cfg.smooth_half_life
        alpha = ALPHAS[half_life] if half_life in ALPHAS else alpha_cached(half_life)
        z_smooth += alpha * (zc - z_smooth)
        self.z_smooth = z_smooth
        signed_cusum = self.cusum.score_one(ts_ns, zc)
        scaled = signed_cusum / cfg.cusum_h * cfg.z_open
        z_smooth *= self.smooth_gain
        self.dev = z_smooth if abs(z_smooth) >= abs(scaled) else scaled
        self.trend.learn_one(ts_ns, x)
        self.last_value = x
        if cfg.record_hold_s:
            self.note_record(ts_ns, x, cfg.record_quiet_s, cfg.record_margin * self.base.scale)
        return z

    def note_record(self, ts_ns: int, x: float, quiet_s: float, margin: float) -> None:
        """Widen the all-time range by ``x``; note a fresh record (see ``recent_record``).

        While the range is young or keeps growing (a metric steadily trending),
        it simply takes ``x`` in. Once it has stood ``quiet_s``, a value past it
        starts an excursion, measured from the old edge: a fresh record when it
        gets ``margin`` past it, and noise around the edge, taken in without
        news, when it comes back sooner.
        """
        lo, hi = self.lo, self.hi
        if lo > hi:  # unseeded: the range only starts
            self.lo = self.hi = x
            return
        beyond = lo - x if lo - x > x - hi else x - hi
        if beyond <= 0.0:
            if self.ext_lo <= self.ext_hi:
                self.lo, self.hi = min(lo, self.ext_lo), max(hi, self.ext_hi)
                self.ext_lo, self.ext_hi = math.inf, -math.inf
            return
        if self.record_ns >= 0 and ts_ns - self.record_ns >= quiet_s * 1e9:
            if beyond < margin:
                self.ext_lo, self.ext_hi = min(self.ext_lo, x), max(self.ext_hi, x)
                return
            self.fresh_ns = ts_ns
        self.record_ns = ts_ns
        self.lo, self.hi = min(lo, x, self.ext_lo), max(hi, x, self.ext_hi)
        self.ext_lo, self.ext_hi = math.inf, -math.inf

    def recent_record(self, ts_ns: int, cfg: DetectionConfig) -> bool:
        """Did this slowly wandering metric set a fresh record within ``record_hold_s``?

        White metrics are left to the ``point`` detector, whose threshold their
        warm-up calibrates (see ``point_limit``).
        """
        return (
            self.fresh_ns >= 0
            and ts_ns - self.fresh_ns <= cfg.record_hold_s * 1e9
            and self.smooth_gain < cfg.white_gain
        )

    def learn(self, ts_ns: int, x: float, condition: dict[str, float], rate: float) -> None:
        """Learn from the value just scored (``score`` must have run on this reading)."""
        self.learn_models(ts_ns, x, condition, rate, self.base.level)
        self.base.learn_one(ts_ns, x - self.expected, rate)

    def learn_models(
        self, ts_ns: int, x: float, condition: dict[str, float], rate: float, level: float
    ) -> None:
        """The condition model's and daily cycle's share of ``learn`` (calm readings only).

        ``level`` is the baseline level before this reading is learned (the
        batch path keeps it in a ``SeriesBank``).
        """
        if rate < 1.0:
            return
        season = self.season
        if season is None:
            self.model.learn(condition, x, self.base.alpha)
            return
        # The cycle learns from what the level leaves; the condition model from the
        # value without the cycle.
        day = season.value(ts_ns)
        season.learn_one(ts_ns, x - self.expected + day - level)
        self.model.learn(condition, x - day, self.base.alpha)

    def expected_at(self, ts_ns: int, condition: dict[str, float]) -> float:
        """The value the condition model and daily cycle expect now (no state change)."""
        expected = self.model.expected(condition)
        if self.season is not None:
            expected += self.season.value(ts_ns)
        return expected

    def warm_z(self, name: str, row: dict[str, float], clip: float) -> float:
        """The clipped robust z of a warm-up row under the fitted models (no state change)."""
        z = self.base.score_one(0, row[name] - self.expected_at(int(row[TS_KEY]), row))
        return min(max(z, -clip), clip)

    def point_limit(self, cfg: DetectionConfig) -> float:
        """The robust z at which one reading alone is an anomaly (``point`` detector).

        It must beat the largest excursion seen while healthy by a fifth, and
        a floor. The floor depends on what the warm-up can say about the tail:
        residuals that are nearly white (smoothing shrinks them by
        ``white_gain`` or more, see ``smooth_gain_of``) gave the warm-up as many
        independent draws as readings, so its extremes are a fair sample of
        healthy noise and the floor is the lower ``z_point_white``. Persistent
        residuals (slow wander) gave only a handful of independent swings, so
        their warm-up extremes say little and the floor is ``z_point``.
        """
        # In today's z units: a scale that shrank since (a flat series with rare
        # spikes forgets them) must not make the same spike look larger.
        warm = 1.2 * self.z_warm_max * (self.warm_scale / self.base.scale or 1.0)
        floor = self.point_floor(cfg)
        return warm if warm > floor else floor

    def point_floor(self, cfg: DetectionConfig) -> float:
        """The lowest ``point_limit`` can be, whatever the scale does (see there)."""
        floor = cfg.z_point_white if self.smooth_gain >= cfg.white_gain else cfg.z_point
        return floor if floor < cfg.z_point else cfg.z_point

    def idle(self, cfg: DetectionConfig) -> None:
        """No usable value this reading: let the smoothed deviation fade."""
        self.z_raw = 0.0
        self.z_smooth *= 1.0 - alpha_for(cfg.smooth_half_life)
        self.dev = self.z_smooth * self.smooth_gain

    def baseline_value(self, condition: dict[str, float], ts_ns: int = 0) -> float:
        day = 0.0 if self.season is None else self.season.value(ts_ns)
        return self.base.level + self.model.expected(condition) + day

    def to_dict(self) -> dict[str, Any]:
        return {
            "health": self.health.to_dict(),
            "model": self.model.to_dict(),
            "season": None if self.season is None else self.season.to_dict(),
            "base": self.base.to_dict(),
            "cusum": self.cusum.to_dict(),
            "trend": self.trend.to_dict(),
            "z_smooth": self.z_smooth,
            "smooth_gain": self.smooth_gain,
            "z_raw": self.z_raw,
            "expected": self.expected,
            "alone": self.alone,
            "z_warm_max": self.z_warm_max,
            "warm_scale": self.warm_scale,
            "drifting": self.drifting,
            "dev": self.dev,
            "last_value": self.last_value if math.isfinite(self.last_value) else None,
            "usable": self.usable,
            "lo": self.lo if math.isfinite(self.lo) else None,
            "hi": self.hi if math.isfinite(self.hi) else None,
            "record_ns": self.record_ns,
            "fresh_ns": self.fresh_ns,
            "ext_lo": self.ext_lo if math.isfinite(self.ext_lo) else None,
            "ext_hi": self.ext_hi if math.isfinite(self.ext_hi) else None,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> MetricSeries:
        obj = cls.__new__(cls)
        try:
            obj.health = SensorHealth.from_dict(state["health"])
            obj.model = ConditionModel.from_dict(state["model"])
            season = state.get("season")  # absent in older checkpoints: no cycle
            obj.season = None if season is None else DailyProfile.from_dict(season)
            obj.base = RobustZ.from_dict(state["base"])
            obj.cusum = Cusum.from_dict(state["cusum"])
            obj.trend = TrendFit.from_dict(state["trend"])
            obj.z_smooth = float(state["z_smooth"])
            obj.smooth_gain = float(state.get("smooth_gain", 1.0))
            obj.z_raw = float(state["z_raw"])
            obj.expected = float(state["expected"])
            obj.alone = int(state["alone"])
            obj.z_warm_max = float(state["z_warm_max"])
            obj.warm_scale = float(state.get("warm_scale", 0.0))  # older: as measured now
            obj.drifting = bool(state["drifting"])
            obj.dev = float(state["dev"])
            last = state["last_value"]
            obj.last_value = float("nan") if last is None else float(last)
            obj.usable = bool(state["usable"])
            # Absent in older checkpoints: no range yet (the next value starts it).
            lo, hi = state.get("lo"), state.get("hi")
            obj.lo = math.inf if lo is None else float(lo)
            obj.hi = -math.inf if hi is None else float(hi)
            obj.record_ns = int(state.get("record_ns", -1))
            obj.fresh_ns = int(state.get("fresh_ns", -1))
            ext_lo, ext_hi = state.get("ext_lo"), state.get("ext_hi")
            obj.ext_lo = math.inf if ext_lo is None else float(ext_lo)
            obj.ext_hi = -math.inf if ext_hi is None else float(ext_hi)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"metric series state is malformed: {exc}") from exc
        return obj


def smooth_gain_of(z: list[float], cfg: DetectionConfig) -> float:
    """1 / the healthy spread of the smoothed z, from warm-up z-scores in time order.

    Smoothing shrinks white noise a lot (half-life 10: to about a fifth) but
    leaves slow wander (thermal drift) nearly as it is, so one threshold on the
    smoothed z is either deaf to steady small shifts of noisy metrics or
    jumpy on slowly wandering ones. Measured in units of its own healthy
    spread, a shift counts the same whatever the metric's noise colour.

    The spread of the smoothed values themselves rests on a handful of
    independent swings in a short warm-up, so it is modelled instead: the
    larger of an AR(1) process with the warm-up's lag-1 autocorrelation and
    the spread of means over blocks as long as the smoothing's equivalent
    window ((2 - alpha) / alpha readings), which sees slow wander that a lag-1
    fit misses. The gain is capped (``smooth_gain_max``).

    >>> cfg = DetectionConfig(smooth_gain_max=10.0)
    >>> round(smooth_gain_of([1.0, -1.0] * 200, cfg), 2)  # white: sqrt((2 - a) / a)
    5.37
    >>> smooth_gain_of([i / 100 for i in range(400)], cfg)  # persistent: plain z
    1.0
    """
    clip = cfg.z_clip
    zc = [min(max(v, -clip), clip) for v in z]
    n = len(zc)
    if n < 20:
        return 1.0
    mean = sum(zc) / n
    d = [v - mean for v in zc]
    var = sum(v * v for v in d) / n
    if var <= 0.0:
        return 1.0
    rho = max(0.0, min(sum(a * b for a, b in itertools.pairwise(d)) / (n * var), 0.999))
    alpha = alpha_for(cfg.smooth_half_life)
    phi = (1.0 - alpha) * rho
    white = alpha / (2.0 - alpha)  # variance of the smoothed z over that of z, white noise
    ratio = white * (1.0 + phi) / (1.0 - phi)
    width = round(1.0 / white)
    blocks = [sum(d[i : i + width]) / width for i in range(0, n - width + 1, width)]
    if len(blocks) >= 4:
        block_mean = sum(blocks) / len(blocks)
        block_var = sum((b - block_mean) ** 2 for b in blocks) / (len(blocks) - 1)
        ratio = max(ratio, block_var / var)
    gain = min(ratio**-0.5, cfg.smooth_gain_max)
    # A small correction (persistent signals, e.g. temperatures) is within the error of
    # these fits on a short warm-up: such metrics keep the plain smoothed z.
    return gain if gain >= _MIN_GAIN else 1.0
