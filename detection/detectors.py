"""Univariate streaming detectors with one tiny protocol.

Every detector learns from one value at a time (``learn_one``), scores one
value (``score_one``) and keeps its state in plain attributes, so the engine
can checkpoint it as JSON and restore it after a restart. State is a few
floats per series, never a growing history.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from prognos.detection.errors import StateError

_NS_PER_H = 3_600_000_000_000.0


@functools.lru_cache(maxsize=256)
def alpha_for(half_life_readings: float) -> float:
    """EWMA weight of the newest reading for a half-life given in readings."""
    if half_life_readings <= 0:
        raise ValueError("half-life must be positive")
    return 1.0 - 0.5 ** (1.0 / half_life_readings)


#: Answers of ``alpha_for`` for plain lookup in per-reading loops; filled by ``alpha_cached``.
ALPHAS: dict[float, float] = {}


def alpha_cached(half_life_readings: float) -> float:
    """``alpha_for``, remembered in ``ALPHAS`` so hot loops can index it directly."""
    found = alpha_for(half_life_readings)
    if len(ALPHAS) < 256:
        ALPHAS[half_life_readings] = found
    return found


@runtime_checkable
class Detector(Protocol):
    """The protocol every univariate detector follows."""

    def learn_one(self, ts_ns: int, x: float) -> None: ...

    def score_one(self, ts_ns: int, x: float) -> float: ...

    def to_dict(self) -> dict[str, Any]: ...


class _Plain:
    """State as plain attributes: ``to_dict``/``from_dict`` round-trip through JSON."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._fields}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Self:
        obj = cls.__new__(cls)
        try:
            for f in cls._fields:
                setattr(obj, f, state[f])
        except (KeyError, TypeError) as exc:
            raise StateError(f"{cls.__name__} state lacks field {exc}") from exc
        return obj


class RobustZ(_Plain):
    """Robust z-score against an exponentially forgotten baseline.

    The baseline is a winsorised EWMA of the level and of the absolute
    deviation (a streaming stand-in for median and MAD), so single outliers
    barely move it. ``seed`` starts it from a warm-up sample's true median/MAD.

    >>> det = RobustZ(half_life_readings=50)
    >>> det.seed([1.0, 1.1, 0.9, 1.0, 1.05, 0.95])
    >>> det.score_one(0, 5.0) > 3
    True
    >>> abs(det.score_one(0, 1.0)) < 1
    True
    """

    _fields = ("alpha", "level", "mad", "floor", "n")
    __slots__ = _fields

    def __init__(self, half_life_readings: float = 1440.0, floor: float = 1e-9) -> None:
        self.alpha = alpha_for(half_life_readings)
        self.level = 0.0
        self.mad = 0.0
        self.floor = floor
        self.n = 0

    def seed(self, values: list[float]) -> None:
        """Start from the median and MAD of a (healthy) warm-up sample."""
        if not values:
            return
        ordered = sorted(values)
        self.level = _median(ordered)
        self.mad = _median(sorted(abs(v - self.level) for v in ordered))
        # Quantised or mostly-flat signals have a tiny MAD but real excursions; the
        # mean absolute deviation keeps their scale honest (it is below MAD for noise).
        mean_abs = sum(abs(v - self.level) for v in ordered) / len(ordered)
        # Values that sit on a few levels (quantised or sticky meters) have a MAD far
        # below their real spread: rounding to a quantum q alone has a MAD of q / 4, and
        # the central 90 % of the sample (3.29 sigma for noise) bounds it from below too.
        n = len(ordered)
        central = (ordered[(19 * (n - 1)) // 20] - ordered[(n - 1) // 20]) / (3.29 * 1.4826)
        self.mad = max(self.mad, 0.5 * mean_abs, 0.25 * quantum(ordered), central)
        self.floor = max(self.floor, 1e-3 * abs(self.level), 1e-6)
        self.n = len(values)

    @property
    def scale(self) -> float:
        """Robust standard deviation (1.4826 x MAD, floored)."""
        return max(1.4826 * max(self.mad, self.floor), 1e-12)

    def score_one(self, ts_ns: int, x: float) -> float:
        # ``scale`` inlined (conditionals are the builtin max): this runs for every
        # reading of every series.
        mad, floor = self.mad, self.floor
        s = 1.4826 * (floor if floor > mad else mad)
        return (x - self.level) / (1e-12 if s < 1e-12 else s)

    def learn_one(self, ts_ns: int, x: float, rate: float = 1.0) -> None:
        if self.n == 0:
            self.level, self.n = x, 1
            return
        a = self.alpha * rate
        mad = self.mad
        floor = self.floor
        s = 1.4826 * (floor if floor > mad else mad)
        s3 = 3.0 * (1e-12 if s < 1e-12 else s)
        level = self.level
        lo, hi = level - s3, level + s3
        clipped = lo if lo > x else x  # min(max(x, lo), hi), NaN-faithful
        clipped = hi if hi < clipped else clipped
        level += a * (clipped - level)
        dev = abs(clipped - level)
        self.level = level
        self.mad = mad + a * ((s3 if s3 < dev else dev) - mad)
        self.n += 1


class Cusum(_Plain):
    """Two-sided CUSUM on a standardised input: catches small sustained shifts.

    ``k`` is the slack (shift per reading, in sigmas, below which nothing
    accumulates); the statistic is capped at ``cap`` so it recovers quickly
    after a shift ends.

    >>> c = Cusum(k=0.5, cap=100.0)
    >>> for _ in range(20):
    ...     _ = c.score_one(0, 1.5)
    >>> round(c.pos, 1)
    20.0
    """

    _fields = ("k", "cap", "pos", "neg")
    __slots__ = _fields

    def __init__(self, k: float = 0.5, cap: float = 200.0) -> None:
        self.k = k
        self.cap = cap
        self.pos = 0.0
        self.neg = 0.0

    def score_one(self, ts_ns: int, x: float) -> float:
        """Update with a z-value and return the signed statistic (larger side)."""
        # min(max(0.0, v), cap), written out: this runs for every reading of every series.
        k, cap = self.k, self.cap
        pos = self.pos + x - k
        pos = pos if pos > 0.0 else 0.0
        pos = cap if cap < pos else pos
        neg = self.neg - x - k
        neg = neg if neg > 0.0 else 0.0
        neg = cap if cap < neg else neg
        self.pos, self.neg = pos, neg
        return pos if pos >= neg else -neg

    def learn_one(self, ts_ns: int, x: float) -> None:
        """CUSUM has nothing to learn; its baseline is the standardiser's."""

    def reset(self) -> None:
        self.pos = self.neg = 0.0


class TrendFit(_Plain):
    """Exponentially weighted linear trend with time-to-threshold.

    Fits value = a + b (t - t_ref) by weighted least squares with forgetting,
    keeping only five running sums. ``time_to`` projects when the level
    reaches a limit and gives a band from the slope's standard error.

    >>> tr = TrendFit(half_life_readings=100)
    >>> h = 3_600_000_000_000
    >>> for i in range(50):
    ...     tr.learn_one(i * h, 10.0 + 0.5 * i)
    >>> round(tr.slope_per_h(), 3)
    0.5
    >>> eta, lo, hi = tr.time_to(49 * h, 44.5)
    >>> round(eta / 3600, 1)
    20.0
    """

    _fields = ("alpha", "t_ref", "sw", "st", "sx", "stt", "stx", "sxx", "n", "last_t")
    __slots__ = _fields

    def __init__(self, half_life_readings: float = 180.0) -> None:
        self.alpha = alpha_for(half_life_readings)
        self.t_ref: int | None = None
        self.sw = self.st = self.sx = self.stt = self.stx = self.sxx = 0.0
        self.n = 0
        self.last_t = 0

    def learn_one(self, ts_ns: int, x: float) -> None:
        if self.t_ref is None:
            self.t_ref = ts_ns
        t = (ts_ns - self.t_ref) / _NS_PER_H
        d = 1.0 - self.alpha
        self.sw, self.st, self.sx = self.sw * d + 1.0, self.st * d + t, self.sx * d + x
        self.stt, self.stx = self.stt * d + t * t, self.stx * d + t * x
        self.sxx = self.sxx * d + x * x
        self.n += 1
        self.last_t = ts_ns

    def score_one(self, ts_ns: int, x: float) -> float:
        """The slope per hour (the trend detector's score)."""
        return self.slope_per_h()

    def _fit(self) -> tuple[float, float, float] | None:
        if self.n < 10 or self.sw <= 0:
            return None
        mt, mx = self.st / self.sw, self.sx / self.sw
        vtt = self.stt / self.sw - mt * mt
        if vtt <= 1e-12:
            return None
        b = (self.stx / self.sw - mt * mx) / vtt
        a = mx - b * mt
        vxx = max(self.sxx / self.sw - mx * mx, 0.0)
        resid_var = max(vxx - b * b * vtt, 0.0)
        n_eff = self.sw * self.sw / max(self.sw, 1e-12)
        n_eff = min(n_eff, float(self.n))
        se_b = math.sqrt(resid_var / (vtt * max(n_eff - 2.0, 1.0)))
        return a, b, se_b

    def slope_per_h(self) -> float:
        fit = self._fit()
        return 0.0 if fit is None else fit[1]

    def time_to(self, ts_ns: int, limit: float) -> tuple[float, float, float] | None:
        """Seconds until the trend reaches ``limit``: (estimate, early, late), or None.

        None when there is no significant trend towards the limit. The band
        uses the slope +/- 2 standard errors; ``late`` is ``inf`` when the
        slower slope never gets there.
        """
        fit = self._fit()
        if fit is None or self.t_ref is None:
            return None
        a, b, se_b = fit
        t = (ts_ns - self.t_ref) / _NS_PER_H
        level = a + b * t
        gap = limit - level
        if gap == 0.0:
            return 0.0, 0.0, 0.0
        if b == 0.0 or (gap > 0) != (b > 0) or abs(b) < 2.0 * se_b:
            return None
        eta = gap / b * 3600.0
        fast = abs(b) + 2.0 * se_b
        slow = abs(b) - 2.0 * se_b
        early = abs(gap) / fast * 3600.0
        late = abs(gap) / slow * 3600.0 if slow > 0 else math.inf
        return max(eta, 0.0), max(early, 0.0), late


def quantum(ordered: list[float]) -> float:
    """The resolution of a quantised signal: the smallest gap between distinct values.

    A flow meter that reports whole litres per minute sits on one value for
    long stretches; its MAD is then zero and a one-step change would read as
    dozens of sigmas. Zero when the values are continuous (a tiny gap) or few.

    >>> quantum([31.0, 32.0, 32.0, 32.0, 33.0])
    1.0
    >>> quantum([0.101, 0.2, 0.35]) < 0.2
    True
    """
    if len(ordered) < 2:
        return 0.0
    span = ordered[-1] - ordered[0]
    tiny = 1e-9 * max(abs(ordered[0]), abs(ordered[-1]), 1.0)
    gaps = [b - a for a, b in itertools.pairwise(ordered) if b - a > tiny]
    # Continuous data: the smallest gap is a small fraction of the range.
    smallest = min(gaps, default=0.0)
    return smallest if len(gaps) < 0.5 * len(ordered) and smallest > 1e-3 * span else 0.0


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


#: The registry that names every univariate detector (used in flags and configs).
DETECTORS: dict[str, type[_Plain]] = {
    "robust_z": RobustZ,
    "cusum": Cusum,
    "trend": TrendFit,
}
