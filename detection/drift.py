"""Instrument drift: a reading that wanders while the machine it measures has not changed.

A drifting sensor moves one metric slowly and alone. A genuine fault moves the
metrics its mechanism couples (friction heats a bearing that vibrates more),
so a lone deviation that the companions of every fault able to cause it
contradict is the instrument's. A drifting condition sensor (the load or
speed the other metrics are modelled on) shows instead as every modelled
metric deviating the way the condition models say a wrong condition would.
"""

from __future__ import annotations

from collections.abc import Mapping

from prognos.detection.asset_model import RELATIVE_METRICS, FailureSignature
from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState
from prognos.detection.profiles import AssetProfile
from prognos.detection.series import LAG_SUFFIX, SLOW_SUFFIX, MetricSeries

#: A lone deviation judged genuine (a fault able to cause it is not contradicted)
#: stays released to the equipment score until it is gone (``MetricSeries.alone``).
RELEASED = -1
#: Scales of a condition-drift offset tried when fitting the clipped deviations
#: (multiples of the offset that explains the largest one).
_OFFSETS = tuple(0.05 * 1.3**i for i in range(40))


def track_drift(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
    features: Mapping[str, float] | None = None,
) -> None:
    """Mark drifting instruments: lone metrics, and condition metrics (with ``features``).

    A drift-prone metric (no failure mode moves it alone) deviating alone for
    ``drift_readings`` is drifting. A metric some failure mode does move alone
    is held the same way, and called drifting once the companions those modes
    would also move (their ``strengths``) plainly have not; while no companion
    contradicts them, the deviation is released to the equipment score after
    ``drift_readings`` (or at once when a companion moves). It is not held at all
    when no companion is precise enough to contradict a mode soon (see ``_refutable``).
    """
    plan = dev.plan(profile)
    if (
        features is not None
        and profile.condition_metrics
        and _condition_drift(dev, profile, cfg, features)
    ):
        for p in plan:
            if p.judged and p.series.alone > 0:
                p.series.alone = 0
        return
    for name, series, _, judged, scored, can_drift, _, _ in plan:
        if can_drift:
            lone: tuple[FailureSignature, ...] = ()
        elif judged and scored:
            lone = profile.lone_modes(name)
            if not lone:
                continue
        else:
            continue
        if series.drifting:
            # A companion moving after all makes it the machine's (a mode it rules out
            # may have been ruled out on a noisy estimate; the move itself is not).
            series.drifting = abs(series.z_smooth) >= cfg.z_clear and (
                not lone or not _companion_moved(dev, profile, cfg, name)
            )
            series.alone = 0
            if not series.drifting:
                # The evidence the drift piled up is the instrument's, not the machine's.
                series.cusum.reset()
                series.dev = series.z_smooth * series.smooth_gain
            continue
        # A slow drift may open a flag on its CUSUM before its smoothed z gets there.
        size = abs(series.z_smooth) if can_drift else max(abs(series.z_smooth), abs(series.dev))
        if size < cfg.z_open or _companion_moved(dev, profile, cfg, name):
            series.alone = 0
            continue
        if series.alone == RELEASED:
            continue
        if dev.eq["flag_id"] is not None:
            # An open equipment flag explains it: held back, it would clear the flag.
            if can_drift:
                series.alone += 1
            else:
                series.alone = RELEASED
            continue
        if not can_drift and series.alone == 0 and not _refutable(dev, cfg, name, lone):
            # Nothing would tell this drift from the fault in time: judge it as it is.
            series.alone = RELEASED
            continue
        series.alone += 1
        if can_drift:
            if series.alone >= cfg.drift_readings:
                series.drifting, series.alone = True, 0
        elif series.alone >= cfg.drift_confirm_readings and _contradicted(dev, cfg, name, lone):
            series.drifting, series.alone = True, 0
        elif series.alone >= cfg.drift_readings:
            series.alone = RELEASED


def condition_drifting(dev: DeviceState, profile: AssetProfile) -> bool:
    """Whether a condition metric is drifting, or suspected of it (nothing is judged then)."""
    for name in profile.condition_metrics:
        series = dev.series.get(name)
        if series is not None and (series.drifting or series.alone > 0):
            return True
    return False


def _companion_moved(
    dev: DeviceState, profile: AssetProfile, cfg: DetectionConfig, name: str
) -> bool:
    return any(
        other != name
        and profile.scored(other)
        and not s.drifting
        and profile.spec(other).badness(s.dev) >= cfg.z_moved
        for other, s in dev.series.items()
    )


def _units(strength: float, metric: str, series: MetricSeries) -> float:
    """A signature strength in the metric's unit (relative strengths scale the reading)."""
    if metric in RELATIVE_METRICS:
        return strength * abs(series.last_value) if series.last_value == series.last_value else 0.0
    return strength


def deviation(series: MetricSeries, cfg: DetectionConfig) -> float:
    """How far the metric is from its baseline, in its unit (signed).

    The smoothed z, unless it sits at ``z_clip``: then the latest reading's own
    deviation, when larger and the same way.
    """
    smooth = series.z_smooth * series.base.scale
    if abs(series.z_smooth) < 0.95 * cfg.z_clip:
        return smooth
    latest = series.last_value - series.expected - series.base.level
    return latest if latest * smooth > 0 and abs(latest) > abs(smooth) else smooth


def _refutable(
    dev: DeviceState,
    cfg: DetectionConfig,
    name: str,
    modes: tuple[FailureSignature, ...],
) -> bool:
    """Whether every mode in ``modes`` has a companion that would soon tell it from a drift.

    Soon: by the time ``name`` deviates ``drift_refute_z`` robust sd, the
    companion (at its own noise level) would be expected beyond ``z_open``.
    """
    series = dev.series[name]
    own_scale = series.base.scale
    for sig in modes:
        own = _units(sig.strengths.get(name, 0.0), name, series)
        if own == 0.0:
            return False
        reach = 0.0
        for other, strength in sig.strengths.items():
            companion = dev.series.get(other)
            if other == name or companion is None or companion.base.scale <= 0.0:
                continue
            ratio = abs(_units(strength, other, companion) / own) * own_scale / companion.base.scale
            reach = max(reach, ratio * cfg.drift_refute_z)
        if reach < cfg.z_open:
            return False
    return True


def _contradicted(
    dev: DeviceState,
    cfg: DetectionConfig,
    name: str,
    modes: tuple[FailureSignature, ...],
) -> bool:
    """Whether every mode in ``modes`` would by now have moved a companion that has not.

    The lone deviation of ``name`` (in its unit) and each mode's strengths give
    how far each companion should have moved; a companion expected beyond
    ``z_open`` that moved less than a third of that, or the other way, rules
    the mode out. A mode with no measurable companion is never ruled out.
    """
    series = dev.series[name]
    delta = deviation(series, cfg)
    for sig in modes:
        own = _units(sig.strengths.get(name, 0.0), name, series)
        if own == 0.0:
            return False
        if own * delta < 0:
            continue  # this mode moves the metric the other way
        ruled_out = False
        for other, strength in sig.strengths.items():
            companion = dev.series.get(other)
            if other == name or companion is None:
                continue
            if companion.drifting or not companion.usable or companion.base.n == 0:
                continue
            scale = companion.base.scale
            if scale <= 0.0:
                continue
            expected_z = delta * _units(strength, other, companion) / own / scale
            if abs(expected_z) < cfg.z_open:
                continue
            # The smoothed z stops at ``z_clip``: so does what is expected of it.
            expected_z = max(-cfg.z_clip, min(cfg.z_clip, expected_z))
            if companion.z_smooth * expected_z < expected_z * expected_z / 3.0:
                ruled_out = True
                break
        if not ruled_out:
            return False
    return True


def _condition_drift(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
    features: Mapping[str, float],
) -> bool:
    """Track drifting condition metrics; True while one is drifting or suspected.

    A condition sensor reading ``d`` too high makes each modelled metric read
    below its model by the model's slope times ``d``: the deviations of the
    modelled metrics line up (cosine ``condition_drift_cos``, after clipping
    like the smoothed z) with the slopes, the largest beyond ``z_open`` and another
    beyond ``z_moved``. Held for ``condition_drift_readings`` (a miss takes back
    three readings' worth), that is a drifting condition sensor; it
    stays so until the modelled metrics are back within ``z_clear``.
    """
    conditions = [
        (name, dev.series[name]) for name in profile.condition_metrics if name in dev.series
    ]
    plan = dev.plan(profile)
    if not any(s.drifting or s.alone > 0 for _, s in conditions) and (
        dev.eq["flag_id"] is not None
        or all(abs(p.series.z_smooth) < cfg.z_open for p in plan if p.judged)
    ):
        return False  # the usual case: nothing suspected, nothing deviating
    # Metrics already taken for lone drifts count: a wrong condition explains them better.
    judged = [p.series for p in plan if p.judged and p.series.base.n > 0 and p.series.usable]
    for _, series in conditions:
        if series.drifting:
            if all(abs(s.z_smooth) < cfg.z_clear for s in judged):
                series.drifting = False
                for s in judged:
                    s.cusum.reset()
                    s.dev = s.z_smooth * s.smooth_gain
            return True
    if len(judged) < 2 or dev.eq["flag_id"] is not None:
        for _, series in conditions:
            series.alone = 0
        return False
    z = [s.z_smooth for s in judged]
    if max(abs(v) for v in z) < cfg.z_open:
        for _, series in conditions:
            series.alone = 0
        return False
    suspected = False
    for name, series in conditions:
        if name in features and _explains(judged, z, name, features, cfg):
            series.alone += 1
            suspected = True
            if series.alone >= cfg.condition_drift_readings:
                series.drifting, series.alone = True, 0
                for s in judged:
                    s.drifting = False
        elif series.alone > 0:
            # A leaky count: a noisy fit may miss now and then, a wrong one mostly.
            series.alone = max(series.alone - 3, 0)
            suspected = suspected or series.alone > 0
    return suspected


def _explains(
    judged: list[MetricSeries],
    z: list[float],
    name: str,
    features: Mapping[str, float],
    cfg: DetectionConfig,
) -> bool:
    """Whether an offset of condition ``name`` explains the smoothed deviations ``z``."""
    value = features[name]
    step = 0.01 * max(abs(value), 1.0)
    keys = [k for k in (name, name + LAG_SUFFIX, name + SLOW_SUFFIX) if k in features]
    up = dict(features)
    down = dict(features)
    for k in keys:
        up[k] = features[k] + step
        down[k] = features[k] - step
    # Deviation (in each metric's robust sd) per unit of condition offset upwards.
    slope = [
        -(s.model.expected(up) - s.model.expected(down)) / (2.0 * step * s.base.scale)
        if s.base.scale > 0.0
        else 0.0
        for s in judged
    ]
    top = max(range(len(z)), key=lambda i: abs(z[i]))
    if abs(slope[top]) <= 0.0:
        return False
    clip = cfg.z_clip
    norm = sum(v * v for v in z) ** 0.5
    best_cos, best_pred = 0.0, slope
    # The offset that explains the largest deviation, scaled: clipping bends the fit.
    base = z[top] / slope[top]
    for factor in _OFFSETS:
        d = base * factor
        pred = [max(-clip, min(clip, d * u)) for u in slope]
        pn = sum(v * v for v in pred) ** 0.5
        if pn <= 0.0:
            continue
        cos = sum(a * b for a, b in zip(z, pred, strict=True)) / (norm * pn)
        if cos > best_cos:
            best_cos, best_pred = cos, pred
    if best_cos < cfg.condition_drift_cos:
        return False
    # The largest deviation clearly, and at least one more beyond ``z_moved``, both
    # the way the offset would move them.
    if abs(z[top]) < cfg.z_open or z[top] * best_pred[top] <= 0:
        return False
    z_moved = cfg.z_moved
    return any(
        i != top and abs(a) >= z_moved and abs(b) >= z_moved and a * b > 0
        for i, (a, b) in enumerate(zip(z, best_pred, strict=True))
    )
