"""Default catalog: expresses the seed, maps every flag kind; bad files name line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tasking_testkit import make_flag

from prognos.detection.flags import FlagKind, Severity
from prognos.tasking.catalog import Catalog, load_catalog
from prognos.tasking.catalog_yaml import parse_catalog
from prognos.tasking.errors import CatalogError
from prognos.tasking.vocabulary import Category, EntryKind, Priority, Tier

ASSET_TYPES = ["pump", "motor", "compressor", "spindle", "chiller", "robot_joint"]
EQUIPMENT_MODES = [
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
]
SENSOR_MODES = ["stuck", "drift", "spikes", "dropout", "noise_burst", "out_of_range"]


def test_default_catalog_loads_with_version(catalog: Catalog) -> None:
    assert catalog.version
    assert catalog.fallbacks["equipment"] in catalog.entries
    assert catalog.fallbacks["sensor"] in catalog.entries


@pytest.mark.parametrize("asset_type", ASSET_TYPES)
@pytest.mark.parametrize("mode", EQUIPMENT_MODES)
def test_every_equipment_flag_gets_an_equipment_entry(
    catalog: Catalog, asset_type: str, mode: str
) -> None:
    match = catalog.match(make_flag(asset_type=asset_type, failure_mode=mode))
    assert match.entry.kind == EntryKind.EQUIPMENT
    assert match.entry.category != Category.INSTRUMENT_MAINTENANCE
    assert match.rule_id and match.reason
    if mode == "unknown":
        assert match.entry.id == "routine-inspection"
        assert match.entry.category == Category.PERIODIC_INSPECTION
    elif match.entry.applies_to(asset_type, mode) and "*" not in match.entry.failure_modes:
        assert mode in match.entry.failure_modes


def test_each_listed_failure_mode_has_its_own_entry(catalog: Catalog) -> None:
    expected = {
        ("pump", "bearing_wear"): "pdm-bearing-wear",
        ("motor", "imbalance"): "pdm-imbalance",
        ("pump", "misalignment"): "pdm-misalignment",
        ("spindle", "overheating"): "pdm-overheating",
        ("robot_joint", "cooling_loss"): "pdm-cooling-loss",
        ("pump", "cavitation"): "pdm-cavitation",
        ("compressor", "clogged_filter"): "pdm-clogged-filter",
        ("chiller", "refrigerant_leak"): "pdm-refrigerant-leak",
        ("motor", "insulation_fault"): "pdm-insulation-fault",
        ("spindle", "lubrication_loss"): "pdm-lubrication-loss",
        ("chiller", "unknown"): "routine-inspection",
        # cavitation is a pump phenomenon; on a motor it falls back to inspection
        ("motor", "cavitation"): "routine-inspection",
    }
    for (asset_type, mode), entry_id in expected.items():
        match = catalog.match(make_flag(asset_type=asset_type, failure_mode=mode))
        assert match.entry.id == entry_id, (asset_type, mode, match.reason)
    fallback = catalog.match(make_flag(asset_type="motor", failure_mode="cavitation"))
    assert fallback.rule_id == "fallback:equipment"


@pytest.mark.parametrize("mode", [*SENSOR_MODES, "unknown"])
def test_sensor_flags_map_to_instrument_maintenance(catalog: Catalog, mode: str) -> None:
    flag = make_flag(
        kind=FlagKind.SENSOR, failure_mode=mode, severity=Severity.CRITICAL, ttf=timedelta(hours=1)
    )
    match = catalog.match(flag)
    assert match.entry.category == Category.INSTRUMENT_MAINTENANCE
    assert match.entry.kind == EntryKind.SENSOR
    expected = {
        "stuck": "im-sensor-replacement",
        "out_of_range": "im-sensor-replacement",
        "drift": "im-sensor-calibration",
        "spikes": "im-signal-integrity",
        "noise_burst": "im-signal-integrity",
        "dropout": "im-connectivity",
        "unknown": "im-sensor-check",
    }
    assert match.entry.id == expected[mode]


def test_critical_and_imminent_equipment_fault_is_an_emergency(catalog: Catalog) -> None:
    imminent = make_flag(severity=Severity.CRITICAL, ttf=timedelta(hours=6))
    assert catalog.match(imminent).entry.id == "emergency-repair"
    assert catalog.match(imminent).rule_id == "emergency-imminent"
    far = make_flag(severity=Severity.CRITICAL, ttf=timedelta(days=3))
    assert catalog.match(far).entry.id == "pdm-bearing-wear"
    no_prediction = make_flag(severity=Severity.CRITICAL)
    assert catalog.match(no_prediction).entry.id == "pdm-bearing-wear"


# -- the seed's requirements, one by one ------------------------------------


def test_seed_service_scenarios_are_all_categories_of_the_default_catalog(catalog: Catalog) -> None:
    used = {e.category for e in catalog.entries.values()}
    scenarios = {
        Category.PRESALES_CONSULTING,
        Category.INSTALLATION,
        Category.PERIODIC_INSPECTION,
        Category.PREVENTIVE_MAINTENANCE,
        Category.EMERGENCY_REPAIR,
        Category.REMOTE_DIAGNOSIS,
        Category.UPGRADE_CONFIG_CHANGE,
        Category.TRAINING,
    }
    assert scenarios <= used


def test_seed_worked_example_emergency_repair_responds_within_4_hours(catalog: Catalog) -> None:
    entry = catalog.entry("emergency-repair")
    assert entry.category == Category.EMERGENCY_REPAIR
    for tier in Tier:
        for prio in Priority:
            assert entry.sla_for(tier, prio).onsite <= timedelta(hours=4)


def test_seed_worked_example_inspection_completes_within_7_days(catalog: Catalog) -> None:
    entry = catalog.entry("routine-inspection")
    assert entry.category == Category.PERIODIC_INSPECTION
    for tier in Tier:
        for prio in Priority:
            assert entry.sla_for(tier, prio).resolution <= timedelta(days=7)


def test_seed_worked_example_upgrade_is_scheduled_and_training_booked(catalog: Catalog) -> None:
    upgrade = catalog.entry("software-upgrade")
    assert upgrade.category == Category.UPGRADE_CONFIG_CHANGE
    assert upgrade.scheduling.mode == "scheduled"
    training = catalog.entry("customer-training")
    assert training.category == Category.TRAINING
    assert training.scheduling.mode == "booked"
    assert training.scheduling.lead_time is not None and training.scheduling.lead_time > timedelta(
        0
    )


def test_seed_vip_tier_is_never_slower_than_standard(catalog: Catalog) -> None:
    faster_somewhere = 0
    for entry in catalog.entries.values():
        for prio in Priority:
            vip, std = entry.sla_for(Tier.VIP, prio), entry.sla_for(Tier.STANDARD, prio)
            assert vip.first_response <= std.first_response, entry.id
            assert vip.onsite <= std.onsite, entry.id
            assert vip.resolution <= std.resolution, entry.id
            faster_somewhere += vip != std
    assert faster_somewhere > 0


def test_seed_sla_targets_first_response_resolution_rate_satisfaction(catalog: Catalog) -> None:
    targets = {(k.name, k.op, k.target) for k in catalog.entry("pdm-bearing-wear").kpis}
    assert ("first_response", "<=", 15 * 60) in targets
    assert ("resolution_rate", ">=", 0.95) in targets
    assert ("satisfaction", ">=", 4.5) in targets


def test_seed_qualification_sop_and_knowledge_are_on_the_entry(catalog: Catalog) -> None:
    kinds = {link.kind for e in catalog.entries.values() for link in e.knowledge}
    assert {
        "sop",
        "fault_code_table",
        "command_handbook",
        "remote_access_guide",
        "script_template",
        "faq",
    } <= kinds
    for entry in catalog.entries.values():
        assert entry.sop, entry.id
        assert entry.level is not None
    assert {e.level.value for e in catalog.entries.values()} == {"junior", "intermediate", "senior"}


def test_seed_workflow_time_nodes_and_escalation_loop(catalog: Catalog) -> None:
    entry = catalog.entry("emergency-repair")
    assert entry.workflow.dispatch.value == "planner"
    assert entry.workflow.verify.value == "senior_engineer"
    assert entry.workflow.review.value == "project_manager"
    steps = [(s.role, s.action) for s in entry.escalation]
    assert steps[0][0] == "on_duty_engineer"
    assert "standby" in steps[1][1]
    assert steps[2][0] == "project_manager"
    assert [s.after for s in entry.escalation] == sorted(s.after for s in entry.escalation)


# -- validation errors name file, line and field ------------------------------

BROKEN = """\
version: "t1"
priority:
  by_severity: {critical: P1, high: P2, medium: P3, low: P9}
  by_time_to_failure: []
  safety_margin: 4 hours
sla_profiles:
  p:
    vip:
      P1: {first_response: 15m, onsite: 1h, resolution: 2h}
fallbacks: {equipment: nope, sensor: s1}
entries:
  - id: e1
    name: Thing
    category: emergency_repair
    kind: equipment
    asset_types: [pump, toaster]
    failure_modes: [bearing_wear]
    sla: missing-profile
    level: wizard
  - id: s1
    name: Sensor
    category: instrument_maintenance
    kind: sensor
    asset_types: ["*"]
    failure_modes: [drift]
    sla: p
    level: junior
    colour: blue
"""


def test_broken_catalog_lists_every_problem_with_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    found = {(i.line, i.field) for i in info.value.errors}
    assert (3, "priority.by_severity.low") in found
    assert (5, "priority.safety_margin") in found
    assert (8, "sla_profiles.p.standard") in found
    assert (16, "entries[e1].asset_types[1]") in found
    assert (18, "entries[e1].sla") in found
    assert (19, "entries[e1].level") in found
    assert (28, "entries[s1].colour") in found
    assert (10, "fallbacks.equipment") in found
    # s1 is invalid (unknown field); that is reported once, not again where it is used
    assert (10, "fallbacks.sensor") not in found
    assert [i.line for i in info.value.errors] == sorted(i.line for i in info.value.errors)
    text = str(info.value)
    assert f"{path}:19: entries[e1].level: 'wizard' is not one of" in text
    for issue in info.value.errors:
        assert issue.file == str(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("version: 1\nentries:\n  - id: [unclosed\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert info.value.errors[0].field == "(syntax)"
    assert info.value.errors[0].line >= 3


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(tmp_path / "absent.yaml")


def test_sla_clocks_must_be_ordered_and_unknown_rule_entry_reported() -> None:
    text = (Path(__file__).parents[2] / "tasking" / "data" / "catalog.yaml").read_text()
    text = text.replace(
        "P1: {first_response: 15m, onsite: 4h, resolution: 12h}",
        "P1: {first_response: 15m, onsite: 4h, resolution: 2h}",
        1,
    )
    text = text.replace("entry: emergency-repair", "entry: no-such-entry")
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "cat.yaml")
    fields = [i.field for i in info.value.errors]
    assert "sla_profiles.predictive.vip.P1" in fields
    assert "rules[0].entry" in fields
