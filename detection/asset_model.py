"""The vocabulary of asset profiles: metric specs, failure signatures, profiles.

A profile tells the engine which direction of change is bad for each metric,
the physical range outside which a value must be an instrument fault, the
hard limits (e.g. ISO 10816 vibration zones) and which metrics move together
for which failure mode, so a flag can carry a hypothesis tasking can act on.
The built-in profiles per asset type live in ``profiles``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from prognos.detection.errors import ConfigError

Direction = Literal["up", "down", "both"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of an asset type.

    ``valid_min``/``valid_max`` bound what the instrument can physically report
    (outside: sensor fault ``out_of_range``); ``warn``/``trip`` are hard limits
    on the bad side given by ``direction`` (``None`` when the standard gives none).
    """

    name: str
    unit: str
    direction: Direction = "both"
    valid_min: float = -math.inf
    valid_max: float = math.inf
    warn: float | None = None
    trip: float | None = None
    #: Smallest deviation (in the metric's unit) that counts as one standard deviation;
    #: keeps unmodelled small daily swings from reading as many sigmas.
    min_scale: float = 0.0
    #: Heated by the machine, so modelled as a rise above (lagged) ambient.
    above_ambient: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down", "both"):
            raise ConfigError(f"metric {self.name}: direction must be up, down or both")
        if self.valid_min >= self.valid_max:
            raise ConfigError(f"metric {self.name}: valid_min must be below valid_max")

    def badness(self, z: float) -> float:
        """A signed deviation turned into 'how bad' (positive = towards failure)."""
        if self.direction == "up":
            return z
        if self.direction == "down":
            return -z
        return abs(z)

    def limit_level(self, value: float) -> int:
        """0 inside limits, 1 past ``warn``, 2 past ``trip`` (on the bad side)."""
        warn, trip = self.warn, self.trip
        if warn is None and trip is None:
            return 0
        down = self.direction == "down"
        level = 0
        if warn is not None and (value <= warn if down else value >= warn):
            level = 1
        if trip is not None and (value <= trip if down else value >= trip):
            level = 2
        return level


#: Metrics whose signature strengths are fractions of the reading (a fault costs
#: a share of the power or flow), not amounts in the metric's unit.
RELATIVE_METRICS = frozenset({"power_kw", "current_a", "flow_m3_h", "torque_nm"})
#: A hypothesis needs at least this cosine between the deviations and the pattern.
MIN_PATTERN_MATCH = 0.5


@dataclass(frozen=True, slots=True)
class FailureSignature:
    """A failure mode and the metrics that move (with direction) when it develops.

    ``strengths`` says how strongly: the typical change of each metric when the
    fault is fully developed, signed (negative = down), in the metric's unit
    (a fraction of the reading for ``RELATIVE_METRICS``). It may name minor
    companions that ``moves`` leaves out (imbalance warms a bearing a little).
    """

    failure_mode: str
    moves: Mapping[str, Direction]
    strengths: Mapping[str, float] = field(default_factory=dict)
    #: Metrics the fault itself makes erratic (spiky or noisy), not their instrument.
    erratic: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AssetProfile:
    """Everything the engine needs to know about one asset type.

    ``condition_metrics`` describe the operating point (load, ambient); other
    metrics are modelled as a function of them so load cycles and daily
    temperature swings are not mistaken for faults.
    """

    asset_type: str
    metrics: Mapping[str, MetricSpec]
    signatures: tuple[FailureSignature, ...] = ()
    condition_metrics: tuple[str, ...] = ()
    ambient_metric: str | None = "ambient_temp_c"
    #: Reads exactly zero when the machine is stopped; equipment scoring pauses then.
    running_metric: str | None = None
    _memo: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lone: dict[str, tuple[FailureSignature, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def scored(self, metric: str) -> bool:
        """Whether a metric drives the equipment score (memoised)."""
        key = ("scored", metric)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._scored(metric)
        return found

    def _scored(self, metric: str) -> bool:
        """Whether a metric is judged for equipment health (condition metrics are not)."""
        if metric in self.condition_metrics or metric == self.ambient_metric:
            return False
        if not self.metrics:
            return True
        return metric in self.metrics and (
            any(metric in sig.moves for sig in self.signatures)
            or self.metrics[metric].warn is not None
        )

    def judged(self, metric: str) -> bool:
        """Whether a metric's deviation is tracked at all (memoised)."""
        key = ("judged", metric)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._judged(metric)
        return found

    def _judged(self, metric: str) -> bool:
        """Whether a metric's deviation is tracked at all (all but condition metrics)."""
        return metric not in self.condition_metrics and metric != self.ambient_metric

    def can_drift(self, metric: str) -> bool:
        """Whether a lone deviation of this metric reads as an instrument drift (memoised)."""
        key = ("can_drift", metric)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._can_drift(metric)
        return found

    def _can_drift(self, metric: str) -> bool:
        """Whether a lone deviation of this metric is more likely an instrument drift.

        True when no failure mode moves this metric alone, so a genuine fault
        would soon move a companion metric too.
        """
        if not self.metrics or not self.judged(metric):
            return False
        return not any(set(sig.moves) == {metric} for sig in self.signatures)

    def lone_modes(self, metric: str) -> tuple[FailureSignature, ...]:
        """The failure modes that move ``metric`` and no other listed metric (memoised)."""
        found = self._lone.get(metric)
        if found is None:
            found = tuple(sig for sig in self.signatures if set(sig.moves) == {metric})
            self._lone[metric] = found
        return found

    def erratic_in(self, failure_mode: str, metric: str) -> bool:
        """Whether an open ``failure_mode`` fault explains erratic readings of ``metric``.

        A mode the profile does not describe (or ``unknown``) may explain anything.
        """
        sigs = [sig for sig in self.signatures if sig.failure_mode == failure_mode]
        return not sigs or any(metric in sig.erratic for sig in sigs)

    def spec(self, metric: str) -> MetricSpec:
        """The spec of a metric, or a permissive two-sided default for unknown ones."""
        found = self.metrics.get(metric)
        return found if found is not None else MetricSpec(metric, "", "both")

    def matches(self, moved: Mapping[str, float]) -> dict[str, float]:
        """How well each failure mode explains the metrics that moved (0-1).

        ``moved`` maps metric -> signed deviation (z, positive = up) for the
        metrics judged to have moved. The match is the Jaccard overlap of moved
        and signature metrics, counting a metric only when it moved in the
        signature's direction.
        """
        out: dict[str, float] = {}
        moved_set = set(moved)
        for sig in self.signatures:
            hits = 0
            for metric, direction in sig.moves.items():
                z = moved.get(metric)
                if z is None:
                    continue
                if direction == "both" or (direction == "up") == (z > 0):
                    hits += 1
            union = len(moved_set | set(sig.moves))
            match = hits / union if union else 0.0
            out[sig.failure_mode] = max(out.get(sig.failure_mode, 0.0), match)
        return out

    def hypothesis(
        self,
        moved: Mapping[str, float],
        signals: Mapping[str, tuple[float, float, float]] | None = None,
    ) -> tuple[str, float]:
        """The failure mode that best explains the moved metrics, and its match.

        With ``signals`` (metric -> smoothed z, robust sd, latest value) and
        signature strengths, the pattern of deviations is compared with each
        mode's expected pattern (see ``pattern_match``); otherwise by which
        metrics moved. ``unknown`` when nothing matches well enough.
        """
        if signals and any(sig.strengths for sig in self.signatures):
            return self.pattern_match(signals)
        best, best_match = "unknown", 0.0
        for mode, match in self.matches(moved).items():
            if match > best_match + 1e-9:
                best, best_match = mode, match
        if best_match < 0.34:
            return "unknown", best_match
        return best, best_match

    def pattern_match(self, signals: Mapping[str, tuple[float, float, float]]) -> tuple[str, float]:
        """The mode whose expected pattern points most nearly the way the metrics moved.

        Each mode's strengths, divided by each metric's robust sd, give the
        direction (in z space) its deviations grow along; the hypothesis is the
        mode with the largest cosine to the observed smoothed z vector. A fault
        whose severity grows moves every metric along the same direction, so
        the cosine does not depend on how far the fault has gone, and a
        metric's noise level decides how much its share of the pattern counts.

        >>> prof = DEFAULT_PROFILES["pump"]
        >>> sig = {"vibration_rms_mm_s": (2.5, 0.15, 2.5), "bearing_temp_c": (2.4, 0.3, 60.0),
        ...        "power_kw": (0.8, 0.12, 21.0), "flow_m3_h": (0.1, 0.5, 150.0)}
        >>> prof.pattern_match(sig)[0]
        'misalignment'
        >>> sig["bearing_temp_c"] = (0.3, 0.3, 60.0)
        >>> prof.pattern_match(sig)[0]
        'imbalance'
        """
        norm = math.sqrt(sum(z * z for z, _, _ in signals.values()))
        best, best_cos = "unknown", 0.0
        if norm <= 0.0:
            return best, best_cos
        for sig in self.signatures:
            dot = length = 0.0
            for metric, strength in sig.strengths.items():
                found = signals.get(metric)
                if found is None:
                    continue
                z, scale, latest = found
                if metric in RELATIVE_METRICS:
                    strength *= abs(latest) if math.isfinite(latest) else 0.0
                u = strength / scale if scale > 0 else 0.0
                dot += z * u
                length += u * u
            if length <= 0.0:
                continue
            cos = dot / (math.sqrt(length) * norm)
            if cos > best_cos + 1e-9:
                best, best_cos = sig.failure_mode, cos
        if best_cos < MIN_PATTERN_MATCH:
            return "unknown", best_cos
        return best, best_cos
