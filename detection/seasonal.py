"""Daily cycles: a time-of-day profile subtracted before a series is judged.

Outdoor temperatures, building loads and office-hours traffic swing every
day; judged against a flat baseline, that swing widens the healthy scale
until a real excursion no longer stands out. A ``DailyProfile`` is learned
from the warm-up only when the warm-up spans enough days and the daily
component is a real, statistically clear share of its variation; otherwise
the series has none and nothing changes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from prognos.detection.detectors import _Plain, alpha_for
from prognos.detection.errors import StateError

logger = logging.getLogger(__name__)

DAY_NS = 86_400_000_000_000
HOUR_NS = 3_600_000_000_000
#: Hourly values of the profile (linearly interpolated between bin centres).
BINS = 24
#: Harmonics of the day fitted in warm-up (smooth enough for any daily cycle).
HARMONICS = 3
#: Autocorrelation-corrected F statistic the daily component must reach: about the
#: 1 % point of F(6, n) for every n >= 20, so chance wiggles of a short or strongly
#: autocorrelated warm-up do not pass.
F_MIN = 4.0
#: Fewest effective (independent) warm-up readings for the test to mean anything.
N_EFF_MIN = 30.0
#: Fewest warm-up readings per day for a daily shape to be seen.
MIN_PER_DAY = 12.0


class DailyProfile(_Plain):
    """A daily cycle as 24 hourly values, learned slowly from calm readings.

    ``value`` interpolates linearly between the bin centres (hh:30 UTC);
    ``learn_one`` moves the two nearest bins towards a residual in
    proportion to their weights, so each bin forgets with a half-life of
    ``half_life_days`` days whatever the sampling interval.

    >>> p = DailyProfile([float(h) - 11.5 for h in range(24)], alpha=0.5)
    >>> p.value(10 * HOUR_NS + HOUR_NS // 2)  # 10:30, the centre of bin 10
    -1.5
    >>> p.value(11 * HOUR_NS)  # halfway between bins 10 and 11
    -1.0
    >>> p.learn_one(10 * HOUR_NS + HOUR_NS // 2, 0.5)  # 2 above: bin 10 moves half-way
    >>> p.values[10], round(p.mean, 4)
    (-0.5, 0.0417)
    """

    _fields = ("values", "alpha", "mean")
    #: Where the last timestamp fell (not state): scoring and learning the same
    #: reading locate it once.
    __slots__ = (*_fields, "_at", "_lo", "_hi", "_frac")

    def __init__(self, values: Sequence[float], alpha: float, mean: float | None = None) -> None:
        if len(values) != BINS:
            raise ValueError(f"a daily profile has {BINS} hourly values, got {len(values)}")
        self.values = [float(v) for v in values]
        self.alpha = alpha
        #: Mean of ``values``, kept up to date in O(1): the profile is read relative to
        #: it, so a shift common to every hour goes to the level, not the cycle.
        self.mean = sum(self.values) / BINS if mean is None else float(mean)
        self._at, self._lo, self._hi, self._frac = -1, 0, 0, 0.0

    def _locate(self, ts_ns: int) -> None:
        # Shifted by a day so the position is never negative (``int`` is then floor).
        pos = (ts_ns % DAY_NS) / HOUR_NS + (BINS - 0.5)
        i = int(pos)
        self._at, self._frac = ts_ns, pos - i
        self._lo, self._hi = i % BINS, (i + 1) % BINS

    def value(self, ts_ns: int) -> float:
        if ts_ns != self._at:
            self._locate(ts_ns)
        frac, v = self._frac, self.values
        return v[self._lo] * (1.0 - frac) + v[self._hi] * frac - self.mean

    def score_one(self, ts_ns: int, x: float) -> float:
        """The residual of ``x`` after the daily cycle."""
        return x - self.value(ts_ns)

    def learn_one(self, ts_ns: int, x: float) -> None:
        """Move the profile towards ``x`` (a value with the slow level removed)."""
        err = x - self.value(ts_ns)
        a, frac, v = self.alpha, self._frac, self.values
        v[self._lo] += a * (1.0 - frac) * err
        v[self._hi] += a * frac * err
        self.mean += a * err / BINS

    def to_dict(self) -> dict[str, Any]:
        # A copy: a checkpoint must not change as the profile goes on learning.
        return {"values": list(self.values), "alpha": self.alpha, "mean": self.mean}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> DailyProfile:
        try:
            return cls(
                [float(v) for v in state["values"]], float(state["alpha"]), float(state["mean"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"daily profile state is malformed: {exc}") from exc


def fit_daily(
    ts_ns: Sequence[float],
    values: Sequence[float],
    min_days: float,
    min_share: float,
    half_life_days: float,
) -> DailyProfile | None:
    """A daily profile of a warm-up series, or None when it has no clear daily cycle.

    The series is modelled as a slow level (piecewise linear, a knot a day,
    which a daily cycle cannot leak into: it has the same phase at every
    knot) plus ``HARMONICS`` harmonics of the time of day. The cycle is kept
    when the warm-up spans ``min_days`` days, the harmonics explain at least
    ``min_share`` of the variance the level leaves, and an F test of that
    share, with the sample size shrunk for autocorrelation
    (``n (1 - rho) / (1 + rho)``), is clear (``F_MIN``).

    >>> hours = [h * HOUR_NS for h in range(24 * 4)]
    >>> temps = [20.0 + 5.0 * math.sin(2 * math.pi * h / 24) + 0.3 * ((h * 7) % 5 - 2)
    ...          for h in range(24 * 4)]
    >>> p = fit_daily(hours, temps, min_days=2.0, min_share=0.25, half_life_days=7.0)
    >>> round(p.value(6 * HOUR_NS))  # the peak of the sine, at 06:00
    5
    >>> fit_daily(hours, [20.0 + 0.3 * ((h * 7) % 5 - 2) for h in range(24 * 4)],
    ...           min_days=2.0, min_share=0.25, half_life_days=7.0) is None
    True
    """
    n = len(values)
    if n < 4 * BINS or len(ts_ns) != n:
        return None
    t = np.asarray(ts_ns, dtype=float)
    x = np.asarray(values, dtype=float)
    span_days = float(t[-1] - t[0]) / DAY_NS
    # Fewer than one reading every two hours cannot show the shape of a day (and
    # keeps the level's one-knot-a-day design small against the sample).
    if not span_days >= min_days or n / span_days < MIN_PER_DAY:
        return None
    u = (t - t[0]) / DAY_NS
    knots = np.arange(math.ceil(span_days) + 1)
    level = np.clip(1.0 - np.abs(u[:, None] - knots[None, :]), 0.0, None)
    phase = 2.0 * np.pi * np.mod(t, DAY_NS) / DAY_NS
    cycle = np.column_stack(
        [f(k * phase) for k in range(1, HARMONICS + 1) for f in (np.cos, np.sin)]
    )
    full = np.hstack([level, cycle])
    resid_level = x - level @ np.linalg.lstsq(level, x, rcond=None)[0]
    coefs = np.linalg.lstsq(full, x, rcond=None)[0]
    resid = x - full @ coefs
    var_level = float(resid_level.var())
    if var_level <= 0.0:
        return None
    share = 1.0 - float(resid.var()) / var_level
    d = resid - resid.mean()
    denom = float(d @ d)
    rho = float(d[:-1] @ d[1:]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.999)
    n_eff = n * (1.0 - rho) / (1.0 + rho)
    p = cycle.shape[1]
    dof = n_eff - p - level.shape[1]
    if dof <= 0:
        f_stat = 0.0
    elif share >= 1.0:  # nothing but the cycle (and a level): as clear as it gets
        f_stat = math.inf
    else:
        f_stat = (share / p) / ((1.0 - share) / dof)
    logger.debug(
        "daily cycle test days=%.1f share=%.3f rho=%.3f n_eff=%.0f F=%.2f",
        span_days,
        share,
        rho,
        n_eff,
        f_stat,
    )
    if share < min_share or n_eff < N_EFF_MIN or f_stat < F_MIN:
        return None
    centres = 2.0 * np.pi * (np.arange(BINS) + 0.5) / BINS
    grid = np.column_stack(
        [f(k * centres) for k in range(1, HARMONICS + 1) for f in (np.cos, np.sin)]
    )
    profile = grid @ coefs[level.shape[1] :]
    per_day = n / span_days
    # Each reading moves about one bin's worth of weight: a bin gets per_day / BINS a day.
    alpha = alpha_for(max(half_life_days * per_day / BINS, 1.0))
    return DailyProfile([float(v) for v in profile], float(alpha))
