"""Fleet files and quick fleets: round trips, registry keys, errors that point at the line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from prognos.simulators.clock import parse_duration_s, parse_when
from prognos.simulators.errors import FleetError, ScheduleError
from prognos.simulators.fleet import load_fleet, parse_mix, quick_fleet, write_fleet
from prognos.simulators.kinds import MODES_BY_ASSET

FLEET = """\
customers:
  - {id: acme, name: ACME Water, tier: vip}
  - {id: bolt, name: Bolt Foods}
sites:
  - {id: north, name: North Plant, customer: acme}
  - {id: south, name: South Plant, customer: bolt}
devices:
  - {id: pump-1, asset_type: pump, site: north, model: CP-150, serial: SN1}
  - {id: motor-1, asset_type: motor, site: south}
faults:
  - {device: pump-1, mode: bearing_wear, onset: 2d, failure: 2026-01-12T00:00:00Z,
     shape: exponential}
sensor_faults:
  - {device: motor-1, metric: winding_temp_c, kind: stuck, start: 1d, end: 36h}
engineers:
  - {name: Ada, level: senior}
"""


def test_fleet_file_loads_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    fleet = load_fleet(path)
    assert [d.id for d in fleet.devices] == ["pump-1", "motor-1"]
    assert fleet.customer_of(fleet.devices[0]).tier == "vip"
    assert fleet.customer_of(fleet.devices[1]).tier == "standard"
    assert fleet.faults[0].onset == timedelta(days=2)
    assert fleet.sensor_faults[0].end == timedelta(hours=36)
    copy = tmp_path / "copy.yaml"
    write_fleet(fleet, copy)
    assert load_fleet(copy) == fleet


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("asset_type: motor", "asset_type: toaster", 9, "asset_type"),
        ("site: south}", "site: west}", 9, "unknown site 'west'"),
        ("mode: bearing_wear", "mode: refrigerant_leak", 11, "mode"),
        ("failure: 2026-01-12T00:00:00Z", "failure: 1d", 11, "after onset"),
        ("onset: 2d", "onset: soon", 11, "onset"),
        ("kind: stuck", "kind: melted", 14, "kind"),
        ("customer: bolt}", "customer: nobody}", 6, "unknown customer"),
        (
            "{id: motor-1, asset_type: motor, site: south}",
            "{id: pump-1, asset_type: motor, site: south}",
            9,
            "defined twice",
        ),
        ("tier: vip", "tier: gold", 2, "tier"),
        ("- {id: motor-1, asset_type: motor, site: south}", "- [motor-1]", 9, "mapping"),
        ("customers:", "customers: [", 1, "YAML"),
    ],
)
def test_fleet_errors_name_file_line_and_field(tmp_path, old, new, line, words) -> None:
    path = tmp_path / "bad.yaml"
    assert old in FLEET
    path.write_text(FLEET.replace(old, new, 1))
    with pytest.raises(FleetError) as info:
        load_fleet(path)
    message = str(info.value)
    assert message.startswith(f"{path}:")
    assert words in message
    if words != "YAML":
        assert f"{path}:{line}:" in message


def test_missing_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="cannot read"):
        load_fleet(tmp_path / "absent.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(FleetError, match="empty"):
        load_fleet(tmp_path / "empty.yaml")
    (tmp_path / "nodevices.yaml").write_text("customers: []\nsites: []\n")
    with pytest.raises(FleetError, match="devices: missing"):
        load_fleet(tmp_path / "nodevices.yaml")


def test_quick_fleet_honours_mix_faults_and_warm_up(start) -> None:
    duration = 30 * 86400.0
    fleet = quick_fleet(50, parse_mix("pump=0.4,motor=0.6"), 0.2, 9, start, duration)
    kinds = [d.asset_type for d in fleet.devices]
    assert (kinds.count("pump"), kinds.count("motor")) == (20, 30)
    assert len({d.id for d in fleet.devices}) == 50
    assert len(fleet.faults) == 10
    for fault in fleet.faults:
        device = next(d for d in fleet.devices if d.id == fault.device)
        assert fault.mode in MODES_BY_ASSET[device.asset_type]
        onset_s = (fault.onset - start).total_seconds()
        assert onset_s >= 0.2 * duration
        assert onset_s < (fault.failure - start).total_seconds() <= duration
    assert {s.customer for s in fleet.sites} <= {c.id for c in fleet.customers}
    assert quick_fleet(50, {"pump": 2, "motor": 3}, 0.2, 9, start, duration) == fleet


def test_quick_fleet_rejects_nonsense(start) -> None:
    with pytest.raises(FleetError, match="devices"):
        quick_fleet(0, {"pump": 1.0}, 0.1, 1, start, 86400)
    with pytest.raises(FleetError, match="fault fraction"):
        quick_fleet(3, {"pump": 1.0}, 1.5, 1, start, 86400)
    with pytest.raises(FleetError, match="unknown asset type 'toaster'"):
        parse_mix("pump=0.5,toaster=0.5")
    with pytest.raises(FleetError, match="not a number"):
        parse_mix("pump=lots")


def test_durations_and_offsets() -> None:
    assert parse_duration_s("60d") == 60 * 86400
    assert parse_duration_s("1h30m") == 5400
    assert parse_duration_s("90") == 90
    assert parse_when("36h") == timedelta(hours=36)
    assert parse_when("2026-01-12T00:00:00Z").isoformat() == "2026-01-12T00:00:00+00:00"
    for bad in ("", "ten days", "5x", "-3s"):
        with pytest.raises(ScheduleError):
            parse_duration_s(bad)


def test_the_example_fleet_file_in_the_readme_is_valid() -> None:
    path = Path(__file__).parents[2] / "simulators" / "fleet.example.yaml"
    fleet = load_fleet(path)
    assert {d.asset_type for d in fleet.devices} == set(MODES_BY_ASSET)
    assert [(f.device, f.mode) for f in fleet.faults] == [
        ("pump-01", "bearing_wear"),
        ("chiller-01", "refrigerant_leak"),
    ]
    assert fleet.sensor_faults[0].end == timedelta(days=4, hours=12)
