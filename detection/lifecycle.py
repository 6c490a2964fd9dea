"""Equipment flag lifecycle: one device score in, opened/updated/cleared flags out.

The device score is the worst deviation over its metrics (smoothed robust z,
scaled CUSUM, hard limits) and its healthy envelope. Hysteresis (open above
``z_open`` for ``open_readings``, clear below ``z_clear`` for
``clear_readings``) and rate-limited updates keep a flapping signal to one flag.
"""

from __future__ import annotations

import math
from typing import Any

from prognos.detection.config import DetectionConfig
from prognos.detection.device import DeviceState, new_tracker
from prognos.detection.drift import condition_drifting, track_drift
from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.detection.profiles import AssetProfile
from prognos.detection.series import SETTLING

__all__ = ["POINT", "RECORD", "device_score", "equipment_step", "track_drift"]

#: Detector name of a single extreme reading (opens at once, see ``z_point``).
POINT = "point"
#: Detector name of a value beyond a metric's all-time range (opens at once, see
#: ``record_hold_s``).
RECORD = "record"
_RANK = {s.value: i for i, s in enumerate(Severity)}


def device_score(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
) -> tuple[float, str]:
    """The device's equipment score (in z units) and the detector that set it."""
    best, detector = 0.0, "robust_z"
    if dev.eq["flag_id"] is None and condition_drifting(dev, profile):
        return best, detector  # the operating point itself is misread: nothing to judge
    z_open = cfg.z_open
    # No series' point limit is below this (profiled assets: infinite, no call needed).
    point_min = cfg.z_point if cfg.z_point < cfg.z_point_white else cfg.z_point_white
    for _, series, spec, _, scored, _, sign, limited in dev.plan(profile):
        # A drifting instrument never counts; a metric deviating alone waits (see
        # ``track_drift``) for a companion before it may.
        if not scored or series.drifting or series.alone > 0:
            continue
        dev_z = series.dev
        bad = dev_z * sign if sign else abs(dev_z)  # spec.badness, without the call
        det = "robust_z" if abs(series.z_smooth * series.smooth_gain) >= abs(dev_z) else "cusum"
        if limited and series.usable and math.isfinite(series.last_value):
            level = spec.limit_level(series.last_value)
            if level and bad < z_open * (1.0 + 0.5 * level):
                bad, det = z_open * (1.0 + 0.5 * level), "hard_limit"
        z_raw = series.z_raw
        point = z_raw * sign if sign else abs(z_raw)
        if point > bad and point >= point_min and point >= series.point_limit(cfg):
            bad, det = point, POINT
        # ``fresh_ns`` first: most series never set a record worth a look.
        if series.fresh_ns >= 0 and bad < z_open and series.recent_record(dev.last_ts, cfg):
            bad, det = z_open, RECORD
        if bad > best:
            best, detector = bad, det
    if dev.envelope is not None:
        env = cfg.z_open * dev.env_smooth / cfg.envelope_open
        if env > best:
            best, detector = env, "envelope"
    return best, detector


def _moved(dev: DeviceState, profile: AssetProfile, cfg: DetectionConfig) -> dict[str, float]:
    moved: dict[str, float] = {}
    for name, series in dev.series.items():
        if not profile.scored(name) or series.drifting:
            continue
        spec = profile.spec(name)
        limit = series.usable and spec.limit_level(series.last_value) > 0
        record = series.recent_record(dev.last_ts, cfg)
        if spec.badness(series.dev) >= cfg.z_moved or limit or record:
            moved[name] = series.dev if series.dev != 0 else 1.0
    if not moved and dev.envelope is not None:
        for name, share in dev.env_contrib.items():
            if share >= 0.25 and name in dev.series:
                moved[name] = dev.series[name].z_smooth or 1.0
    return moved


def _signals(dev: DeviceState, profile: AssetProfile) -> dict[str, tuple[float, float, float]]:
    """Per judged metric: smoothed z, robust sd and latest value (the deviation pattern)."""
    return {
        name: (series.z_smooth, series.base.scale, series.last_value)
        for name, series in dev.series.items()
        if profile.scored(name) and series.usable and not series.drifting
    }


def _severity(
    score: float, limit_level: int, rul_s: float | None, cfg: DetectionConfig
) -> Severity:
    rank = 1 if score >= 1.5 * cfg.z_open else 0
    if limit_level >= 1 or (rul_s is not None and rul_s < 24 * 3600):
        rank = max(rank, 2)
    if limit_level >= 2 or (rul_s is not None and rul_s < 4 * 3600):
        rank = 3
    return list(Severity)[rank]


def _describe(
    dev: DeviceState, profile: AssetProfile, cfg: DetectionConfig, score: float, ts_ns: int
) -> dict[str, Any]:
    """Hypothesis, metrics, evidence, predicted failure and severity right now."""
    moved = _moved(dev, profile, cfg)
    matches = profile.matches(moved)
    mode, match = profile.hypothesis(moved, _signals(dev, profile))
    # The hypothesis made when the flag opened stands (the first metrics to move are
    # the most telling; late in a failure everything moves); only "unknown" is refined.
    current = dev.eq["failure_mode"]
    if current and current != "unknown":
        mode, match = current, matches.get(current, 0.0)
    order = sorted(moved, key=lambda n: -profile.spec(n).badness(moved[n]))
    if not order and dev.series:
        order = [max(dev.series, key=lambda n: profile.spec(n).badness(dev.series[n].dev))]
    evidence: dict[str, float] = {"match": match}
    limit_level, rul = 0, None
    predicted: int | None = None
    for name in order:
        series, spec = dev.series[name], profile.spec(name)
        if math.isfinite(series.last_value):
            limit_level = max(limit_level, spec.limit_level(series.last_value))
        limit = spec.trip if spec.trip is not None else spec.warn
        if limit is None:
            continue
        eta = series.trend.time_to(ts_ns, limit)
        if eta is not None and (rul is None or eta[0] < rul):
            rul = eta[0]
            evidence.update(
                rul_s=eta[0], rul_low_s=eta[1], rul_high_s=eta[2] if math.isfinite(eta[2]) else -1.0
            )
            predicted = ts_ns + int(eta[0] * 1e9)
    if order:
        top = dev.series[order[0]]
        evidence.update(
            baseline=top.base.level,
            latest=top.last_value,
            z=top.dev,
            slope_per_h=top.trend.slope_per_h(),
        )
        if top.recent_record(ts_ns, cfg):
            # The range the metric has just left, for the planner to compare.
            evidence.update(all_time_low=top.lo, all_time_high=top.hi)
    if dev.envelope is not None:
        evidence["envelope"] = dev.env_smooth
        top = sorted(dev.env_contrib.items(), key=lambda kv: -kv[1])[:3]
        evidence.update({f"contribution_{name}": share for name, share in top})
    return {
        "failure_mode": mode,
        "metrics": order,
        "evidence": evidence,
        "predicted": predicted,
        "severity": _severity(score, limit_level, rul, cfg),
    }


def equipment_step(
    dev: DeviceState,
    profile: AssetProfile,
    cfg: DetectionConfig,
    score: float,
    detector: str,
    ts_ns: int,
) -> list[Flag]:
    """Advance the device's equipment flag by one reading."""
    t = dev.eq
    t["n"] += 1
    if t["flag_id"] is not None and dev.suppressed.get(t["failure_mode"], 0) > ts_ns:
        flag = _flag(
            dev,
            t,
            FlagState.CLEARED,
            score,
            ts_ns,
            None,
            {"suppressed": 1.0},
            Severity(t["severity"]),
        )
        dev.eq = new_tracker()
        return [flag]
    if t["flag_id"] is None:
        # While the models settle after warm-up, only a clear deviation opens a flag.
        needed = cfg.z_open * (cfg.settle_open_factor if dev.stage == SETTLING else 1.0)
        if score >= needed:
            t["above"] += 1
            if t["above"] == 1:
                t["window_start_ns"] = ts_ns
        else:
            t["above"] = 0
        if detector in (POINT, RECORD):
            t["above"] = max(t["above"], cfg.open_readings)
        if t["above"] < cfg.open_readings:
            return []
        info = _describe(dev, profile, cfg, score, ts_ns)
        if dev.suppressed.get(info["failure_mode"], 0) > ts_ns:
            return []
        t.update(flag_id=f"{dev.device}:equipment:{ts_ns}", opened_ns=ts_ns, below=0)
        return [_emit(dev, t, FlagState.OPENED, score, ts_ns, info, detector)]
    t["below"] = t["below"] + 1 if score < cfg.z_clear else 0
    if t["below"] >= cfg.clear_readings:
        flag = _flag(dev, t, FlagState.CLEARED, score, ts_ns, None, {}, Severity(t["severity"]))
        dev.eq = new_tracker()
        for series in dev.series.values():
            series.cusum.reset()
        return [flag]
    info = _describe(dev, profile, cfg, score, ts_ns)
    # Severity of an open flag only rises: a planner should not see it flap.
    if _RANK[info["severity"].value] < _RANK[t["severity"]]:
        info["severity"] = Severity(t["severity"])
    rose = _RANK[info["severity"].value] > _RANK[t["severity"]]
    due = t["n"] - t["last_emit_n"] >= cfg.update_min_readings
    ratio = score / t["last_score"] if t["last_score"] > 0 else math.inf
    material = (
        info["severity"].value != t["severity"]
        or info["failure_mode"] != t["failure_mode"]
        or ratio >= cfg.update_score_ratio  # a rise is news; a fall waits for the clear
    )
    if not (rose or (due and material)):
        return []
    return [_emit(dev, t, FlagState.UPDATED, score, ts_ns, info, detector)]


def _emit(
    dev: DeviceState,
    t: dict[str, Any],
    state: FlagState,
    score: float,
    ts_ns: int,
    info: dict[str, Any],
    detector: str,
) -> Flag:
    """Record what an opened or updated flag now says in its tracker, and the event."""
    t.update(
        last_emit_n=t["n"],
        last_score=score,
        severity=info["severity"].value,
        failure_mode=info["failure_mode"],
        detector=detector,
        metrics=info["metrics"],
    )
    return _flag(dev, t, state, score, ts_ns, info["predicted"], info["evidence"], info["severity"])


def _flag(
    dev: DeviceState,
    t: dict[str, Any],
    state: FlagState,
    score: float,
    ts_ns: int,
    predicted: int | None,
    evidence: dict[str, float],
    severity: Severity,
) -> Flag:
    return Flag(
        flag_id=t["flag_id"],
        device=dev.device,
        asset_type=dev.asset_type,
        site=dev.site,
        kind=FlagKind.EQUIPMENT,
        state=state,
        detector=t["detector"],
        metrics=tuple(t["metrics"]),
        failure_mode=t["failure_mode"] or "unknown",
        score=float(score),
        severity=severity,
        opened_ns=t["opened_ns"],
        updated_ns=ts_ns,
        window_start_ns=t["window_start_ns"],
        window_end_ns=ts_ns,
        predicted_failure_ns=predicted,
        evidence=evidence,
    )
