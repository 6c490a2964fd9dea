"""Operating-condition model: what a metric should read at the current load and ambient.

Load cycles and daily temperature swings move most metrics of a healthy
machine. Fitting each health metric on the condition metrics (a ridge
regression, fitted on warm-up and refined from calm readings afterwards) and
scoring the residual keeps those normal swings from looking like faults.
Outside the operating range it was fitted on, the model continues along its
tangent: a squared term fitted on a narrow range (a warm-up that saw only the
day shift) would otherwise predict wildly for the night.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prognos.detection.errors import StateError

#: A regression is kept only if it explains at least this share of the variance.
MIN_R2 = 0.2
#: Calm readings are folded into the fit in blocks of this many (bounded buffer).
REFIT_EVERY = 60
#: One regressor of a fitted model: name, mean, scale, linear and squared
#: coefficient, and the standardised range it was fitted on.
_Term = tuple[str, float, float, float, float, float, float]


class ConditionModel:
    """Linear model of one metric on condition features (linear, squared, pairwise terms).

    Keeps only exponentially forgotten sufficient statistics (a small Gram
    matrix), so it keeps learning from calm readings in bounded memory.

    >>> m = ConditionModel.fit(["load"], [{"load": float(i % 10)} for i in range(100)],
    ...                        [2.0 * (i % 10) + 1.0 for i in range(100)])
    >>> round(m.expected({"load": 4.0}) - m.expected({"load": 3.0}), 1)
    2.0
    >>> ConditionModel.fit(["load"], [{"load": 1.0}] * 50, [3.0] * 50).names
    []
    """

    __slots__ = (
        "_terms",
        "coefs",
        "gram",
        "hi",
        "linear",
        "lo",
        "means",
        "names",
        "offset",
        "pending",
        "rhs",
        "scales",
    )

    def __init__(
        self,
        names: Sequence[str],
        means: Sequence[float],
        scales: Sequence[float],
        coefs: Sequence[float],
        offset: str | None = None,
        gram: Sequence[Sequence[float]] | None = None,
        rhs: Sequence[float] | None = None,
        pending: Sequence[Sequence[float]] | None = None,
        lo: Sequence[float] | None = None,
        hi: Sequence[float] | None = None,
        linear: bool = False,
    ) -> None:
        self.names = list(names)
        #: Linear terms only (squared and pairwise coefficients stay zero): see ``fit``.
        self.linear = linear
        self.offset = offset
        self.means = [float(v) for v in means]
        self.scales = [float(v) for v in scales]
        self.coefs = [float(v) for v in coefs]
        self.gram = [list(map(float, r)) for r in gram] if gram is not None else []
        self.rhs = [float(v) for v in rhs] if rhs is not None else []
        self.pending = [list(map(float, r)) for r in pending] if pending is not None else []
        #: Standardised range of each regressor seen in fitting (beyond it: the tangent).
        k = len(self.names)
        self.lo = [float(v) for v in lo] if lo is not None else [-math.inf] * k
        self.hi = [float(v) for v in hi] if hi is not None else [math.inf] * k
        #: Per regressor (name, mean, scale, linear and squared coefficient, range), built
        #: for the current ``coefs`` list (rebuilt whenever that list is replaced).
        self._terms: tuple[list[float], list[_Term]] | None = None

    @classmethod
    def none(cls, offset: str | None = None) -> ConditionModel:
        """A model with no regressors (the residual is the value, less any offset)."""
        return cls([], [], [], [], offset)

    @classmethod
    def fit(
        cls,
        names: Sequence[str],
        conditions: Sequence[Mapping[str, float]],
        values: Sequence[float],
        offset: str | None = None,
        linear: bool = False,
    ) -> ConditionModel:
        """Fit on warm-up rows; drop regressors that are flat or useless.

        Each condition feature enters linearly and squared (pump affinity laws
        make flow, head and power grow with speed, speed squared and cubed).
        Rows lacking a feature are left out of the fit. ``offset`` names a
        condition subtracted first (temperatures are modelled above ambient).
        ``linear`` keeps the linear terms only: a temperature's rise above
        ambient follows its heat input (a lagged load) linearly, and squared or
        pairwise terms of lagged loads, fitted on a warm-up that saw one regime,
        predict badly across a transition it never saw (the end of a shift).
        """
        need = [*names, offset] if offset else list(names)
        rows = [
            (c, v) for c, v in zip(conditions, values, strict=True) if all(n in c for n in need)
        ]
        if len(rows) < 20 or not names:
            return cls.none(offset)
        y = np.array([v - (c[offset] if offset else 0.0) for c, v in rows], dtype=float)
        x = np.array([[c[n] for n in names] for c, _ in rows], dtype=float)
        means, scales = x.mean(axis=0), x.std(axis=0)
        keep = scales > 1e-6 * np.maximum(np.abs(means), 1.0)
        if not keep.any():
            return cls.none(offset)
        usable = [n for n, k in zip(names, keep, strict=True) if k]
        obj = cls(usable, means[keep].tolist(), scales[keep].tolist(), [], offset, linear=linear)
        z = (x[:, keep] - means[keep]) / scales[keep]
        obj.lo, obj.hi = z.min(axis=0).tolist(), z.max(axis=0).tolist()
        design = obj._design(x[:, keep])
        gram = design.T @ design / len(y)
        rhs = design.T @ y / len(y)
        coefs = _solve(gram, rhs)
        resid = y - design @ coefs
        yc = y - y.mean()
        total = float(yc @ yc)
        if total <= 0.0 or 1.0 - float(resid @ resid) / total < MIN_R2:
            return cls.none(offset)
        obj.coefs, obj.gram, obj.rhs = coefs.tolist(), gram.tolist(), rhs.tolist()
        return obj

    def _design(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.means)) / np.asarray(self.scales)
        k = z.shape[1]
        ones = np.ones((z.shape[0], 1))
        if self.linear:  # the same layout, the nonlinear columns zero (their coefficients too)
            return np.hstack([ones, z, np.zeros((z.shape[0], k + k * (k - 1) // 2))])
        pairs = [z[:, i : i + 1] * z[:, j : j + 1] for i in range(k) for j in range(i + 1, k)]
        return np.hstack([ones, z, z * z - 1.0, *pairs])

    def expected(self, condition: Mapping[str, float]) -> float:
        """What the metric should read under this condition (offset plus regression).

        Past the fitted range of a regressor the squared and pairwise terms
        continue along their tangent at the edge of the range (first-order
        Taylor expansion there), so the prediction grows linearly, not
        quadratically, with the distance from anything seen.
        """
        offset = self.offset
        total = condition.get(offset, 0.0) if offset else 0.0
        coefs = self.coefs
        if not coefs:
            return total
        k = len(self.names)
        cached = self._terms
        if cached is None or cached[0] is not coefs:
            terms = list(
                zip(
                    self.names,
                    self.means,
                    self.scales,
                    coefs[1 : 1 + k],
                    coefs[1 + k : 1 + 2 * k],
                    self.lo,
                    self.hi,
                    strict=True,
                )
            )
            cached = self._terms = (coefs, terms)
        total += coefs[0]
        zs = []
        edges: list[float] | None = None  # nearest points of the fitted range, once needed
        for index, (name, mean, scale, linear, square, lo, hi) in enumerate(cached[1]):
            value = condition.get(name)
            # A missing condition reads as its warm-up mean.
            z = 0.0 if value is None else (value - mean) / scale
            zs.append(z)
            if lo <= z <= hi:
                total += linear * z + square * (z * z - 1.0)
                continue
            e = lo if z < lo else hi
            if edges is None:
                edges = zs[:index]
            edges.extend(zs[len(edges) : index])
            edges.append(e)
            total += linear * z + square * (e * e - 1.0 + 2.0 * e * (z - e))
        if k < 2:
            return total  # no pairwise terms
        c = 1 + 2 * k
        if edges is None:  # the usual case: inside the fitted range
            for i in range(k):
                zi = zs[i]
                for j in range(i + 1, k):
                    total += coefs[c] * zi * zs[j]
                    c += 1
            return total
        edges.extend(zs[len(edges) :])
        for i in range(k):
            zi, ei = zs[i], edges[i]
            for j in range(i + 1, k):
                ej = edges[j]
                total += coefs[c] * (ei * ej + ej * (zi - ei) + ei * (zs[j] - ej))
                c += 1
        return total

    def outside(self, condition: Mapping[str, float]) -> float:
        """How far (in warm-up standard deviations) the condition lies outside the fitted range.

        0 inside the range, or for a missing condition (it reads as the mean).

        >>> m = ConditionModel.fit(["load"], [{"load": float(i % 10)} for i in range(100)],
        ...                        [2.0 * (i % 10) + 1.0 for i in range(100)])
        >>> m.outside({"load": 5.0}), round(m.outside({"load": 9.0 + 2 * 2.8723}), 2)
        (0.0, 2.0)
        """
        worst = 0.0
        for name, mean, scale, lo, hi in zip(
            self.names, self.means, self.scales, self.lo, self.hi, strict=True
        ):
            value = condition.get(name)
            if value is None:
                continue
            z = (value - mean) / scale
            beyond = lo - z if z < lo else z - hi
            if beyond > worst:
                worst = beyond
        return worst

    def learn(self, condition: Mapping[str, float], value: float, forget: float) -> None:
        """Fold a calm reading into the fit (refitted every ``REFIT_EVERY`` readings).

        ``forget`` is the per-reading forgetting factor of the statistics.
        """
        if not self.coefs:
            return
        try:
            row = [condition[n] for n in self.names]
        except KeyError:
            return
        if self.offset is not None:
            if self.offset not in condition:
                return
            value -= condition[self.offset]
        row.append(value)
        self.pending.append(row)
        if len(self.pending) >= REFIT_EVERY:
            self.refit_pending(forget)

    def refit_pending(self, forget: float) -> None:
        """Fold the ``pending`` block of calm rows into the statistics and refit."""
        if not self.pending:
            return
        width = len(self.pending[0])
        # Flattened first: much quicker than converting a list of row lists.
        block = np.fromiter(
            itertools.chain.from_iterable(self.pending), float, len(self.pending) * width
        ).reshape(-1, width)
        self.pending = []
        design = self._design(block[:, :-1])
        # Calm readings at new operating points widen the range the model may trust.
        z = (block[:, :-1] - np.asarray(self.means)) / np.asarray(self.scales)
        self.lo = np.minimum(self.lo, z.min(axis=0)).tolist()
        self.hi = np.maximum(self.hi, z.max(axis=0)).tolist()
        m = len(block)
        decay = (1.0 - forget) ** m
        gram = decay * np.asarray(self.gram) + (1.0 - decay) * design.T @ design / m
        rhs = decay * np.asarray(self.rhs) + (1.0 - decay) * design.T @ block[:, -1] / m
        self.gram, self.rhs = gram.tolist(), rhs.tolist()
        self.coefs = _solve(gram, rhs).tolist()

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "means": self.means,
            "scales": self.scales,
            "coefs": self.coefs,
            "offset": self.offset,
            "gram": self.gram,
            "rhs": self.rhs,
            "pending": self.pending,
            "lo": self.lo,
            "hi": self.hi,
            "linear": self.linear,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ConditionModel:
        try:
            return cls(
                state["names"],
                state["means"],
                state["scales"],
                state["coefs"],
                state["offset"],
                state["gram"],
                state["rhs"],
                state["pending"],
                # Checkpoints from before the range was kept: no limit (as they were fitted).
                state.get("lo"),
                state.get("hi"),
                # Older checkpoints were all fitted with every term.
                bool(state.get("linear", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"condition model state is malformed: {exc}") from exc


def _solve(gram: np.ndarray, rhs: np.ndarray, ridge: float = 1e-4) -> np.ndarray:
    return np.linalg.solve(gram + _ridge(len(rhs), ridge), rhs)


@functools.lru_cache(maxsize=64)
def _ridge(size: int, ridge: float) -> np.ndarray:
    """The ridge penalty matrix of a design with ``size`` columns (read-only, shared)."""
    reg = ridge * np.eye(size)
    reg[0, 0] = 0.0  # the intercept is not shrunk
    reg.flags.writeable = False
    return reg
