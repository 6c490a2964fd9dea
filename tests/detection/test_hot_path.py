"""The hot path's written-out arithmetic equals the plain formulas it replaces, bit for bit.

The per-reading code avoids calls (``max``/``min``, ``scale``, ``badness``) for
speed; these tests replay random streams, outliers and NaN through both forms
and demand identical floats, so a later edit cannot silently change flags.
"""

from __future__ import annotations

import math
import random

import pytest

from prognos.detection.config import DetectionConfig
from prognos.detection.detectors import Cusum, RobustZ
from prognos.detection.device import DeviceState
from prognos.detection.profiles import AssetProfile, MetricSpec, profile_for
from prognos.detection.series import MetricSeries


def _stream(seed: int, n: int = 3000) -> list[float]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = rng.gauss(5.0, 0.3)
        if i % 97 == 0:
            x += rng.choice([-40.0, 40.0])  # outliers that hit the winsorising clip
        if i % 501 == 0:
            x = float("nan")
        out.append(x)
    return out


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


class _PlainRobustZ:
    """RobustZ's update written with the builtins, as the reference."""

    def __init__(self, alpha: float, floor: float) -> None:
        self.alpha, self.floor, self.level, self.mad, self.n = alpha, floor, 0.0, 0.0, 0

    def scale(self) -> float:
        return max(1.4826 * max(self.mad, self.floor), 1e-12)

    def learn_one(self, x: float, rate: float) -> None:
        if self.n == 0:
            self.level, self.n = x, 1
            return
        a = self.alpha * rate
        s = self.scale()
        clipped = min(max(x, self.level - 3.0 * s), self.level + 3.0 * s)
        self.level += a * (clipped - self.level)
        self.mad += a * (min(abs(clipped - self.level), 3.0 * s) - self.mad)
        self.n += 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_robust_z_matches_the_builtin_formulas(seed: int) -> None:
    fast = RobustZ(half_life_readings=50.0, floor=1e-3)
    plain = _PlainRobustZ(fast.alpha, fast.floor)
    rates = [1.0, 0.1, 0.5]
    for i, x in enumerate(_stream(seed)):
        if math.isnan(fast.level):
            break  # a NaN level would make every later comparison trivially NaN
        assert _same(fast.score_one(0, x), (x - plain.level) / plain.scale())
        rate = rates[i % 3]
        if not math.isnan(x):
            fast.learn_one(0, x, rate)
            plain.learn_one(x, rate)
        assert (fast.level, fast.mad, fast.n) == (plain.level, plain.mad, plain.n)
    assert fast.n > 2000


def test_cusum_matches_the_builtin_formulas() -> None:
    fast = Cusum(k=0.5, cap=8.0)
    pos = neg = 0.0
    for x in [*_stream(3, 2000), math.inf, -math.inf, 0.0, -0.0]:
        got = fast.score_one(0, x)
        pos = min(max(0.0, pos + x - 0.5), 8.0)
        neg = min(max(0.0, neg - x - 0.5), 8.0)
        want = pos if pos >= neg else -neg
        assert _same(got, want)
        assert _same(fast.pos, pos) and _same(fast.neg, neg)


def test_series_plan_follows_the_profile_and_new_metrics() -> None:
    profile = profile_for("pump")
    cfg = DetectionConfig()
    dev = DeviceState("p1", "pump", "s1")
    for name in ("vibration_rms_mm_s", "suction_pressure_bar", "speed_rpm"):
        dev.series[name] = MetricSeries(profile.spec(name), cfg)
    plan = dev.plan(profile)
    assert dev.plan(profile) is plan  # cached while nothing changed
    for entry in plan:
        spec = profile.spec(entry.name)
        assert entry.spec == spec
        assert (entry.judged, entry.scored, entry.can_drift) == (
            profile.judged(entry.name),
            profile.scored(entry.name),
            profile.can_drift(entry.name),
        )
        assert entry.limited == (spec.limit_level(1e12) > 0 or spec.limit_level(-1e12) > 0)
        for z in (-3.5, -0.0, 0.0, 2.25, math.inf):
            fast = z * entry.sign if entry.sign else abs(z)
            assert fast == spec.badness(z)
    dev.series["new_metric"] = MetricSeries(profile.spec("new_metric"), cfg)
    assert [e.name for e in dev.plan(profile)][-1] == "new_metric"
    other = AssetProfile("custom", {"new_metric": MetricSpec("new_metric", "", "down")})
    entry = dev.plan(other)[-1]
    assert entry.sign == -1.0 and entry.spec.direction == "down"
