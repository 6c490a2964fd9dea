"""The built-in asset profiles: what each asset type measures, its limits, how its faults look.

The types they are made of live in ``asset_model`` and are re-exported here,
so ``from prognos.detection.profiles import AssetProfile`` keeps working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from prognos.detection.asset_model import (
    MIN_PATTERN_MATCH,
    RELATIVE_METRICS,
    AssetProfile,
    Direction,
    FailureSignature,
    MetricSpec,
)

__all__ = [
    "DEFAULT_PROFILES",
    "GENERIC_PROFILE",
    "MIN_PATTERN_MATCH",
    "RELATIVE_METRICS",
    "AssetProfile",
    "Direction",
    "FailureSignature",
    "MetricSpec",
    "profile_for",
]


def _specs(items: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    return {m.name: m for m in items}


def _sig(mode: str, **moves: Direction) -> FailureSignature:
    return FailureSignature(mode, moves)


def _strong(
    signatures: tuple[FailureSignature, ...], **strengths: Mapping[str, float]
) -> tuple[FailureSignature, ...]:
    """The signatures with how strongly each mode moves each metric (see ``FailureSignature``).

    Worn bearings make vibration impulsive, cavitation makes the discharge
    pressure pulsate and failing insulation makes the current flicker: those
    readings turn erratic with the fault, not with their instrument.
    """
    erratic = {
        "bearing_wear": frozenset({"vibration_rms_mm_s"}),
        "cavitation": frozenset({"discharge_pressure_bar"}),
        "insulation_fault": frozenset({"current_a"}),
    }
    return tuple(
        dataclasses.replace(
            sig,
            strengths=strengths[sig.failure_mode],
            erratic=erratic.get(sig.failure_mode, frozenset()),
        )
        for sig in signatures
    )


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
#: Every chiller fault (refrigerant leak, fouled condenser, clogged strainer) costs
#: power for the same cooling load; less power for the load is no fault of the machine.
CHILLER_POWER = dataclasses.replace(POWER, direction="up")

_PUMP: tuple[FailureSignature, ...] = (
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
_MOTOR: tuple[FailureSignature, ...] = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("imbalance", vibration_rms_mm_s="up"),
    _sig("misalignment", vibration_rms_mm_s="up", bearing_temp_c="up", current_a="up"),
    _sig("overheating", winding_temp_c="up", current_a="up"),
    _sig("cooling_loss", winding_temp_c="up", bearing_temp_c="up"),
    _sig("insulation_fault", power_factor="down", current_a="up"),
)
_COMPRESSOR: tuple[FailureSignature, ...] = (
    _sig("bearing_wear", vibration_rms_mm_s="up"),
    _sig("lubrication_loss", oil_temp_c="up", discharge_temp_c="up", vibration_rms_mm_s="up"),
    # The hot discharge air heats the oil too: a discharge thermometer rising alone
    # is more likely drifting than the compressor overheating.
    _sig("overheating", discharge_temp_c="up", oil_temp_c="up"),
    _sig("cooling_loss", oil_temp_c="up", discharge_temp_c="up"),
    _sig("clogged_filter", discharge_pressure_bar="down", discharge_temp_c="up"),
)
_SPINDLE: tuple[FailureSignature, ...] = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    _sig("imbalance", vibration_rms_mm_s="up"),
    _sig("lubrication_loss", bearing_temp_c="up", oil_temp_c="up"),
    _sig("overheating", bearing_temp_c="up", oil_temp_c="up", current_a="up"),
    # Also heats the bearings, but their job-to-job swings hide it at first: the oil
    # thermometer leads alone.
    _sig("cooling_loss", oil_temp_c="up"),
)
_CHILLER: tuple[FailureSignature, ...] = (
    _sig("refrigerant_leak", refrigerant_pressure_bar="down", discharge_pressure_bar="down"),
    _sig("clogged_filter", flow_m3_h="down"),
    _sig("cooling_loss", discharge_pressure_bar="up", power_kw="up", supply_temp_c="up"),
    _sig("bearing_wear", vibration_rms_mm_s="up"),
)
_ROBOT: tuple[FailureSignature, ...] = (
    _sig("bearing_wear", vibration_rms_mm_s="up", bearing_temp_c="up"),
    # Dry gears and bearings run hot and rough.
    _sig("lubrication_loss", bearing_temp_c="up", vibration_rms_mm_s="up"),
    _sig("misalignment", vibration_rms_mm_s="up"),
    _sig("overheating", winding_temp_c="up"),
)

# How strongly each mode moves each metric once fully developed (signed; relative
# for power, current, flow and torque), as far as the condition models leave it
# visible: a motor's extra load from misalignment shows in its power, which is the
# load it is judged at, so only what load does not explain is listed.
V, BT, WT = "vibration_rms_mm_s", "bearing_temp_c", "winding_temp_c"
_PUMP = _strong(
    _PUMP,
    # Worn bearings: friction heat and impulsive vibration, a little more power.
    bearing_wear={V: 10.0, BT: 28.0, "power_kw": 0.03, "current_a": 0.02},
    # Imbalance: a once-per-revolution force, vibration first, little heat.
    imbalance={V: 4.5, BT: 5.0},
    # Misalignment: reaction forces load the bearings and cost power.
    misalignment={V: 5.0, BT: 10.0, "power_kw": 0.05, "current_a": 0.03},
    cavitation={
        V: 2.5,
        "flow_m3_h": -0.25,
        "suction_pressure_bar": -0.6,
        "discharge_pressure_bar": -0.9,
        "power_kw": -0.2,
        "current_a": -0.13,
    },
    clogged_filter={
        "flow_m3_h": -0.4,
        "suction_pressure_bar": -0.9,
        "discharge_pressure_bar": -1.4,
        "power_kw": -0.25,
        "current_a": -0.16,
    },
)
_MOTOR = _strong(
    _MOTOR,
    bearing_wear={V: 10.0, BT: 28.0},
    imbalance={V: 6.0, BT: 4.0},
    misalignment={V: 5.0, BT: 6.0},
    # Overload heats the winding and lowers the power factor.
    overheating={WT: 55.0, BT: 5.0, "power_factor": -0.03, "current_a": 0.04},
    # A blocked fan: everything runs hotter at the same load, the winding most.
    cooling_loss={WT: 70.0, BT: 8.0},
    # Leakage current: power factor down, current up, some heat.
    insulation_fault={"power_factor": -0.12, "current_a": 0.2, WT: 15.0},
)
_COMPRESSOR = _strong(
    _COMPRESSOR,
    bearing_wear={V: 9.5},
    # Thin oil: hotter oil and air, and the screws rub.
    lubrication_loss={"oil_temp_c": 25.0, "discharge_temp_c": 25.0, V: 3.0},
    # Hot air at the discharge first, the oil after it.
    overheating={"oil_temp_c": 15.0, "discharge_temp_c": 45.0},
    # A fouled cooler: oil and air both run hotter.
    cooling_loss={"oil_temp_c": 28.0, "discharge_temp_c": 28.0},
    clogged_filter={"discharge_pressure_bar": -0.5, "discharge_temp_c": 10.0},
)
_SPINDLE = _strong(
    _SPINDLE,
    bearing_wear={V: 8.5, BT: 25.0},
    imbalance={V: 2.6},
    lubrication_loss={BT: 25.0, "oil_temp_c": 8.0, V: 2.0},
    overheating={BT: 25.0, "oil_temp_c": 20.0},
    cooling_loss={BT: 25.0, "oil_temp_c": 25.0},
)
_CHILLER = _strong(
    _CHILLER,
    # Less refrigerant: low evaporator and condenser pressure, more work per kW of cold.
    refrigerant_leak={
        "refrigerant_pressure_bar": -1.4,
        "discharge_pressure_bar": -2.0,
        "power_kw": 0.25,
        "supply_temp_c": 1.0,
    },
    clogged_filter={"flow_m3_h": -0.35, "power_kw": 0.1},
    # A fouled condenser: high head pressure and power.
    cooling_loss={"discharge_pressure_bar": 4.0, "power_kw": 0.3, "supply_temp_c": 0.5},
    bearing_wear={V: 8.5},
)
_ROBOT = _strong(
    _ROBOT,
    bearing_wear={V: 6.7, BT: 20.0},
    lubrication_loss={BT: 20.0, V: 2.0},
    misalignment={V: 3.0},
    overheating={WT: 45.0},
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
            [
                VIB,
                CURRENT,
                CHILLER_POWER,
                PF,
                SUPPLY_T,
                RETURN_T,
                REFRIG_P,
                DISCHARGE_P,
                FLOW,
                AMBIENT_T,
            ]
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
