"""Settings: defaults, a TOML file, and PROGNOS_* env vars above it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from prognos.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PROGNOS_CONFIG", "PROGNOS_MQTT__HOST", "PROGNOS_MQTT__PORT", "PROGNOS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_env_overrides_toml_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('data_dir = "/srv/prognos"\n[mqtt]\nhost = "broker.plant"\nport = 1884\n')
    monkeypatch.setenv("PROGNOS_MQTT__PORT", "8883")
    settings = load_settings(config)
    assert settings.data_dir == Path("/srv/prognos")
    assert settings.mqtt.host == "broker.plant"
    assert settings.mqtt.port == 8883
    assert settings.influx.api == "auto"
    assert settings.resolved_database_url == "sqlite:////srv/prognos/prognos.db"


def test_prognos_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "prognos.toml").write_text('[influx]\nurl = "http://tsdb:8086"\n')
    assert load_settings().influx.url == "http://tsdb:8086"


def test_unknown_key_is_refused_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[mqtt]\nhots = 'typo'\n")
    with pytest.raises(ValidationError, match="hots"):
        load_settings(config)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGNOS_INFLUX__TOKEN", "super-secret-token")
    settings = load_settings()
    assert settings.influx.token is not None
    assert settings.influx.token.get_secret_value() == "super-secret-token"
    assert "super-secret-token" not in repr(settings)
