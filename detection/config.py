"""Detection knobs, with defaults that work out of the box for every asset type.

Durations are counted in readings, not seconds, so one configuration behaves
the same on 1-second test rigs and 5-minute historians. Every knob can be
overridden from a mapping (e.g. a TOML table), and unknown knobs are refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prognos.detection.errors import ConfigError
from prognos.detection.sensor_health import SensorHealthConfig

#: Defaults per asset type that differ from the global ones. ``generic`` is for
#: series without an asset profile (benchmarks, unknown devices): with no
#: physics to explain normal variation, its baseline follows slow change
#: faster and a single extreme reading counts as an anomaly (from 4 sigma on a
#: metric whose warm-up noise was white, 6.5 on a slowly wandering one; see
#: ``MetricSeries.point_limit``). Each metric is
#: judged on its own smoothed deviation, measured against that deviation's
#: healthy spread (so a steady small shift of a noisy metric counts), and a
#: flag clears as soon as the present deviation is gone: CUSUM may open a flag
#: but not hold it, and the hysteresis band is narrower (``z_clear`` 3). The
#: PCA envelope over the metrics' z-scores is on: with no profile to say which
#: metrics move together, it is what sees a broken relation between them; it
#: opens a flag at four times its single-reading limit (smoothed).
ASSET_OVERRIDES: dict[str, dict[str, Any]] = {
    "generic": {
        "baseline_half_life": 200.0,
        "suspicious_learn_rate": 0.2,
        "z_point": 6.5,
        "z_point_white": 4.0,
        "record_hold_s": 86400.0,
        "use_envelope": True,
        "envelope_open": 4.0,
        "settle_readings": 0,
        "smooth_standardise": True,
        "smooth_gain_max": 2.5,
        "z_clear": 3.0,
        "clear_readings": 20,
        "cusum_opens_only": True,
    },
}


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    """All detection knobs. Thresholds are in robust standard deviations (z)."""

    #: Healthy readings per device before it is scored (baselines, envelope, regressions).
    warmup_readings: int = 720
    #: After warm-up, readings while the models settle: scored, but a flag needs
    #: ``settle_open_factor`` x ``z_open``; calm ones (all |z| < ``settle_z``) are kept
    #: and the models refitted at the end on a fuller picture of normal (0 = off).
    settle_readings: int = 720
    settle_open_factor: float = 2.0
    settle_z: float = 5.0
    #: Forgetting of the healthy baseline (slow normal change is absorbed at this pace).
    baseline_half_life: float = 20160.0
    #: Smoothing of the z-score before thresholds apply (noise suppression).
    smooth_half_life: float = 10.0
    #: Measure the smoothed z against its own healthy spread in warm-up, so a steady
    #: small shift of a noisy metric counts as much as a large one of a slowly
    #: wandering metric; the gain is at most ``smooth_gain_max`` (1 = plain z).
    smooth_standardise: bool = False
    smooth_gain_max: float = 4.0
    #: Subtract a daily cycle (time-of-day profile) before judging a metric, when its
    #: warm-up spans ``season_min_days`` days and the cycle explains at least
    #: ``season_min_share`` of the variation the slow level leaves (and passes an F
    #: test corrected for autocorrelation); the profile's hours forget with a
    #: half-life of ``season_half_life_days`` days. Off for any shorter warm-up.
    daily_season: bool = True
    season_min_days: float = 2.0
    season_min_share: float = 0.25
    season_half_life_days: float = 7.0
    z_open: float = 4.0
    z_clear: float = 2.0
    #: A metric counts as having moved (for the failure-mode hypothesis) above this.
    z_moved: float = 2.0
    #: Above this, a series is suspicious and its baseline learns only slowly.
    z_freeze: float = 2.5
    z_clip: float = 6.0
    #: Readings above ``z_open`` before a flag opens, below ``z_clear`` before it clears.
    open_readings: int = 5
    clear_readings: int = 60
    cusum_k: float = 1.5
    cusum_h: float = 400.0
    #: CUSUM opens flags but does not hold them: while a flag is open its statistics
    #: stay at zero (restarted, as CUSUM does after an alarm), so the flag clears once
    #: the present smoothed deviation is gone instead of waiting for a saturated
    #: statistic to drain (``2 cusum_h / cusum_k`` readings).
    cusum_opens_only: bool = False
    #: Baseline learning rate (relative) while a series is suspicious.
    suspicious_learn_rate: float = 0.02
    trend_half_life: float = 180.0
    #: An open flag is re-emitted (UPDATED) at most this often, unless severity rises.
    update_min_readings: int = 30
    update_score_ratio: float = 1.5
    #: A metric deviating this long with no companion moving is an instrument drift
    #: (only for metrics no failure mode moves alone).
    drift_readings: int = 360
    #: A metric some failure mode does move alone is drifting once, deviating alone this
    #: long, the companions every such mode would also move plainly have not.
    drift_confirm_readings: int = 30
    #: ... and only when those companions would tell by the time it deviates this far (z).
    drift_refute_z: float = 6.0
    #: The modelled metrics deviating this long the way an offset of one condition
    #: metric would make them (cosine at least ``condition_drift_cos``): that
    #: condition sensor is drifting, and nothing is judged on it meanwhile.
    condition_drift_readings: int = 60
    condition_drift_cos: float = 0.9
    #: Fit the multivariate healthy envelope (PCA T^2/SPE) at the end of warm-up, over
    #: the metrics' robust z-scores (so it follows the baselines' slow adaptation).
    use_envelope: bool = False
    #: Smoothed envelope score (1.0 = the single-reading healthy limit, the
    #: ``envelope_quantile`` of warm-up scores) that counts as ``z_open``.
    envelope_open: float = 1.5
    envelope_quantile: float = 0.995
    max_metrics_per_device: int = 64
    #: Time constant of the lagged condition features (thermal inertia of machines).
    condition_lag_s: float = 1800.0
    #: A single reading this far out (robust z) opens a flag at once; off by default
    #: because on instrumented assets a lone extreme is usually an instrument spike.
    z_point: float = math.inf
    #: ... or this far for a metric whose warm-up residuals were nearly white (the
    #: smoothing shrank them by ``white_gain`` or more): its warm-up extremes are a fair
    #: sample of healthy noise, so a lower floor is safe (see ``MetricSeries.point_limit``).
    z_point_white: float = math.inf
    white_gain: float = 2.5
    #: A slowly wandering metric (not white, see ``white_gain``) beyond its all-time range
    #: (lowest and highest value since warm-up began), after that range had stood for
    #: ``record_quiet_s``, is an anomaly: the flag opens at once and the record holds it
    #: for ``record_hold_s`` (0 = off). Records that come sooner than that after the
    #: last one (a metric steadily trending, a range still being learned) are not news.
    #: In seconds, unlike most knobs: a machine's normal range is the one of its days.
    record_hold_s: float = 0.0
    record_quiet_s: float = 3 * 86400.0
    #: ... and only once the value is this far past the old edge (robust sd): a value
    #: just past it, that soon comes back, is noise around the edge.
    record_margin: float = 0.2
    sensor: SensorHealthConfig = field(default_factory=SensorHealthConfig)
    #: Per asset type: knobs that differ from the above (asset type -> knob -> value).
    asset_overrides: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {k: dict(v) for k, v in ASSET_OVERRIDES.items()}
    )

    def __post_init__(self) -> None:
        for name in (
            "warmup_readings",
            "open_readings",
            "clear_readings",
            "update_min_readings",
            "max_metrics_per_device",
            "drift_readings",
            "drift_confirm_readings",
            "condition_drift_readings",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in (
            "baseline_half_life",
            "smooth_half_life",
            "trend_half_life",
            "z_open",
            "cusum_h",
            "envelope_open",
            "condition_lag_s",
            "season_min_days",
            "season_half_life_days",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        for name in ("record_hold_s", "record_quiet_s", "record_margin"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        if not 0 < self.z_clear <= self.z_open:
            raise ConfigError("z_clear must be positive and not above z_open (hysteresis)")
        if not self.smooth_gain_max >= 1:
            raise ConfigError("smooth_gain_max must be at least 1 (1 = plain smoothed z)")
        if not 0 <= self.season_min_share < 1:
            raise ConfigError("season_min_share must be within 0..1 (a share of variance)")
        if not 0 < self.condition_drift_cos <= 1:
            raise ConfigError("condition_drift_cos must be within 0..1 (a cosine)")
        if not 0 <= self.suspicious_learn_rate <= 1:
            raise ConfigError("suspicious_learn_rate must be within 0..1")
        if not 0.5 < self.envelope_quantile < 1:
            raise ConfigError("envelope_quantile must be within 0.5..1")

    def for_asset(
        self,
        asset_type: str,
        profiles: Mapping[str, Any] | None = None,
    ) -> DetectionConfig:
        """This configuration with the asset type's overrides applied.

        Asset types without a profile use the ``generic`` overrides.
        """
        from prognos.detection.profiles import DEFAULT_PROFILES

        known = DEFAULT_PROFILES if profiles is None else profiles
        key = asset_type if asset_type in known else "generic"
        overrides = dict(self.asset_overrides.get(key, {}))
        if not overrides:
            return self
        bad = set(overrides) - {f.name for f in dataclasses.fields(self)} | (
            set(overrides) & {"asset_overrides", "sensor"}
        )
        if bad:
            raise ConfigError(f"asset_overrides[{key}]: unknown knob(s) {', '.join(sorted(bad))}")
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DetectionConfig:
        """Defaults overridden by ``values``; a ``sensor`` sub-mapping sets sensor knobs."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown detection knob(s): {', '.join(sorted(unknown))}")
        kwargs = dict(values)
        if "sensor" in kwargs and isinstance(kwargs["sensor"], Mapping):
            sensor_known = {f.name for f in dataclasses.fields(SensorHealthConfig)}
            bad = set(kwargs["sensor"]) - sensor_known
            if bad:
                raise ConfigError(f"unknown sensor knob(s): {', '.join(sorted(bad))}")
            kwargs["sensor"] = SensorHealthConfig(**kwargs["sensor"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"bad detection configuration: {exc}") from exc

    def with_overrides(self, **values: Any) -> DetectionConfig:
        """A copy with some knobs changed (validated like the original)."""
        return dataclasses.replace(self, **values)
