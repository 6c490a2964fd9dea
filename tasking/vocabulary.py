"""The small closed vocabularies shared by the catalog, the registry and work orders.

Kept in one module so the catalog (which names roles and levels) and the
domain (which enforces them) agree without importing each other.
"""

from __future__ import annotations

from enum import StrEnum

from prognos.detection.flags import Severity


class Tier(StrEnum):
    """Customer tier; SLA clocks differ per tier."""

    VIP = "vip"
    STANDARD = "standard"


class Priority(StrEnum):
    """Work-order priority, P1 most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 ... 4 for P4 (lower is more urgent)."""
        return int(self.value[1])


class Level(StrEnum):
    """Engineer qualification level."""

    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    SENIOR = "senior"

    @property
    def rank(self) -> int:
        return {"junior": 1, "intermediate": 2, "senior": 3}[self.value]


class Role(StrEnum):
    """Who is acting on a work order; the role matrix lives in ``domain``."""

    PLANNER = "planner"
    JUNIOR_ENGINEER = "junior_engineer"
    INTERMEDIATE_ENGINEER = "intermediate_engineer"
    SENIOR_ENGINEER = "senior_engineer"
    PROJECT_MANAGER = "project_manager"
    ADMIN = "admin"


class Category(StrEnum):
    """Service categories: the article's service scenarios plus instrument work."""

    PRESALES_CONSULTING = "presales_consulting"
    INSTALLATION = "installation"
    PERIODIC_INSPECTION = "periodic_inspection"
    PREVENTIVE_MAINTENANCE = "preventive_maintenance"
    PREDICTIVE_MAINTENANCE = "predictive_maintenance"
    EMERGENCY_REPAIR = "emergency_repair"
    REMOTE_DIAGNOSIS = "remote_diagnosis"
    UPGRADE_CONFIG_CHANGE = "upgrade_config_change"
    TRAINING = "training"
    DOCUMENTATION = "documentation"
    INSTRUMENT_MAINTENANCE = "instrument_maintenance"


class EntryKind(StrEnum):
    """What an entry serves: equipment flags, sensor-fault flags, or booked services only."""

    EQUIPMENT = "equipment"
    SENSOR = "sensor"
    SERVICE = "service"


SEVERITY_RANK: dict[Severity, int] = {
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}

ASSET_TYPES = frozenset({"pump", "motor", "compressor", "spindle", "chiller", "robot_joint"})
EQUIPMENT_FAILURE_MODES = frozenset(
    {
        "bearing_wear",
        "imbalance",
        "misalignment",
        "overheating",
        "cooling_loss",
        "cavitation",
        "clogged_filter",
        "refrigerant_leak",
        "insulation_fault",
        "lubrication_loss",
        "unknown",
    }
)
SENSOR_FAILURE_MODES = frozenset(
    {"stuck", "drift", "spikes", "dropout", "noise_burst", "out_of_range", "unknown"}
)
KNOWLEDGE_KINDS = frozenset(
    {
        "sop",
        "fault_code_table",
        "command_handbook",
        "remote_access_guide",
        "script_template",
        "faq",
        "manual",
        "drawing",
    }
)
