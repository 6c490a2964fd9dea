"""Asset profiles: what each asset type measures, its limits, and how its faults look.

A profile tells the engine which direction of change is bad for each metric,
the physical range outside which a value must be an instrument fault, the
hard limits (e.g. ISO 10816 vibration zones) and which metrics move together
for which failure mode, so a flag can carry a hypothesis tasking can act on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
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


@dataclass(frozen=True, slots=True)
class FailureSignature:
    """A failure mode and the metrics that move (with direction) when it develops."""

    failure_mode: str
    moves: Mapping[str, Direction]


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

    def hypothesis(self, moved: Mapping[str, float]) -> tuple[str, float]:
        """The failure mode that best explains the moved metrics, and its match.

        ``unknown`` when no signature matches at least a third.
        """
        best, best_match = "unknown", 0.0
        for mode, match in self.matches(moved).items():
            if match > best_match + 1e-9:
                best, best_match = mode, match
        if best_match < 0.34:
            return "unknown", best_match
        return best, best_match


def _specs(items: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    return {m.name: m for m in items}


def _sig(mode: str, **moves: Direction) -> FailureSignature:
    return FailureSignature(mode, moves)


# Shared metric specs. Vibration limits follow ISO 10816-3 (group 2, rigid
# foundation: 4.5 mm/s unsatisfactory, 7.1 mm/s unacceptable); temperature
# limits follow common bearing (ISO 281 grease) and insulation class F practice.
VIB = MetricSpec("vibration_rms_mm_s", "mm/s", "up", 0.0, 100.0, 4.5, 7.1)
VIB_LARGE = MetricSpec("vibration_rms_mm_s", "mm/s", "up", 0.0, 100.0, 7.1, 11.2)
BEARING_T = MetricSpec(
    "bearing_temp_c", "degC", "up", -40.0, 250.0, 85.0, 95.0, min_scale=1.0, above_ambient=True
)
WINDING_T = MetricSpec(
    "winding_temp_c", "degC", "up", -40.0, 250.0, 130.0, 155.0, min_scale=1.0, above_ambient=True
)
DISCHARGE_T = MetricSpec(
    "discharge_temp_c", "degC", "up", -40.0, 250.0, 120.0, 130.0, min_scale=1.0, above_ambient=True
)
OIL_T = MetricSpec(
    "oil_temp_c", "degC", "up", -40.0, 200.0, 105.0, 115.0, min_scale=1.0, above_ambient=True
)
AMBIENT_T = MetricSpec("ambient_temp_c", "degC", "both", -50.0, 70.0)
CURRENT = MetricSpec("current_a", "A", "both", 0.0, 5000.0)
PRESSURE = MetricSpec("pressure_bar", "bar", "both", -1.0, 400.0, min_scale=0.15)
DISCHARGE_P = MetricSpec("discharge_pressure_bar", "bar", "both", -1.0, 400.0, min_scale=0.15)
SUCTION_P = MetricSpec("suction_pressure_bar", "bar", "down", -1.0, 100.0, min_scale=0.15)
FLOW = MetricSpec("flow_m3_h", "m3/h", "down", 0.0, 50000.0)
SPEED = MetricSpec("speed_rpm", "rpm", "both", 0.0, 60000.0)
POWER = MetricSpec("power_kw", "kW", "both", 0.0, 50000.0)
PF = MetricSpec("power_factor", "1", "down", 0.0, 1.0)
SUPPLY_T = MetricSpec("supply_temp_c", "degC", "up", -40.0, 100.0, min_scale=0.1)
RETURN_T = MetricSpec("return_temp_c", "degC", "up", -40.0, 100.0, min_scale=0.1)
REFRIG_P = MetricSpec("refrigerant_pressure_bar", "bar", "down", 0.0, 60.0, min_scale=0.05)
TORQUE = MetricSpec("torque_nm", "N*m", "both", -50000.0, 50000.0)

#: Continuous-duty machines (pumps) have no start-up transients to mis-model, so
#: their bearing temperature can be judged on a finer scale.
BEARING_T_STEADY = dataclasses.replace(BEARING_T, min_scale=0.3)

_PUMP = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("imbalance", vibration_rms_mm_s="up"),
    _sig(
        "misalignment", vibration_rms_mm_s="up", bearing_temp_c="up", power_kw="up", current_a="up"
    ),
    _sig(
        "cavitation",
        vibration_rms_mm_s="up",
        flow_m3_h="down",
        suction_pressure_bar="down",
        power_kw="down",
        current_a="down",
    ),
    _sig(
        "clogged_filter",
        flow_m3_h="down",
        suction_pressure_bar="down",
        power_kw="down",
        current_a="down",
    ),
)
_MOTOR = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("imbalance", vibration_rms_mm_s="up"),
    _sig("misalignment", vibration_rms_mm_s="up", bearing_temp_c="up", current_a="up"),
    _sig("overheating", winding_temp_c="up", current_a="up"),
    _sig("cooling_loss", winding_temp_c="up", bearing_temp_c="up"),
    _sig("insulation_fault", power_factor="down", current_a="up"),
)
_COMPRESSOR = (
    _sig("bearing_wear", vibration_rms_mm_s="up"),
    _sig("lubrication_loss", oil_temp_c="up", discharge_temp_c="up", vibration_rms_mm_s="up"),
    _sig("overheating", discharge_temp_c="up"),
    _sig("cooling_loss", oil_temp_c="up", discharge_temp_c="up"),
    _sig("clogged_filter", discharge_pressure_bar="down", discharge_temp_c="up"),
)
_SPINDLE = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("imbalance", vibration_rms_mm_s="up"),
    _sig("lubrication_loss", bearing_temp_c="up", oil_temp_c="up"),
    _sig("overheating", bearing_temp_c="up", oil_temp_c="up", current_a="up"),
    _sig("cooling_loss", oil_temp_c="up"),
)
_CHILLER = (
    _sig("refrigerant_leak", refrigerant_pressure_bar="down", discharge_pressure_bar="down"),
    _sig("clogged_filter", flow_m3_h="down"),
    _sig("cooling_loss", discharge_pressure_bar="up", power_kw="up", supply_temp_c="up"),
    _sig("bearing_wear", vibration_rms_mm_s="up"),
)
_ROBOT = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("lubrication_loss", bearing_temp_c="up"),
    _sig("misalignment", vibration_rms_mm_s="up"),
    _sig("overheating", winding_temp_c="up"),
)

DEFAULT_PROFILES: dict[str, AssetProfile] = {
    "pump": AssetProfile(
        "pump",
        _specs(
            [
                VIB,
                BEARING_T_STEADY,
                WINDING_T,
                CURRENT,
                PRESSURE,
                DISCHARGE_P,
                SUCTION_P,
                FLOW,
                SPEED,
                POWER,
                PF,
                AMBIENT_T,
            ]
        ),
        _PUMP,
        condition_metrics=("speed_rpm",),
        running_metric="speed_rpm",
    ),
    "motor": AssetProfile(
        "motor",
        _specs([VIB, BEARING_T, WINDING_T, CURRENT, SPEED, POWER, PF, TORQUE, AMBIENT_T]),
        _MOTOR,
        condition_metrics=("speed_rpm", "power_kw"),
        running_metric="speed_rpm",
    ),
    "compressor": AssetProfile(
        "compressor",
        _specs(
            [
                VIB_LARGE,
                BEARING_T,
                DISCHARGE_T,
                OIL_T,
                CURRENT,
                DISCHARGE_P,
                SUCTION_P,
                SPEED,
                POWER,
                AMBIENT_T,
            ]
        ),
        _COMPRESSOR,
        condition_metrics=("power_kw",),
        running_metric="speed_rpm",
    ),
    "spindle": AssetProfile(
        "spindle",
        _specs([VIB, BEARING_T, WINDING_T, CURRENT, SPEED, POWER, TORQUE, OIL_T, AMBIENT_T]),
        _SPINDLE,
        condition_metrics=("speed_rpm", "torque_nm"),
        running_metric="speed_rpm",
    ),
    "chiller": AssetProfile(
        "chiller",
        _specs(
            [VIB, CURRENT, POWER, PF, SUPPLY_T, RETURN_T, REFRIG_P, DISCHARGE_P, FLOW, AMBIENT_T]
        ),
        _CHILLER,
        condition_metrics=("return_temp_c", "ambient_temp_c"),
        running_metric="current_a",
    ),
    "robot_joint": AssetProfile(
        "robot_joint",
        _specs([VIB, TORQUE, CURRENT, WINDING_T, BEARING_T, SPEED, AMBIENT_T]),
        _ROBOT,
        condition_metrics=("speed_rpm", "torque_nm"),
        running_metric="speed_rpm",
    ),
}

#: Used for unknown asset types and for benchmark data without a profile:
#: every metric two-sided, no limits, no condition model.
GENERIC_PROFILE = AssetProfile("generic", {}, (), (), ambient_metric=None)


def profile_for(
    asset_type: str, profiles: Mapping[str, AssetProfile] | None = None
) -> AssetProfile:
    """The profile of an asset type, falling back to the generic profile."""
    source = DEFAULT_PROFILES if profiles is None else profiles
    return source.get(asset_type, GENERIC_PROFILE)
