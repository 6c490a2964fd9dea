"""Operating regime building blocks: ambient climate, shift calendars, load segments, thermal lag.

Every asset model is assembled from these. They are vectorised over a chunk of
sample times so a 60-day fleet runs in minutes, and deterministic given the
seed so the same run gives byte-identical output.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from prognos.simulators.kinds import Shape

DAY_S = 86400.0


def stable_key(text: str) -> int:
    """A process-independent integer for seeding (Python's ``hash`` is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def hour_of_day(t_s: np.ndarray) -> np.ndarray:
    """Hour of the day (0-24, fractional) of epoch seconds, site clocks taken as UTC."""
    return (t_s % DAY_S) / 3600.0


def is_weekday(t_s: np.ndarray) -> np.ndarray:
    """True Monday to Friday (1970-01-01 was a Thursday)."""
    return ((np.floor(t_s / DAY_S).astype(np.int64) + 3) % 7) < 5


def in_shifts(t_s: np.ndarray, first_h: float = 6.0, last_h: float = 22.0) -> np.ndarray:
    """True during a two-shift working day (06:00-22:00 Monday to Friday by default)."""
    h = hour_of_day(t_s)
    return is_weekday(t_s) & (h >= first_h) & (h < last_h)


class Ambient:
    """Indoor plant temperature: site base, daily swing peaking mid-afternoon, slow drift.

    A pure function of time (no state), so every device of a site sees the same ambient.

    >>> amb = Ambient(site_key=1, seed=0)
    >>> bool(5.0 < amb(np.array([0.0, 43200.0])).mean() < 35.0)
    True
    """

    def __init__(self, site_key: int, seed: int) -> None:
        rng = np.random.default_rng([seed, site_key, 0xA3B])
        self.base_c = float(rng.uniform(14.0, 24.0))
        self.periods_s = rng.uniform([1.7, 4.0, 9.0], [3.0, 7.0, 16.0]) * DAY_S
        self.amplitudes_c = rng.uniform([0.6, 0.8, 1.0], [1.2, 1.6, 2.2])
        self.phases = rng.uniform(0.0, 2 * math.pi, 3)

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        out = self.base_c + 3.5 * np.sin(2 * math.pi * (hour_of_day(t_s) - 9.0) / 24.0)
        for amp, period, phase in zip(self.amplitudes_c, self.periods_s, self.phases, strict=True):
            out += amp * np.sin(2 * math.pi * t_s / period + phase)
        return out


def demand_profile(t_s: np.ndarray) -> np.ndarray:
    """Water/utility demand over the day (0-1): low at night, morning and evening peaks."""
    h = hour_of_day(t_s)
    morning = np.exp(-0.5 * ((h - 7.5) / 1.6) ** 2)
    evening = 0.8 * np.exp(-0.5 * ((h - 19.0) / 2.0) ** 2)
    return np.clip(0.25 + 0.55 * morning + 0.45 * evening + 0.15 * (h > 9) * (h < 17), 0.0, 1.0)


def lag(x: np.ndarray, y0: float, step_s: float, tau_s: float) -> np.ndarray:
    """First-order lag (thermal mass): ``y[n] = a y[n-1] + (1-a) x[n]``, vectorised in blocks.

    Uses the closed form with powers of ``a``; blocks are short enough that the
    powers stay far from overflow.
    """
    if tau_s <= 0 or x.size == 0:
        return x.astype(float, copy=True)
    a = math.exp(-step_s / tau_s)
    out = np.empty_like(x, dtype=float)
    block = max(1, int(300.0 * tau_s / step_s))
    prev = y0
    for begin in range(0, x.size, block):
        seg = x[begin : begin + block]
        k = np.arange(seg.size, dtype=float)
        inv = a ** (-k)
        acc = np.cumsum((1.0 - a) * seg * inv)
        y = a ** (k + 1) * prev + a**k * acc
        out[begin : begin + seg.size] = y
        prev = float(y[-1])
    return out


def severity(t_s: np.ndarray, onset_s: float, failure_s: float, shape: Shape) -> np.ndarray:
    """Fault severity from 0 at onset to 1 at failure (held at 1 afterwards).

    Linear grows evenly; exponential starts slowly and accelerates (as wear
    feeds on itself); step jumps to 0.6 at onset and stays there.
    """
    u = np.clip((t_s - onset_s) / max(failure_s - onset_s, 1e-9), 0.0, 1.0)
    if shape is Shape.LINEAR:
        s = u
    elif shape is Shape.EXPONENTIAL:
        s = np.expm1(4.0 * u) / math.expm1(4.0)
    else:
        s = np.where(u >= 1.0, 1.0, 0.6)
    return np.where(t_s < onset_s, 0.0, s)
