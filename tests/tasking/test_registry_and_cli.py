"""The device registry file and the ``prognos catalog check`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prognos.commands import catalog as catalog_commands
from prognos.tasking.errors import RegistryError
from prognos.tasking.registry import Registry, load_registry, parse_registry
from prognos.tasking.vocabulary import Level, Tier


def test_registry_gives_customer_and_tier_and_ignores_unknown_keys(registry: Registry) -> None:
    info = registry.device("pump-01")
    assert (info.asset_type, info.site, info.customer, info.tier, info.model) == (
        "pump",
        "plant-a",
        "acme",
        Tier.VIP,
        "KSB-100",
    )
    assert registry.device("pump-02").tier == Tier.STANDARD
    assert registry.engineer("jun") is not None and registry.engineer("jun").level == Level.JUNIOR  # type: ignore[union-attr]


def test_unknown_device_defaults_to_standard_unknown(registry: Registry) -> None:
    info = registry.device("ghost", asset_type="motor", site="elsewhere")
    assert (info.customer, info.tier, info.asset_type, info.known) == (
        "unknown",
        Tier.STANDARD,
        "motor",
        False,
    )
    # an unknown device on a known site inherits that site's customer and tier
    assert registry.device("ghost", site="plant-a").tier == Tier.VIP


def test_registry_errors_name_line_and_field() -> None:
    text = """\
customers:
  - {id: acme, tier: gold}
sites:
  - {id: s1, customer: acme}
  - {id: s2, customer: nobody}
devices:
  - {id: d1, asset_type: pump, site: s1}
  - {id: d1, asset_type: pump, site: s1}
  - {id: d2, site: s9}
"""
    with pytest.raises(RegistryError) as info:
        parse_registry(text, "fleet.yaml")
    found = {(i.line, i.field) for i in info.value.errors}
    assert (2, "customers[0].tier") in found
    assert (5, "sites[1].customer") in found
    assert (8, "devices[1].id") in found
    assert (9, "devices[2].asset_type") in found
    assert (9, "devices[2].site") in found
    assert "fleet.yaml:2: customers[0].tier: 'gold' is not one of standard, vip" in str(info.value)


def test_load_registry_none_is_empty_and_missing_file_is_an_error(tmp_path: Path) -> None:
    assert load_registry(None).devices == {}
    with pytest.raises(RegistryError, match="cannot be read"):
        load_registry(tmp_path / "nope.yaml")


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test root."""

    catalog_commands.register(app)
    return app


def test_catalog_check_default_is_valid(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["catalog", "check"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "2026.11.1" in result.stdout
    assert "emergency_repair: 1" in result.stdout


def test_catalog_check_reports_file_line_field(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    default = Path(__file__).parents[2] / "tasking" / "data" / "catalog.yaml"
    lines = default.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "level: intermediate")
    lines[index] = lines[index].replace("intermediate", "guru")
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["catalog", "check", str(path)])
    assert result.exit_code == 1
    assert (
        f"{path}:{index + 1}: entries[pdm-bearing-wear].level: 'guru' is not one of"
        in result.stderr
    )
    assert "1 problem" in result.stderr


def test_catalog_check_missing_file(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["catalog", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot be read" in result.stderr
