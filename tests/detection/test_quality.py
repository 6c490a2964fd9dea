"""Detection quality: the generic defaults' parts by hand, and their scores on real data."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from prognos.detection.config import ASSET_OVERRIDES, DetectionConfig
from prognos.detection.detectors import RobustZ, alpha_for, quantum
from prognos.detection.engine import DetectionEngine
from prognos.detection.errors import ConfigError
from prognos.detection.evaluation import nab, skab
from prognos.detection.evaluation.run import open_labels
from prognos.detection.flags import Flag, FlagState
from prognos.detection.profiles import GENERIC_PROFILE
from prognos.detection.series import MetricSeries, smooth_gain_of
from prognos.ingest.contract import Reading

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
SKAB_DIR = DATASETS / "skab"
NAB_DIR = DATASETS / "nab"


FIVE_MIN_NS = 300 * 10**9


# -- robust scale of sticky meters -------------------------------------------------------


def test_quantum_is_the_smallest_step_of_a_quantised_meter_only() -> None:
    assert quantum(sorted([32.0] * 50 + [31.0] * 3 + [33.0] * 2)) == 1.0
    rng = np.random.default_rng(0)
    assert quantum(sorted(rng.normal(size=400).tolist())) == 0.0  # continuous
    assert quantum([5.0]) == 0.0


def test_sticky_meter_gets_a_scale_from_its_real_spread() -> None:
    # 90 readings of 32, five of 31 and five of 33: the MAD is 0 and the mean absolute
    # deviation 0.1; rounding to the quantum (1.0) alone has a MAD of 1/4, above the
    # central-90 % bound (32 - 31) / (3.29 * 1.4826) = 0.205.
    z = RobustZ(half_life_readings=200)
    z.seed([32.0] * 90 + [31.0] * 5 + [33.0] * 5)
    assert z.level == 32.0
    assert z.mad == pytest.approx(0.25)
    assert z.score_one(0, 31.0) == pytest.approx(-1.0 / (1.4826 * 0.25))
    # Without the quantum floor, the central range decides: 88 of 32, six of 31, six of 33.
    wide = RobustZ(half_life_readings=200)
    wide.seed([32.0] * 88 + [31.0] * 6 + [33.0] * 6 + [31.5])
    assert wide.mad == pytest.approx(max(0.25 * 0.5, 2.0 / (3.29 * 1.4826)))


def test_gaussian_noise_keeps_its_mad_scale() -> None:
    rng = np.random.default_rng(1)
    z = RobustZ(half_life_readings=200)
    z.seed(rng.normal(0.0, 2.0, size=2000).tolist())
    assert z.scale == pytest.approx(2.0, rel=0.08)


# -- smoothed deviation in units of its own healthy spread -------------------------------


def test_smooth_gain_of_white_noise_is_the_smoothing_shrinkage() -> None:
    cfg = DetectionConfig(smooth_gain_max=10.0)
    # Alternating signs: lag-1 autocorrelation -1, clamped to 0 (white): the smoothed
    # z then has variance alpha / (2 - alpha) of the raw one.
    alternating = [1.0, -1.0] * 200
    alpha = alpha_for(cfg.smooth_half_life)
    assert smooth_gain_of(alternating, cfg) == pytest.approx(math.sqrt((2 - alpha) / alpha))
    # Capped by the knob.
    assert smooth_gain_of(alternating, DetectionConfig(smooth_gain_max=2.5)) == 2.5


def test_smooth_gain_sees_slow_wander_through_block_means() -> None:
    # Alternating +-1 (white at lag 1) on top of an offset of +-0.5 that flips every 29
    # readings, the smoothing's equivalent window ((2 - a) / a = 28.8, rounded):
    # 14 blocks; each block of 29 alternating values sums to +-1 in phase with the
    # offset, so the variance is 1 + 0.25 + 2 * 7 / 406 and each block mean is
    # +-(0.5 + 1/29). The gain is 1 / sqrt(block variance / variance).
    z = [(-1.0) ** i + (0.5 if (i // 29) % 2 == 0 else -0.5) for i in range(29 * 14)]
    var = 1.25 + 14 / 406
    block_var = 14 / 13 * (0.5 + 1 / 29) ** 2
    expected = (block_var / var) ** -0.5  # 2.04, where the lag-1 view alone says 5.37
    assert smooth_gain_of(z, DetectionConfig(smooth_gain_max=10.0)) == pytest.approx(expected)


def test_smooth_gain_of_a_persistent_signal_is_one() -> None:
    cfg = DetectionConfig(smooth_gain_max=10.0)
    ramp = [i / 100.0 for i in range(400)]  # autocorrelation ~1: smoothing removes nothing
    assert smooth_gain_of(ramp, cfg) == 1.0
    # Too short or constant: no basis for a gain.
    assert smooth_gain_of([1.0, -1.0] * 5, cfg) == 1.0
    assert smooth_gain_of([0.5] * 100, cfg) == 1.0


def test_a_gain_cap_below_one_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="smooth_gain_max must be at least 1"):
        DetectionConfig(smooth_gain_max=0.5)
    with pytest.raises(ConfigError, match="unknown knob"):
        DetectionConfig(asset_overrides={"generic": {"smooth_gain": 2.0}}).for_asset("generic")


def test_seed_sets_the_gain_only_when_asked() -> None:
    rng = np.random.default_rng(2)
    rows = [{"m": float(v), "__ts_ns": float(i)} for i, v in enumerate(rng.normal(size=400))]
    on = DetectionConfig(smooth_standardise=True, smooth_gain_max=2.5)
    series = MetricSeries(GENERIC_PROFILE.spec("m"), on)
    series.seed("m", rows, GENERIC_PROFILE, on)
    assert series.smooth_gain == 2.5  # white noise: sqrt((2 - a) / a) = 5.4, capped
    off = MetricSeries(GENERIC_PROFILE.spec("m"), DetectionConfig())
    off.seed("m", rows, GENERIC_PROFILE, DetectionConfig())
    assert off.smooth_gain == 1.0
    restored = MetricSeries.from_dict(series.to_dict())
    assert restored.smooth_gain == 2.5


# -- a lone extreme reading: the floor follows what the warm-up says about the tail ------


def _seeded(values: np.ndarray, cfg: DetectionConfig) -> MetricSeries:
    return _seeded_rows([{"m": float(v), "__ts_ns": float(i)} for i, v in enumerate(values)], cfg)


def _seeded_rows(rows: list[dict[str, float]], cfg: DetectionConfig) -> MetricSeries:
    series = MetricSeries(GENERIC_PROFILE.spec("m"), cfg)
    series.seed("m", rows, GENERIC_PROFILE, cfg)
    return series


def test_white_residuals_get_the_lower_point_floor_persistent_ones_the_higher() -> None:
    cfg = DetectionConfig().for_asset("generic")
    rng = np.random.default_rng(5)
    white = _seeded(rng.normal(size=600), cfg)
    assert white.smooth_gain >= cfg.white_gain
    assert white.point_limit(cfg) == max(1.2 * white.z_warm_max, cfg.z_point_white)  # seeded now
    assert white.point_limit(cfg) < cfg.z_point
    wander = _seeded(np.cumsum(rng.normal(size=600)), cfg)  # a random walk
    assert wander.smooth_gain < cfg.white_gain
    assert wander.point_limit(cfg) == max(1.2 * wander.z_warm_max, cfg.z_point)
    # Without a white floor (the profiled assets' default) nothing changes.
    plain = DetectionConfig()
    assert _seeded(rng.normal(size=600), plain).point_limit(plain) == math.inf


def _point_opens(spike_z: float) -> list[str]:
    """A white-noise metric with one spike of ``spike_z`` sigma after warm-up."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=900).clip(-3.0, 3.0)  # no stray extremes beside the spike
    x[700] = spike_z
    engine = DetectionEngine(config=DetectionConfig(warmup_readings=400))
    opened = []
    for i, v in enumerate(x):
        for flag in engine.process(Reading("d", "generic", "s", (i + 1) * 10**9, {"m": float(v)})):
            if flag.state is FlagState.OPENED:
                opened.append(flag.detector)
    return opened


def test_a_moderate_spike_on_white_noise_opens_a_point_flag_a_smaller_one_does_not() -> None:
    assert _point_opens(5.0) == ["point"]
    assert _point_opens(3.5) == []


def _spiky(extra_at: int | None) -> list[tuple[int, str]]:
    """A flat metric with a regular 8-reading pulse of +20 (its normal duty)."""
    rng = np.random.default_rng(3)
    x = rng.normal(scale=0.1, size=4000)
    for k in range(0, 4000, 100):
        x[k : k + 8] += 20.0
    if extra_at is not None:
        x[extra_at] += 40.0
    knobs = {**ASSET_OVERRIDES["generic"], "record_hold_s": 0.0}
    engine = DetectionEngine(
        config=DetectionConfig(warmup_readings=750, asset_overrides={"generic": knobs})
    )
    return [
        (i, flag.detector)
        for i, v in enumerate(x)
        for flag in engine.process(Reading("d", "generic", "s", (i + 1) * FIVE_MIN_NS, {"m": v}))
        if flag.state is FlagState.OPENED
    ]


def test_regular_pulses_stay_normal_after_the_scale_forgets_them() -> None:
    """The warm-up's pulses inflate its robust scale, which then shrinks towards the flat
    part; measured in today's z, the same pulse would look ever larger."""
    assert _spiky(None) == []
    assert _spiky(3050) == [(3050, "point")]  # three times the usual pulse still counts


# -- all-time records of slowly wandering metrics ----------------------------------------

DAY = 288  # five-minute readings


def _wander(days: float, ramp_per_day: float = 0.0) -> np.ndarray:
    """A metric wandering smoothly (a 1.7-day cycle) that keeps within its warm-up range."""
    t = np.arange(int(days * DAY))
    cycle = 10.0 * np.sin(2 * math.pi * t / (1.7 * DAY))
    cycle[800:] *= 0.98  # after warm-up, never quite back to the warm-up's extremes
    return 50.0 + cycle + ramp_per_day * t / DAY


def _opened(x: np.ndarray, cut: int | None = None) -> list[tuple[int, str]]:
    """(reading, detector) of every flag opened; with ``cut``, restarted from a checkpoint."""
    return [(i, flag.detector) for i, flag in _openings(x, cut)]


def _openings(x: np.ndarray, cut: int | None = None) -> list[tuple[int, Flag]]:
    cfg = DetectionConfig(warmup_readings=750)
    engine = DetectionEngine(config=cfg)
    out = []
    for i, v in enumerate(x):
        if i == cut:
            restored = DetectionEngine(config=cfg)
            restored.load_state(json.loads(json.dumps(engine.state_dict())))
            engine = restored
        for flag in engine.process(Reading("d", "generic", "s", (i + 1) * FIVE_MIN_NS, {"m": v})):
            if flag.state is FlagState.OPENED:
                out.append((i, flag))
    return out


def test_a_wandering_metric_below_its_all_time_low_opens_a_record_flag() -> None:
    x = _wander(10)
    dip = int(8.0 * DAY)  # about a trough of the cycle
    x[dip : dip + 60] -= np.linspace(0.0, 8.0, 60)  # five hours sinking lower
    old_low = _wander(10)[:750].min()
    below = np.flatnonzero(x < old_low)
    opened = _opened(x)
    assert [d for _, d in opened] == ["record"]
    at = opened[0][0]
    # Not on the first reading just past the old low (noise around the edge), but
    # once well past it: a fifth of a robust sd, while the metric still sinks.
    assert below[0] < at < dip + 60
    evidence = _openings(x)[0][1].evidence
    assert evidence["all_time_low"] == x[at] < old_low
    # The range, its dates, a pending excursion and the hold survive a restart.
    for cut in (dip - 10, int(below[0]) + 1, at + 10):
        assert _opened(x, cut=cut) == opened


def test_a_value_just_past_the_range_that_comes_back_is_noise_around_the_edge() -> None:
    x = _wander(10)
    dip = int(8.0 * DAY)
    x[dip : dip + 60] -= 0.5  # a hair below the old low, then back
    assert _opened(x) == []


def test_a_trending_metric_setting_records_all_the_time_opens_none() -> None:
    opened = _opened(_wander(12, ramp_per_day=1.5))
    assert "record" not in [d for _, d in opened]


def test_records_are_only_news_after_the_range_stood_and_only_for_wandering_metrics() -> None:
    cfg = DetectionConfig().for_asset("generic")
    rng = np.random.default_rng(9)
    hour = 3600 * 10**9
    rows = [{"m": float(v), "__ts_ns": float(i * hour)} for i, v in enumerate(_wander(3)[::12])]
    wander = _seeded_rows(rows, cfg)
    assert (wander.lo, wander.hi) == (min(r["m"] for r in rows), max(r["m"] for r in rows))
    end = int(rows[-1]["__ts_ns"])
    far = 10.0 * cfg.record_margin * wander.base.scale
    wander.note_record(end + 2 * 86400 * 10**9, wander.hi + far, cfg.record_quiet_s, far / 10)
    assert not wander.recent_record(end + 2 * 86400 * 10**9, cfg)  # the range had stood 2 days
    later = end + 6 * 86400 * 10**9  # then 4 days quiet
    wander.note_record(later, wander.lo - far, cfg.record_quiet_s, far / 10)
    assert wander.recent_record(later, cfg)
    assert wander.recent_record(later + int(cfg.record_hold_s * 1e9), cfg)
    assert not wander.recent_record(later + int(cfg.record_hold_s * 1e9) + 1, cfg)
    white_rows = [
        {"m": float(v), "__ts_ns": float(i * hour)} for i, v in enumerate(rng.normal(size=600))
    ]
    white = _seeded_rows(white_rows, cfg)
    white.note_record(later, white.hi + 10.0, cfg.record_quiet_s, 0.1)
    assert not white.recent_record(later, cfg)  # left to the point detector
    with pytest.raises(ConfigError, match="record_hold_s"):
        DetectionConfig(record_hold_s=-1.0)


# -- CUSUM opens flags but does not hold them --------------------------------------------


def _shift_events(opens_only: bool) -> list[tuple[int, FlagState, str]]:
    """One noisy metric, +2.5 sigma from reading 300 to 699, then back to normal."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=1100)
    x[300:700] += 2.5
    knobs = {
        "baseline_half_life": 2000.0,
        "z_point": math.inf,
        "settle_readings": 0,
        "cusum_h": 100.0,
        "cusum_opens_only": opens_only,
    }
    engine = DetectionEngine(
        config=DetectionConfig(warmup_readings=200, asset_overrides={"generic": knobs})
    )
    events = []
    for i, v in enumerate(x):
        for flag in engine.process(Reading("d", "generic", "s", (i + 1) * 10**9, {"m": float(v)})):
            if flag.state is not FlagState.UPDATED:
                events.append((i, flag.state, flag.detector))
    return events


def test_cusum_opens_a_flag_on_a_small_shift_and_it_clears_when_the_shift_ends() -> None:
    events = _shift_events(opens_only=True)
    assert [(s, d) for _, s, d in events] == [
        (FlagState.OPENED, "cusum"),
        (FlagState.CLEARED, "cusum"),
    ]
    opened, cleared = events[0][0], events[1][0]
    assert 300 < opened < 700
    # Smoothing (half-life 10) plus clear_readings (60) after the shift ends.
    assert 700 < cleared <= 700 + 90


def test_without_it_the_drained_statistic_holds_the_flag_longer() -> None:
    held = _shift_events(opens_only=False)
    quick = _shift_events(opens_only=True)
    assert held[0][0] == quick[0][0]  # the same opening
    assert held[1][1] is FlagState.CLEARED and held[1][0] > quick[1][0] + 50


# -- real labelled data ------------------------------------------------------------------


def _skab_files() -> list[Path]:
    return sorted((SKAB_DIR / "valve1").glob("*.csv"), key=lambda p: int(p.stem))


@pytest.mark.skipif(not (SKAB_DIR / "valve1").is_dir(), reason="SKAB data absent")
def test_default_configuration_on_skab_valve1_and_each_half() -> None:
    """SKAB's protocol (as ``skab.evaluate``), pooled over all files and over each half."""
    cfg = dataclasses.replace(DetectionConfig(), warmup_readings=skab.TRAIN_ROWS)
    halves = [skab.Confusion(), skab.Confusion()]
    pooled = skab.Confusion()
    for i, path in enumerate(_skab_files()):
        f = skab.read_file(path)
        labels = open_labels(f.times_ns, f.rows, cfg)[skab.TRAIN_ROWS :]
        actual = f.anomaly[skab.TRAIN_ROWS :]
        halves[i // 8].add(labels, actual)
        pooled.add(labels, actual)
    result = pooled.metrics()
    assert result["f1"] > 0.78, result
    assert result["far"] < 0.2 and result["mar"] < 0.2, result
    # Neither half hinges on the other: both well above "flag everything" (F1 0.70, FAR 1).
    for half in halves:
        m = half.metrics()
        assert m["f1"] > 0.8 and m["far"] < 0.3 and m["mar"] < 0.25, m


@pytest.mark.skipif(
    not (SKAB_DIR / "anomaly-free" / "anomaly-free.csv").is_file(), reason="SKAB data absent"
)
def test_skab_normal_operation_stays_mostly_unflagged() -> None:
    path = SKAB_DIR / "anomaly-free" / "anomaly-free.csv"
    with path.open(newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader)
        body = list(reader)
    times = [nab.parse_time_ns(r[0], str(path)) for r in body]
    rows = [{c: float(v) for c, v in zip(header[1:], r[1:], strict=True)} for r in body]
    cfg = dataclasses.replace(DetectionConfig(), warmup_readings=skab.TRAIN_ROWS)
    labels = open_labels(times, rows, cfg)[skab.TRAIN_ROWS :]
    assert sum(labels) / len(labels) < 0.3


@pytest.mark.skipif(not (SKAB_DIR / "valve1").is_dir(), reason="SKAB data absent")
def test_generic_device_checkpoint_and_batch_give_the_same_flags() -> None:
    """Gains and the open-only CUSUM survive a restart; the batch path agrees."""
    f = skab.read_file(SKAB_DIR / "valve1" / "9.csv")
    readings = [
        Reading("v", "generic", "s", t, row) for t, row in zip(f.times_ns, f.rows, strict=True)
    ]
    cfg = DetectionConfig(warmup_readings=skab.TRAIN_ROWS)
    engine = DetectionEngine(config=cfg)
    reference = [fl for r in readings for fl in engine.process(r)]
    assert any(fl.state is FlagState.OPENED for fl in reference)
    cut = 700  # inside the anomaly, with a flag open
    first = DetectionEngine(config=cfg)
    flags = [fl for r in readings[:cut] for fl in first.process(r)]
    assert first.open_flags()
    second = DetectionEngine(config=cfg)
    second.load_state(json.loads(json.dumps(first.state_dict())))
    flags += [fl for r in readings[cut:] for fl in second.process(r)]
    assert flags == reference
    batch = DetectionEngine(config=cfg)
    assert [
        fl
        for i in range(0, len(readings), 256)
        for fl in batch.process_batch(readings[i : i + 256])
    ] == reference
