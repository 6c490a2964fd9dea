"""Settings for every Prognos process, from defaults, a TOML file and ``PROGNOS_*`` env vars.

Precedence, highest first: keyword arguments, environment variables
(``PROGNOS_MQTT__HOST=broker``; nested sections joined by ``__``), the TOML
file (``PROGNOS_CONFIG`` or ``./prognos.toml``), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from prognos.ingest.contract import TELEMETRY_FILTER

CONFIG_ENV = "PROGNOS_CONFIG"
DEFAULT_CONFIG_FILE = Path("prognos.toml")


class MqttSettings(BaseModel):
    """Broker connection of the ingester (and the default target of the simulators)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str = "prognos-ingest"
    #: One filter, or several separated by commas; ``$share/<group>/...`` scales out.
    topic_filter: str = TELEMETRY_FILTER
    qos: Literal[0, 1, 2] = 1
    version: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    tls_ca: Path | None = None
    dead_letter_topic: str | None = "prognos/deadletter"
    events_topic: str | None = "prognos/events/work-orders"


class InfluxSettings(BaseModel):
    """Time-series store. ``api=auto`` picks v2 writes where the server has them."""

    model_config = ConfigDict(extra="forbid")

    url: str = "http://127.0.0.1:8086"
    api: Literal["auto", "v1", "v2"] = "auto"
    #: v1 database (also the v2 bucket when ``bucket`` is unset).
    database: str = "prognos"
    bucket: str | None = None
    org: str | None = None
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None


class IngestSettings(BaseModel):
    """Batching, spooling and validation limits of the ingester."""

    model_config = ConfigDict(extra="forbid")

    batch_max_lines: int = Field(5000, ge=1)
    batch_max_delay_s: float = Field(0.2, gt=0)
    spool_max_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    max_future_skew_s: float = Field(300.0, ge=0)
    #: Device timestamps older than this are refused; accelerated simulations
    #: replay the past, so the default is generous (10 years).
    max_past_age_s: float = Field(10 * 365 * 86400.0, ge=0)
    #: Per-asset-type metric renames and unit conversions, e.g. in TOML
    #: ``[ingest.metric_map.pump] temp_f = {name = "bearing_temp_c", scale = 0.5556,
    #: offset = -17.78}``; ``"*"`` applies to every asset type.
    metric_map: dict[str, dict[str, str | dict[str, str | float]]] = Field(default_factory=dict)


class ApiSettings(BaseModel):
    """HTTP API and web page."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    #: Users as ``name:role:key,...``; keys are hashed on load and never logged.
    users: SecretStr | None = None
    #: Webhooks as ``https://host/path|secret,...``; each body is HMAC-SHA256 signed.
    webhooks: SecretStr | None = None


class Settings(BaseSettings):
    """Everything a Prognos process can be told."""

    model_config = SettingsConfigDict(
        env_prefix="PROGNOS_", env_nested_delimiter="__", extra="forbid"
    )

    #: Working directory for the SQLite database, spool, dead letters, checkpoints.
    data_dir: Path = Path("var")
    #: Service catalog YAML; unset means the default catalog shipped with Prognos.
    catalog: Path | None = None
    #: Device registry YAML (customers, sites, devices); the simulators' fleet file works.
    registry: Path | None = None
    #: SQLAlchemy URL of the work-order store; unset means SQLite in ``data_dir``.
    database_url: str | None = None
    #: Seconds between checkpoints of detector state.
    checkpoint_interval_s: float = Field(60.0, gt=0)
    #: Seconds between passes of the SLA monitor (at-risk, breached, escalation).
    sla_check_interval_s: float = Field(60.0, gt=0)
    log_level: str = "INFO"

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @property
    def resolved_database_url(self) -> str:
        """The work-order store URL, defaulting to SQLite under ``data_dir``."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'prognos.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add the TOML file below the environment."""
        toml_path = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if os.environ.get(CONFIG_ENV) and not toml_path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV}={toml_path} does not exist")
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment and a TOML file (``config_file`` beats PROGNOS_CONFIG)."""
    if config_file is not None:
        if not config_file.is_file():
            raise FileNotFoundError(f"settings file {config_file} does not exist")
        os.environ[CONFIG_ENV] = str(config_file)
    return Settings()
