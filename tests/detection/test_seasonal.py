"""Daily-seasonal baseline: the profile, the test that switches it on, and the engine."""

from __future__ import annotations

import json
import math
import random

import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.engine import DetectionEngine
from prognos.detection.errors import ConfigError, StateError
from prognos.detection.flags import FlagKind, FlagState
from prognos.detection.seasonal import BINS, DAY_NS, HOUR_NS, DailyProfile, fit_daily
from prognos.ingest.contract import Reading

DAYS_FIT = dict(min_days=2.0, min_share=0.25, half_life_days=7.0)


def _cycle(hour: float) -> float:
    return 5.0 * math.sin(2.0 * math.pi * hour / 24.0)


def _hourly(days: int, seed: int = 1) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    ts = [h * HOUR_NS for h in range(24 * days)]
    return ts, [20.0 + _cycle(h) + rng.gauss(0.0, 0.3) for h in range(24 * days)]


def test_profile_interpolates_across_midnight() -> None:
    values = [0.0] * BINS
    values[23], values[0] = 2.0, 4.0
    p = DailyProfile(values, alpha=0.1)
    mean = 6.0 / BINS
    # Midnight is halfway between the centres of bin 23 (23:30) and bin 0 (00:30).
    assert p.value(5 * DAY_NS) == pytest.approx(3.0 - mean)
    assert p.value(HOUR_NS // 2) == pytest.approx(4.0 - mean)


def test_profile_learns_only_the_two_nearest_hours_and_stays_centred() -> None:
    p = DailyProfile([0.0] * BINS, alpha=0.5)
    p.learn_one(3 * HOUR_NS, 1.0)  # 03:00: a quarter of bin 3's centre, weight 0.5 each
    changed = [i for i, v in enumerate(p.values) if v != 0.0]
    assert changed == [2, 3]
    assert p.values[2] == pytest.approx(0.25) and p.values[3] == pytest.approx(0.25)
    # The shift common to all hours is not part of the cycle.
    assert sum(p.value(h * HOUR_NS + HOUR_NS // 2) for h in range(BINS)) == pytest.approx(0.0)


def test_profile_state_round_trips_and_rejects_bad_state() -> None:
    p = DailyProfile([float(h) for h in range(BINS)], alpha=0.2)
    p.learn_one(7 * HOUR_NS, 3.0)
    q = DailyProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert [q.value(h * 1_800_000_000_000) for h in range(48)] == [
        p.value(h * 1_800_000_000_000) for h in range(48)
    ]
    with pytest.raises(StateError, match="daily profile"):
        DailyProfile.from_dict({"values": [1.0, 2.0], "alpha": 0.1, "mean": 0.0})


def test_fit_finds_a_clear_daily_cycle() -> None:
    ts, values = _hourly(days=10)
    p = fit_daily(ts, values, **DAYS_FIT)
    assert p is not None
    for h in range(24):
        assert p.value(h * HOUR_NS) == pytest.approx(_cycle(h), abs=0.3)


def test_fit_takes_a_noiseless_cycle() -> None:
    ts = [h * HOUR_NS for h in range(24 * 5)]
    p = fit_daily(ts, [20.0 + _cycle(h) for h in range(24 * 5)], **DAYS_FIT)
    assert p is not None
    assert p.value(18 * HOUR_NS + HOUR_NS // 2) == pytest.approx(_cycle(18.5), abs=1e-6)


def test_fit_refuses_noise_short_warmups_and_slow_wander() -> None:
    rng = random.Random(2)
    ts, values = _hourly(days=10)
    noise = [20.0 + rng.gauss(0.0, 1.0) for _ in ts]
    assert fit_daily(ts, noise, **DAYS_FIT) is None
    # One and a half days cannot show that a cycle repeats.
    assert fit_daily(ts[:36], values[:36], **DAYS_FIT) is None
    # Nor can a reading every three hours show the shape of a day, however many days.
    ts, values = _hourly(days=40)
    assert fit_daily(ts[::3], values[::3], **DAYS_FIT) is None
    assert fit_daily(ts[::2], values[::2], **DAYS_FIT) is not None
    # A random walk (weather, load) wanders at every time scale: its apparent daily
    # share is chance, which the autocorrelation-corrected F test sees.
    walk, x = [], 0.0
    for _ in ts:
        x += rng.gauss(0.0, 1.0)
        walk.append(x)
    assert fit_daily(ts, walk, **DAYS_FIT) is None


def _run(
    config: DetectionConfig, hours: int, anomaly: range, seed: int = 3
) -> tuple[list[int], DetectionEngine]:
    """Hourly readings with a daily cycle; during ``anomaly`` the night stays warm."""
    rng = random.Random(seed)
    eng = DetectionEngine(config=config)
    opened = []
    for h in range(hours):
        value = 20.0 + _cycle(h) + rng.gauss(0.0, 0.3)
        if h in anomaly:
            value = 20.0 + rng.gauss(0.0, 0.3)  # the cycle's trough does not come
        reading = Reading("room-1", "generic", "site", h * HOUR_NS, {"temp_c": value})
        for flag in eng.process(reading):
            if flag.kind is FlagKind.EQUIPMENT and flag.state is FlagState.OPENED:
                opened.append(h)
    return opened, eng


# Warm-up of 15 days at one reading an hour, then 20 days scored.
_CFG = DetectionConfig(warmup_readings=360)
_NIGHT = range(24 * 28 + 15, 24 * 28 + 21)  # the trough of day 28 (hours 15-21)


def test_engine_sees_a_missing_trough_only_with_the_daily_cycle() -> None:
    opened, eng = _run(_CFG, 24 * 35, _NIGHT)
    assert eng._devices["room-1"].series["temp_c"].season is not None
    assert opened and _NIGHT.start <= opened[0] <= _NIGHT.stop
    assert all(_NIGHT.start <= h for h in opened)  # nothing on the healthy days
    flat, eng = _run(_CFG.with_overrides(daily_season=False), 24 * 35, _NIGHT)
    assert eng._devices["room-1"].series["temp_c"].season is None
    assert flat == []  # within the swing a flat baseline has to allow


def test_engine_checkpoint_keeps_the_cycle() -> None:
    _, eng = _run(_CFG, 24 * 20, range(0))
    state = json.loads(json.dumps(eng.state_dict()))
    restored = DetectionEngine(config=_CFG)
    restored.load_state(state)
    before = eng._devices["room-1"].series["temp_c"].season
    after = restored._devices["room-1"].series["temp_c"].season
    assert before is not None and after is not None
    assert after.to_dict() == before.to_dict()
    # Plain floats, not numpy scalars (ten times slower in the per-reading path).
    series = eng._devices["room-1"].series["temp_c"]
    assert all(type(v) is float for v in (*before.values, before.alpha, before.mean))
    assert type(series.base.level) is float and type(series.base.mad) is float


def test_a_short_warmup_never_gets_a_cycle() -> None:
    # Twelve hours at one reading a minute: the simulators' warm-up.
    eng = DetectionEngine(config=DetectionConfig(warmup_readings=720, settle_readings=0))
    for i in range(800):
        ts = i * 60_000_000_000
        value = 20.0 + _cycle(i / 60.0) + 0.1 * ((i * 7) % 5)
        eng.process(Reading("r", "generic", "s", ts, {"temp_c": value}))
    assert eng._devices["r"].series["temp_c"].season is None


def test_bad_season_knobs_are_refused() -> None:
    with pytest.raises(ConfigError, match="season_min_share"):
        DetectionConfig(season_min_share=1.5)
    with pytest.raises(ConfigError, match="season_min_days"):
        DetectionConfig(season_min_days=0.0)
