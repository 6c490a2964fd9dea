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
    #: A stopped machine's reading is watched for a frozen value once this many stopped
    #: steps have shown how often it repeats, if it repeated in at most ``stopped_repeat_share``
    #: of them (temperatures cooling, the noise floor of a vibration sensor) and not
    #: when it sits still (a stopped machine's exact zero speed or flow).
    stopped_learn_readings: int = 60
    stopped_repeat_share: float = 0.5
    #: A stopped machine's reading this many times its usual spread at rest (at least a
    #: quarter of the running step) away from its usual resting level, for
    #: ``rest_drift_readings`` stopped readings in a row, is an instrument drifting: a
    #: fault of the machine shows while it runs, not while it stands still. The verdict
    #: holds while the machine runs, until a stop finds the reading back at rest.
    rest_drift_k: float = 8.0
    rest_drift_readings: int = 30


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
        "still",
        "n_stopped",
        "rest_level",
        "rest_spread",
        "rest_off",
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
        self.still = 1.0  # share of a stopped machine's steps that repeat the value exactly
        self.n_stopped = 0  # stopped steps ``still`` was learned from
        self.rest_level = 0.0  # usual reading of the stopped machine
        self.rest_spread = 0.0  # its mean absolute deviation
        self.rest_off = 0  # stopped readings in a row far from the resting level

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SensorHealth:
        """Restore a checkpoint (fields added since default to a fresh sensor's values)."""
        fresh = {"outside": 0, "still": 1.0, "n_stopped": 0}
        fresh |= {"rest_level": 0.0, "rest_spread": 0.0, "rest_off": 0}
        return super().from_dict({**fresh, **state})

    def check(
        self, x: float | None, cfg: SensorHealthConfig, running: bool = True, settles: bool = True
    ) -> tuple[str | None, bool]:
        """Judge one value; ``running=False`` (machine stopped) pauses the step statistics.

        ``settles=False`` says a stopped machine's reading still carries its
        running history (a temperature cooling down), so it has no resting level.
        """
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
            # Where the stopped reading keeps moving (a temperature cooling, a vibration
            # sensor's noise floor), a run of exact repeats is frozen while stopped too.
            # An exact zero is what a stopped machine's flow, speed or current reads.
            repeat = x == last
            watched = (
                x != 0.0
                and self.n_stopped >= cfg.stopped_learn_readings
                and self.still <= cfg.stopped_repeat_share
            )
            if not repeat:
                self.same = 0
            elif watched:
                self.same += 1
            if repeat and (self.fault == "stuck" or (watched and self.same >= cfg.stuck_readings)):
                condition, usable = "stuck", False
            elif settles and self._away_from_rest(x, cfg):
                if self.rest_off >= cfg.rest_drift_readings:
                    condition, usable = "drift", False
            elif self.fault is None and self.same < cfg.stuck_readings // 2:
                # Learned from healthy stops only (a frozen run does not teach stillness).
                self.n_stopped += 1
                k = 1.0 / self.n_stopped if self.n_stopped < 100 else 0.01
                self.still += k * ((1.0 if repeat else 0.0) - self.still)
                if settles:
                    self._learn_rest(x, k)
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
            if self.fault == "drift":
                condition, usable = "drift", False  # only a stop can show it is gone
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

    def _rest_spread(self, x: float) -> float:
        tiny = 1e-9 * (abs(x) if abs(x) > 1.0 else 1.0)
        return max(self.rest_spread, 0.25 * self.diff_scale, tiny)

    def _learn_rest(self, x: float, k: float) -> None:
        """Follow the resting level slowly, each step winsorised: a drift must not be learned."""
        step = x - self.rest_level
        cap = math.inf
        if self.n_stopped > 50:  # the first readings set the level; later ones refine it
            cap = 3.0 * self._rest_spread(x)
            step = max(-cap, min(cap, step))
        k = max(k, 0.001) if self.n_stopped < 1000 else 0.001
        self.rest_level += k * step
        self.rest_spread += k * (min(abs(x - self.rest_level), cap) - self.rest_spread)

    def _away_from_rest(self, x: float, cfg: SensorHealthConfig) -> bool:
        """Count a stopped reading far from the resting level; whether this one is."""
        if self.n_stopped < cfg.stopped_learn_readings or self.nd <= 20:
            return False  # the resting level, or the running step, is not known yet
        if abs(x - self.rest_level) > cfg.rest_drift_k * self._rest_spread(x):
            self.rest_off += 1
            return True
        self.rest_off = 0
        return False

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
