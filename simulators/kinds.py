"""What can be simulated: asset types, their metrics, failure modes and sensor faults.

One table that the fleet loader validates against, the physics implements and
the README documents, so the three never disagree.
"""

from __future__ import annotations

from enum import StrEnum

#: Metrics each asset type publishes (units in the names).
METRICS_BY_ASSET: dict[str, tuple[str, ...]] = {
    "pump": (
        "vibration_rms_mm_s",
        "bearing_temp_c",
        "discharge_pressure_bar",
        "suction_pressure_bar",
        "flow_m3_h",
        "current_a",
        "speed_rpm",
        "power_kw",
        "ambient_temp_c",
    ),
    "motor": (
        "vibration_rms_mm_s",
        "bearing_temp_c",
        "winding_temp_c",
        "current_a",
        "speed_rpm",
        "power_kw",
        "power_factor",
        "ambient_temp_c",
    ),
    "compressor": (
        "vibration_rms_mm_s",
        "discharge_pressure_bar",
        "discharge_temp_c",
        "oil_temp_c",
        "current_a",
        "power_kw",
        "speed_rpm",
        "ambient_temp_c",
    ),
    "spindle": (
        "vibration_rms_mm_s",
        "bearing_temp_c",
        "oil_temp_c",
        "current_a",
        "speed_rpm",
        "power_kw",
        "torque_nm",
        "ambient_temp_c",
    ),
    "chiller": (
        "supply_temp_c",
        "return_temp_c",
        "refrigerant_pressure_bar",
        "discharge_pressure_bar",
        "flow_m3_h",
        "current_a",
        "power_kw",
        "vibration_rms_mm_s",
        "ambient_temp_c",
    ),
    "robot_joint": (
        "torque_nm",
        "current_a",
        "winding_temp_c",
        "bearing_temp_c",
        "vibration_rms_mm_s",
        "speed_rpm",
        "ambient_temp_c",
    ),
}

#: Equipment failure modes each asset type can develop (each has a physical story in physics).
MODES_BY_ASSET: dict[str, tuple[str, ...]] = {
    "pump": ("bearing_wear", "imbalance", "misalignment", "cavitation", "clogged_filter"),
    "motor": (
        "bearing_wear",
        "imbalance",
        "misalignment",
        "overheating",
        "cooling_loss",
        "insulation_fault",
    ),
    "compressor": (
        "bearing_wear",
        "overheating",
        "cooling_loss",
        "clogged_filter",
        "lubrication_loss",
    ),
    "spindle": ("bearing_wear", "imbalance", "lubrication_loss", "overheating", "cooling_loss"),
    "chiller": ("refrigerant_leak", "clogged_filter", "cooling_loss", "bearing_wear"),
    "robot_joint": ("lubrication_loss", "bearing_wear", "misalignment", "overheating"),
}

ASSET_TYPES: tuple[str, ...] = tuple(METRICS_BY_ASSET)


class Shape(StrEnum):
    """How a fault progresses from onset (severity 0) to failure (severity 1)."""

    LINEAR = "linear"
    EXPONENTIAL = "exponential"
    STEP = "step"


class SensorFaultKind(StrEnum):
    """Faults of the instrument, not of the equipment it measures."""

    STUCK = "stuck"
    DRIFT = "drift"
    SPIKES = "spikes"
    DROPOUT = "dropout"
    NOISE_BURST = "noise_burst"
    OUT_OF_RANGE = "out_of_range"
