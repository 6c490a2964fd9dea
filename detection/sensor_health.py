"""Instrument health: is this sensor still telling the truth?

A flat-lined, missing, spiking, noisy or impossible value is a fault of the
instrument, not of the machine. Catching it here keeps those readings out of
the equipment detectors and turns them into sensor flags instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from prognos.detection.detectors import ALPHAS, _Plain, alpha_cached, alpha_for

#: Weight of the short (five-reading) average of wild steps.
_ALPHA_SHORT = alpha_for(5.0)


@dataclass(frozen=True, slots=True)
class SensorHealthConfig:
    """Knobs of the instrument-health checks (counts are in readings)."""

    stuck_readings: int = 30
    dropout_readings: int = 5
    spike_k: float = 8.0
    spikes_to_flag: float = 3.0
    spike_half_life: float = 120.0
    noise_ratio: float = 4.0
    noise_readings: int = 10
    clear_readings: int = 30
    diff_half_life: float = 500.0
    #: Impossible values in a row before the instrument counts as out of range; fewer,
    #: back in range, are spikes (a glitch can read below zero for one sample).
    out_of_range_readings: int = 10


class SensorHealth(_Plain):
    """Per-metric checks for stuck, dropout, out-of-range, spikes and noise bursts.

    ``check`` returns ``(fault, usable)``: the current fault kind (or ``None``)
    and whether this value may feed the equipment detectors.

    >>> cfg = SensorHealthConfig(stuck_readings=5)
    >>> sh = SensorHealth(0.0, 10.0)
    >>> for i in range(10):
    ...     _ = sh.check(5.0 + 0.1 * (i % 3), cfg)
    >>> [sh.check(5.0, cfg)[0] for _ in range(6)][-1]
    'stuck'
    """

    _fields = (
        "valid_min",
        "valid_max",
        "last",
        "prev",
        "diff_scale",
        "diff_short",
        "same",
        "missing",
        "spike_level",
        "noisy",
        "fault",
        "ok",
        "n",
        "nd",
        "outside",
    )
    __slots__ = _fields

    def __init__(self, valid_min: float, valid_max: float) -> None:
        self.valid_min = valid_min if math.isfinite(valid_min) else None
        self.valid_max = valid_max if math.isfinite(valid_max) else None
        self.last: float | None = None
        self.prev: float | None = None
        self.diff_scale = 0.0
        self.diff_short = 0.0
        self.same = 0
        self.missing = 0
        self.spike_level = 0.0
        self.noisy = 0
        self.fault: str | None = None
        self.ok = 0
        self.n = 0
        self.nd = 0  # steps the usual step size was learned from (machine running)
        self.outside = 0  # impossible values in a row

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SensorHealth:
        """Restore a checkpoint (one from before ``outside`` was kept reads it as 0)."""
        return super().from_dict({"outside": 0, **state})

    def check(
        self, x: float | None, cfg: SensorHealthConfig, running: bool = True
    ) -> tuple[str | None, bool]:
        """Judge one value; ``running=False`` (machine stopped) pauses the step statistics."""
        if x is None or not math.isfinite(x):
            if self.n > 0:
                self.missing += 1
            if self.missing >= cfg.dropout_readings:
                return self._verdict("dropout", False, cfg)
            return self._verdict(None, False, cfg)
        self.missing = 0
        if self.spike_level:  # decaying zero leaves zero
            self.spike_level *= 1.0 - alpha_for(cfg.spike_half_life)
        lo, hi = self.valid_min, self.valid_max
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            self.outside += 1
            if self.outside >= cfg.out_of_range_readings:
                return self._verdict("out_of_range", False, cfg)
            return self._verdict(None, False, cfg)  # never usable; a spike if it returns
        if self.outside:
            # Back in range after a few impossible values: an isolated glitch (a spike)
            # unless the signal is in a noise burst, where such values are just the noise.
            if self.outside < cfg.out_of_range_readings and self.diff_short < 0.2:
                self.spike_level += 1.0
            self.outside = 0
        condition: str | None = None
        usable = True
        last, prev = self.last, self.prev
        if last is not None and not running:
            # A stopped machine's readings say nothing about the running noise level, but
            # a value frozen since before the stop is still frozen (and a sensor that reads
            # a stopped machine's steady zero is not: the count waits for the restart).
            if x != last:
                self.same = 0
            elif self.fault == "stuck":
                condition, usable = "stuck", False
            # A stopped machine reads steady values: swings many times the running step,
            # back and forth, are the instrument's own noise (the step size is not learned).
            step = x - last
            usual = self.diff_scale if self.diff_scale > 1e-9 else 1e-9
            wild = 0.0
            if (
                prev is not None
                and step * (last - prev) < 0
                and abs(step) > cfg.noise_ratio * usual
                and x != 0.0
                and last != 0.0
            ):
                wild = 1.0
            self.diff_short += _ALPHA_SHORT * (wild - self.diff_short)
            self.noisy = self.noisy + 1 if self.nd > 20 and self.diff_short > 0.3 else 0
            if self.noisy >= cfg.noise_readings and condition is None:
                condition, usable = "noise_burst", False
        elif last is not None:
            step = x - last
            abs_step = abs(step)
            diff_scale = self.diff_scale
            nd = self.nd
            # Conditional expressions below are exactly the builtin max/min, minus a call.
            abs_x = abs(x)
            tiny = 1e-9 * (abs_x if abs_x > 1.0 else 1.0)
            same = self.same = self.same + 1 if abs_step <= tiny else 0
            if same >= cfg.stuck_readings and diff_scale > tiny:
                condition, usable = "stuck", False
            elif same >= cfg.stuck_readings:
                usable = False
            big = cfg.spike_k * diff_scale
            if nd > 20 and big > 0 and abs_step > big:
                usable = False  # a jump: wait one reading to see if it returns
                if prev is not None:
                    before = last - prev
                    if (
                        self.diff_short < 0.2  # isolated, not inside a noise burst
                        and abs(before) > big
                        and before * step < 0
                        and abs(x - prev) < 0.3 * abs(before)
                    ):
                        self.spike_level += 1.0
            # Share of recent steps far above the usual step: one load step or trip is a
            # single big step, a noise burst is many in a row.
            # A burst is many big steps that keep changing sign; a ramp (start-up, load
            # change) is big steps in one direction.
            flips = prev is not None and step * (last - prev) < 0
            usual = tiny if tiny > diff_scale else diff_scale
            wild = 1.0 if flips and abs_step > cfg.noise_ratio * usual else 0.0
            if x == 0.0 or last == 0.0:
                wild = 0.0
            diff_short = self.diff_short = self.diff_short + _ALPHA_SHORT * (wild - self.diff_short)
            noisy = self.noisy = self.noisy + 1 if nd > 20 and diff_short > 0.3 else 0
            if noisy >= cfg.noise_readings and condition is None:
                condition, usable = "noise_burst", False
            if self.spike_level >= cfg.spikes_to_flag and condition is None:
                condition = "spikes"
            # Exact repeats say nothing about the step size: a meter that sits on one
            # value and moves a whole quantum at a time would otherwise see every move
            # as a jump many times its usual step.
            if condition is None and usable and x != 0.0 and last != 0.0 and abs_step > tiny:
                if nd < 50:
                    a = 1.0 / (nd + 1)
                else:
                    h = cfg.diff_half_life
                    a = ALPHAS[h] if h in ALPHAS else alpha_cached(h)
                cap = 5.0 * diff_scale if nd > 20 else abs_step
                capped = cap if cap < abs_step else abs_step
                self.diff_scale = diff_scale + a * (capped - diff_scale)
                self.nd = nd + 1
        self.prev, self.last = last, x
        self.n += 1
        if condition is None and self.fault is None:
            return None, usable  # the usual case: healthy, and no fault to wind down
        return self._verdict(condition, usable, cfg)

    def _verdict(
        self, condition: str | None, usable: bool, cfg: SensorHealthConfig
    ) -> tuple[str | None, bool]:
        """Hold a fault until ``clear_readings`` clean readings in a row have passed."""
        if condition is not None:
            self.fault, self.ok = condition, 0
        elif self.fault is not None:
            self.ok += 1
            if self.ok >= cfg.clear_readings:
                self.fault, self.ok = None, 0
        return self.fault, usable and self.fault is None
