"""Healthy operating envelope of one asset: PCA with Hotelling T^2 and SPE (Q).

Learned from the warm-up period, it scores how far a whole reading (all
metrics together) lies from healthy operation and says which metrics
contribute most, which single-metric detectors cannot see. The engine feeds
it each metric's robust z-score rather than raw values, so the envelope moves
with baselines that follow slow normal change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prognos.detection.errors import StateError


class PcaEnvelope:
    """PCA model of healthy readings; ``score_one`` is the distance in limit units.

    Limits are the ``quantile`` of T^2 and SPE on the training rows; a score of
    1.0 sits on the limit.

    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(400, 1))
    >>> rows = np.hstack([base, 2 * base, -base]) + 0.05 * rng.normal(size=(400, 3))
    >>> env = PcaEnvelope.fit(["a", "b", "c"], rows)
    >>> env.score_one({"a": 0.1, "b": 0.2, "c": -0.1})[0] < 1.5
    True
    >>> score, contrib = env.score_one({"a": 1.0, "b": -2.0, "c": -1.0})
    >>> score > 3 and max(contrib, key=contrib.get) == "b"
    True
    """

    def __init__(
        self,
        names: Sequence[str],
        mean: np.ndarray,
        scale: np.ndarray,
        loadings: np.ndarray,
        eigvals: np.ndarray,
        t2_limit: float,
        spe_limit: float,
    ) -> None:
        self.names = list(names)
        self.mean = mean
        self.scale = scale
        self.loadings = loadings
        self.eigvals = eigvals
        self.t2_limit = t2_limit
        self.spe_limit = spe_limit

    @classmethod
    def fit(
        cls, names: Sequence[str], rows: np.ndarray, explained: float = 0.9, quantile: float = 0.995
    ) -> PcaEnvelope:
        """Fit on healthy rows (one column per name)."""
        x = np.asarray(rows, dtype=float)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-9 * np.maximum(np.abs(mean), 1.0), scale, 1.0)
        z = (x - mean) / scale
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        eig = s**2 / max(len(z) - 1, 1)
        total = float(eig.sum())
        if total <= 0:
            k = 1
        else:
            k = int(np.searchsorted(np.cumsum(eig) / total, explained) + 1)
            k = min(max(k, 1), max(len(names) - 1, 1))
        loadings = vt[:k].T
        eigvals = np.maximum(eig[:k], 1e-12)
        env = cls(names, mean, scale, loadings, eigvals, 1.0, 1.0)
        t2, spe, _ = env._stats(z)
        env.t2_limit = max(float(np.quantile(t2, quantile)), 1e-9)
        env.spe_limit = max(float(np.quantile(spe, quantile)), 1e-9)
        return env

    def _stats(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = z @ self.loadings
        t2 = (t**2 / self.eigvals).sum(axis=-1)
        resid = z - t @ self.loadings.T
        return t2, (resid**2).sum(axis=-1), resid

    def score_many(self, rows: np.ndarray) -> np.ndarray:
        """Scores of many rows at once (the batch path)."""
        z = (np.asarray(rows, dtype=float) - self.mean) / self.scale
        t2, spe, _ = self._stats(z)
        return np.maximum(t2 / self.t2_limit, spe / self.spe_limit)

    def score_one(self, values: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """Score of one reading and each metric's share of the squared distance."""
        x = np.array([values.get(n, m) for n, m in zip(self.names, self.mean, strict=True)])
        z = (x - self.mean) / self.scale
        t2, spe, resid = self._stats(z)
        t = z @ self.loadings
        t2_part = (self.loadings * (t / self.eigvals)) * z[:, None]
        contrib_raw = np.abs(t2_part.sum(axis=1)) / self.t2_limit + resid**2 / self.spe_limit
        total = float(contrib_raw.sum()) or 1.0
        contrib = {n: float(c) / total for n, c in zip(self.names, contrib_raw, strict=True)}
        return float(max(t2 / self.t2_limit, spe / self.spe_limit)), contrib

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "loadings": self.loadings.tolist(),
            "eigvals": self.eigvals.tolist(),
            "t2_limit": self.t2_limit,
            "spe_limit": self.spe_limit,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> PcaEnvelope:
        try:
            return cls(
                state["names"],
                np.array(state["mean"], dtype=float),
                np.array(state["scale"], dtype=float),
                np.array(state["loadings"], dtype=float).reshape(len(state["names"]), -1),
                np.array(state["eigvals"], dtype=float),
                float(state["t2_limit"]),
                float(state["spe_limit"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"envelope state is malformed: {exc}") from exc
