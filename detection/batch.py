"""The batch path's numpy core: many devices' calm readings scored in one go.

A ``SeriesBank`` keeps the per-reading state of many ``MetricSeries`` as
rows of numpy arrays: the robust baseline, CUSUM, trend sums, smoothed and
raw scores, and the condition model's coefficients with its block of calm
rows waiting for the next refit. ``score_round`` scores a round of readings
(at most one per device) with array operations: the condition model's
expected value, the robust z, smoothing, CUSUM, trend, and, for each device
that stays calm, the learning that follows. The arithmetic is the scalar
path's own, operation for operation, so both paths give bit-identical state
and flags.

A device whose reading might open a flag (a deviation, a hard limit, a
point anomaly or a metric deviating alone) is reported back: the engine
``release``s it, which writes the state back to its objects, and finishes the
reading on the scalar path. While a series is banked its object's copies of
these fields are stale; the engine releases every device before a checkpoint
or a one-at-a-time reading. Each series takes at most one row and released
rows are reused, so memory is bounded by the number of series.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from prognos.detection.condition import REFIT_EVERY, ConditionModel
from prognos.detection.config import DetectionConfig
from prognos.detection.detectors import alpha_for
from prognos.detection.device import DeviceState
from prognos.detection.drift import condition_drifting
from prognos.detection.profiles import AssetProfile, MetricSpec
from prognos.detection.series import MetricSeries

_NS_PER_H = 3_600_000_000_000.0
#: Most regressors a banked condition model may have (more: the device stays scalar).
KMAX = 6
_PAIRS = [(i, j) for i in range(KMAX) for j in range(i + 1, KMAX)]
_PAIR_AT = {pair: n for n, pair in enumerate(_PAIRS)}
#: Per model width k: the columns of its pairs (i, j), j < k, in the scalar loop's
#: order, and their i and j.
_PAIRS_OF = {
    k: tuple(
        np.array(v, dtype=np.intp)
        for v in zip(*[(n, i, j) for n, (i, j) in enumerate(_PAIRS) if j < k], strict=True)
    )
    for k in range(2, KMAX + 1)
}

# Float columns: state first, then per-series constants.
(LEVEL, MAD, POS, NEG, SW, ST, SX, STT, STX, SXX, ZS, DEV, ZRAW, EXP, LAST) = range(15)
(FLOOR, B_ALPHA, GAIN, K, CAP, T_ALPHA, CLIP, S_ALPHA, H, Z_OPEN) = range(15, 25)
(SIGN, POINT_AT, Z_FREEZE, SLOW, LIMIT_UP, LIMIT_DOWN, DRIFT, C0) = range(25, 33)
#: ``DRIFT`` column: how ``track_drift`` watches the metric.
NOT_WATCHED, DRIFT_PRONE, LONE_MODES = 0.0, 1.0, 2.0
_FLOATS = 33
# Integer columns.
(B_N, T_N, T_REF, LAST_T, ALONE, OFF, NPEND, HAS_MODEL, NREG) = range(9)
_INTS = 9


class Item(Protocol):
    """What ``score_round`` needs of a deferred reading."""

    dev: DeviceState
    values: dict[str, float]
    features: dict[str, float]
    ts_ns: int


@dataclass(slots=True)
class DeviceRows:
    """A banked device: its rows, in the order its plan scores them."""

    rows: np.ndarray
    names: list[str]
    series: list[MetricSeries]
    signs: list[float]
    #: Condition features its models read, in the order they are gathered each round.
    features: list[str]
    feature_at: dict[str, int] = field(default_factory=dict)


class SeriesBank:
    """Rows of detector state for many series (see the module docstring)."""

    def __init__(self, capacity: int = 64) -> None:
        self.f = np.zeros((capacity, _FLOATS))
        self.i = np.zeros((capacity, _INTS), dtype=np.int64)
        self.ridx = np.full((capacity, KMAX), -1, dtype=np.intp)
        self.reg = np.zeros((6, capacity, KMAX))  # mean, scale, linear, square, lo, hi
        self.pair = np.zeros((capacity, len(_PAIRS)))
        self.pend = np.zeros((capacity, REFIT_EVERY, KMAX + 1))
        self.owner: list[tuple[MetricSeries, DeviceRows] | None] = [None] * capacity
        self._free: list[int] = list(range(capacity - 1, -1, -1))

    def __len__(self) -> int:
        return len(self.owner) - len(self._free)

    # -- entering and leaving ---------------------------------------------------------

    def admit(
        self, dev: DeviceState, profile: AssetProfile, cfg: DetectionConfig
    ) -> DeviceRows | None:
        """The device's rows, banking its judged series first; None if it must stay scalar.

        Devices with a healthy envelope, a daily cycle, a drifting (or suspect)
        instrument, all-time records watched (``record_hold_s``) or a condition
        model wider than ``KMAX`` regressors stay on the scalar path.
        """
        if dev.bank is not None:
            return dev.bank
        if dev.envelope is not None or cfg.record_hold_s or condition_drifting(dev, profile):
            return None
        plan = [p for p in dev.plan(profile) if p.judged and p.series.base.n > 0]
        if not plan:
            return None
        for p in plan:
            s = p.series
            if (
                s.season is not None
                or s.drifting
                or len(s.model.names) > KMAX
                or s.trend.t_ref is None
            ):
                return None
        features: list[str] = []
        for p in plan:
            model = p.series.model
            for name in [*model.names, *([model.offset] if model.offset else [])]:
                if name not in features:
                    features.append(name)
        rows = DeviceRows(
            np.empty(len(plan), dtype=np.intp),
            [p.name for p in plan],
            [p.series for p in plan],
            [p.sign for p in plan],
            features,
            {name: n for n, name in enumerate(features)},
        )
        for n, p in enumerate(plan):
            if p.can_drift:
                watch = DRIFT_PRONE
            elif p.scored and profile.lone_modes(p.name):
                watch = LONE_MODES
            else:
                watch = NOT_WATCHED
            rows.rows[n] = self._bank(p.series, p.spec, p.sign, watch, cfg, rows)
        dev.bank = rows
        return rows

    def release(self, dev: DeviceState) -> None:
        """Write the device's state back to its objects and free its rows."""
        rows = dev.bank
        if rows is None:
            return
        for row in rows.rows.tolist():
            self._unbank(row)
        dev.bank = None

    def _bank(
        self,
        series: MetricSeries,
        spec: MetricSpec,
        sign: float,
        watch: float,
        cfg: DetectionConfig,
        rows: DeviceRows,
    ) -> int:
        if not self._free:
            self._grow()
        row = self._free.pop()
        base, cusum, trend = series.base, series.cusum, series.trend
        # A hard limit reached means a flag may open: such readings finish on the scalar path.
        limits = [v for v in (spec.warn, spec.trip) if v is not None]
        down = spec.direction == "down"
        self.f[row] = (
            base.level,
            base.mad,
            cusum.pos,
            cusum.neg,
            trend.sw,
            trend.st,
            trend.sx,
            trend.stt,
            trend.stx,
            trend.sxx,
            series.z_smooth,
            series.dev,
            series.z_raw,
            series.expected,
            series.last_value,
            base.floor,
            base.alpha,
            series.smooth_gain,
            cusum.k,
            cusum.cap,
            trend.alpha,
            cfg.z_clip,
            alpha_for(cfg.smooth_half_life),
            cfg.cusum_h,
            cfg.z_open,
            sign,
            # A screen: never above the scalar path's limit, which moves with the scale.
            series.point_floor(cfg),
            cfg.z_freeze,
            cfg.suspicious_learn_rate,
            min(limits) if limits and not down else math.inf,
            max(limits) if limits and down else -math.inf,
            watch,
            0.0,
        )
        self.i[row] = (base.n, trend.n, trend.t_ref, trend.last_t, series.alone, -1, 0, 0, 0)
        self._load_model(row, series.model, rows)
        pending = series.model.pending
        k = len(series.model.names)
        for n, values in enumerate(pending):
            self.pend[row, n, :k] = values[:k]
            self.pend[row, n, KMAX] = values[k]
        self.i[row, NPEND] = len(pending)
        self.owner[row] = (series, rows)
        return row

    def _load_model(self, row: int, model: ConditionModel, rows: DeviceRows) -> None:
        """Copy the model's regressors and coefficients into the row (after fits too)."""
        k = len(model.names)
        coefs = model.coefs
        self.ridx[row] = -1
        self.reg[:, row, :] = 0.0
        self.reg[1, row, :] = 1.0
        self.reg[4, row, :] = -math.inf
        self.reg[5, row, :] = math.inf
        self.pair[row] = 0.0
        self.i[row, OFF] = rows.feature_at[model.offset] if model.offset else -1
        self.i[row, HAS_MODEL] = 1 if coefs else 0
        self.i[row, NREG] = k
        self.f[row, C0] = coefs[0] if coefs else 0.0
        if not coefs:
            return
        for n, name in enumerate(model.names):
            self.ridx[row, n] = rows.feature_at[name]
        self.reg[0, row, :k] = model.means
        self.reg[1, row, :k] = model.scales
        self.reg[2, row, :k] = coefs[1 : 1 + k]
        self.reg[3, row, :k] = coefs[1 + k : 1 + 2 * k]
        self.reg[4, row, :k] = model.lo
        self.reg[5, row, :k] = model.hi
        c = 1 + 2 * k
        for a in range(k):
            for b in range(a + 1, k):
                self.pair[row, _PAIR_AT[(a, b)]] = coefs[c]
                c += 1

    def _pending_rows(self, row: int, k: int) -> list[list[float]]:
        n = int(self.i[row, NPEND])
        block = np.concatenate([self.pend[row, :n, :k], self.pend[row, :n, KMAX:]], axis=1)
        return block.tolist()

    def _unbank(self, row: int) -> None:
        owner = self.owner[row]
        assert owner is not None
        series = owner[0]
        f = self.f[row].tolist()
        b_n, t_n, _, last_t, alone = self.i[row, :5].tolist()
        base, cusum, trend = series.base, series.cusum, series.trend
        base.level, base.mad, base.n = f[LEVEL], f[MAD], b_n
        cusum.pos, cusum.neg = f[POS], f[NEG]
        trend.sw, trend.st, trend.sx = f[SW], f[ST], f[SX]
        trend.stt, trend.stx, trend.sxx = f[STT], f[STX], f[SXX]
        trend.n, trend.last_t = t_n, last_t
        series.z_smooth, series.dev, series.z_raw = f[ZS], f[DEV], f[ZRAW]
        series.expected, series.last_value, series.alone = f[EXP], f[LAST], alone
        series.model.pending = self._pending_rows(row, len(series.model.names))
        self.owner[row] = None
        self._free.append(row)

    def _grow(self) -> None:
        old = len(self.owner)
        self.f = np.concatenate([self.f, np.zeros_like(self.f)])
        self.i = np.concatenate([self.i, np.zeros_like(self.i)])
        self.ridx = np.concatenate([self.ridx, np.full_like(self.ridx, -1)])
        self.reg = np.concatenate([self.reg, np.zeros_like(self.reg)], axis=1)
        self.pair = np.concatenate([self.pair, np.zeros_like(self.pair)])
        self.pend = np.concatenate([self.pend, np.zeros_like(self.pend)])
        self.owner.extend([None] * old)
        self._free.extend(range(2 * old - 1, old - 1, -1))

    # -- scoring ----------------------------------------------------------------------

    def score_round(self, items: Sequence[Item]) -> list[bool]:
        """Score one reading of each banked device; True where the scalar path must finish.

        For the calm devices (False) everything the scalar path would do is
        done: scores, trend, the learning and the condition models' refits.
        For the others the state is scored but not learned.
        """
        banks = [it.dev.bank for it in items]
        assert all(b is not None for b in banks)
        counts = [len(b.names) for b in banks if b is not None]
        idx = np.concatenate([b.rows for b in banks if b is not None])
        x = np.fromiter(
            itertools.chain.from_iterable(
                [it.values[n] for n in b.names] for it, b in zip(items, banks, strict=True) if b
            ),
            float,
            len(idx),
        )
        feats: list[float] = [math.nan]
        starts: list[int] = []
        for it, b in zip(items, banks, strict=True):
            assert b is not None
            starts.append(len(feats))
            get = it.features.get
            feats.extend([get(n, math.nan) for n in b.features])
        feat = np.asarray(feats)
        base = np.repeat(np.asarray(starts, dtype=np.intp), counts)
        ts = np.repeat(np.asarray([it.ts_ns for it in items], dtype=np.int64), counts)

        f = self.f[idx]
        ints = self.i[idx]
        with np.errstate(invalid="ignore", over="ignore"):
            expected, regs, present = self._expected(idx, feat, base, f, ints)
            z, zs = self._score(f, ints, x, expected, ts)
        dev = f[:, DEV]
        sign = f[:, SIGN]
        bad = np.where(sign == 0.0, np.abs(dev), dev * sign)
        point = np.where(sign == 0.0, np.abs(z), z * sign)
        z_open = f[:, Z_OPEN]
        hot_row = (
            (bad >= z_open)
            | (point >= f[:, POINT_AT])
            | (x >= f[:, LIMIT_UP])
            | (x <= f[:, LIMIT_DOWN])
            # ``track_drift``: any smoothed deviation this large gets its drift checks
            # (lone metrics and condition sensors), and so does a lone-mode metric's.
            | (np.abs(zs) >= z_open)
            | ((f[:, DRIFT] == LONE_MODES) & (np.abs(dev) >= z_open))
        )
        ends = np.cumsum(counts)
        hot_dev = np.logical_or.reduceat(hot_row, ends - np.asarray(counts)).tolist()
        # Learning, for the calm devices only.
        feedback = [it.dev.in_feedback(it.ts_ns) for it in items]
        calm_dev = np.repeat(~np.asarray(hot_dev, dtype=bool), counts)
        rate = np.where(
            ((bad < f[:, Z_FREEZE]) & (np.abs(z) < f[:, CLIP]))
            | np.repeat(np.asarray(feedback, dtype=bool), counts),
            1.0,
            f[:, SLOW],
        )
        self._learn_base(f, ints, calm_dev, x - f[:, EXP], rate)
        ints[:, ALONE] = np.where(calm_dev & (f[:, DRIFT] != NOT_WATCHED), 0, ints[:, ALONE])
        self.f[idx] = f
        self.i[idx] = ints
        self._learn_models(idx, calm_dev & (rate >= 1.0), regs, present, x, feat, base)
        return hot_dev

    def _expected(
        self,
        idx: np.ndarray,
        feat: np.ndarray,
        base: np.ndarray,
        f: np.ndarray,
        ints: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``ConditionModel.expected`` for every row: (expected, raw regressors, all present)."""
        # Only as many regressor columns as the widest model in the round.
        k = int(ints[:, NREG].max())
        ridx = self.ridx[idx, :k]
        where = np.where(ridx >= 0, ridx + base[:, None], 0)
        raw = feat[where]
        mean, scale, lin, sq, lo, hi = self.reg[:, idx, :k]
        missing = np.isnan(raw)
        z = np.where(missing, 0.0, (raw - mean) / scale)
        inside = (lo <= z) & (z <= hi)
        e = np.where(z < lo, lo, hi)
        terms = np.where(
            inside,
            lin * z + sq * (z * z - 1.0),
            lin * z + sq * (e * e - 1.0 + 2.0 * e * (z - e)),
        )
        off_at = ints[:, OFF]
        off = feat[np.where(off_at >= 0, off_at + base, 0)]
        total = np.where(np.isnan(off), 0.0, off) + f[:, C0]
        for j in range(k):
            total = total + terms[:, j]
        if k >= 2:
            # The pairs (i, j) with j < k, in the scalar loop's order.
            cols, pi, pj = _PAIRS_OF[k]
            edges = np.where(inside, z, e)
            zi, zj, ei, ej = z[:, pi], z[:, pj], edges[:, pi], edges[:, pj]
            pc = self.pair[idx[:, None], cols]
            pairs = np.where(
                inside.all(axis=1)[:, None],
                pc * zi * zj,
                pc * (ei * ej + ej * (zi - ei) + ei * (zj - ej)),
            )
            for j in range(len(cols)):
                total = total + pairs[:, j]
        # What ``ConditionModel.learn`` folds in: every regressor and the offset present.
        present = ~(missing & (ridx >= 0)).any(axis=1) & ~((off_at >= 0) & np.isnan(off))
        return total, raw, present

    def _score(
        self, f: np.ndarray, ints: np.ndarray, x: np.ndarray, expected: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``MetricSeries.score`` for every row (in place on ``f``): (raw z, smoothed z)."""
        # np.maximum/np.minimum are the scalar conditionals exactly (all values finite,
        # scales positive).
        s = 1.4826 * np.maximum(f[:, FLOOR], f[:, MAD])
        z = ((x - expected) - f[:, LEVEL]) / np.maximum(s, 1e-12)
        clip = f[:, CLIP]
        zc = np.minimum(np.maximum(z, -clip), clip)
        zs = f[:, ZS]
        zs = zs + f[:, S_ALPHA] * (zc - zs)
        k, cap = f[:, K], f[:, CAP]
        pos = f[:, POS] + zc - k
        pos = np.minimum(np.where(pos > 0.0, pos, 0.0), cap)
        neg = f[:, NEG] - zc - k
        neg = np.minimum(np.where(neg > 0.0, neg, 0.0), cap)
        signed = np.where(pos >= neg, pos, -neg)
        scaled = signed / f[:, H] * f[:, Z_OPEN]
        gained = zs * f[:, GAIN]
        f[:, DEV] = np.where(np.abs(gained) >= np.abs(scaled), gained, scaled)
        f[:, POS], f[:, NEG], f[:, ZS], f[:, ZRAW], f[:, EXP], f[:, LAST] = (
            pos,
            neg,
            zs,
            z,
            expected,
            x,
        )
        # TrendFit.learn_one (banked trends have their reference time)
        t = (ts - ints[:, T_REF]) / _NS_PER_H
        d = (1.0 - f[:, T_ALPHA])[:, None]
        terms = np.stack([np.ones_like(t), t, x, t * t, t * x, x * x], axis=1)
        f[:, SW : SXX + 1] = f[:, SW : SXX + 1] * d + terms
        ints[:, T_N] += 1
        ints[:, LAST_T] = ts
        return z, zs

    @staticmethod
    def _learn_base(
        f: np.ndarray, ints: np.ndarray, mask: np.ndarray, v: np.ndarray, rate: np.ndarray
    ) -> None:
        """``RobustZ.learn_one`` for the rows in ``mask`` (in place on ``f``)."""
        a = f[:, B_ALPHA] * rate
        mad, floor, level = f[:, MAD], f[:, FLOOR], f[:, LEVEL]
        s3 = 3.0 * np.maximum(1.4826 * np.maximum(floor, mad), 1e-12)
        clipped = np.minimum(np.maximum(v, level - s3), level + s3)
        new_level = level + a * (clipped - level)
        new_mad = mad + a * (np.minimum(s3, np.abs(clipped - new_level)) - mad)
        f[:, LEVEL] = np.where(mask, new_level, level)
        f[:, MAD] = np.where(mask, new_mad, mad)
        ints[:, B_N] += mask

    def _learn_models(
        self,
        idx: np.ndarray,
        mask: np.ndarray,
        regs: np.ndarray,
        present: np.ndarray,
        x: np.ndarray,
        feat: np.ndarray,
        base: np.ndarray,
    ) -> None:
        """``ConditionModel.learn`` for the rows in ``mask``: append, refit full blocks."""
        take = mask & present & (self.i[idx, HAS_MODEL] > 0)
        if not take.any():
            return
        rows = idx[take]
        n = self.i[rows, NPEND]
        off_at = self.i[rows, OFF]
        off = feat[np.where(off_at >= 0, off_at + base[take], 0)]
        value = np.where(off_at >= 0, x[take] - off, x[take])
        self.pend[rows, n, : regs.shape[1]] = regs[take]
        self.pend[rows, n, KMAX] = value
        self.i[rows, NPEND] = n + 1
        for row in rows[n + 1 >= REFIT_EVERY].tolist():
            owner = self.owner[row]
            assert owner is not None
            series, dev_rows = owner
            model = series.model
            model.pending = self._pending_rows(row, len(model.names))
            model.refit_pending(series.base.alpha)
            self.i[row, NPEND] = 0
            self._load_model(row, model, dev_rows)


def finish_calm(items: Sequence[Item], hot: Sequence[bool]) -> None:
    """What ``equipment_step`` does for a calm reading with no flag: count it."""
    for item, is_hot in zip(items, hot, strict=True):
        if not is_hot:
            item.dev.eq["n"] += 1
