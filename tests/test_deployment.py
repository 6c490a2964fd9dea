"""What operators deploy: the compose file is valid and the broker config keeps every message."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from prognos.localservers import MOSQUITTO_NO_DROP_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed; `make test` installs it")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


def test_compose_file_is_valid() -> None:
    env = dict(os.environ, INFLUX_TOKEN="t" * 32, PROGNOS_API_USERS="alice:planner:" + "k" * 20)
    result = subprocess.run(
        [_compose(), "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_secrets() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("INFLUX_TOKEN", "PROGNOS_API_USERS")}
    result = subprocess.run(
        [_compose(), "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "INFLUX_TOKEN" in result.stderr


def test_shipped_broker_config_has_the_no_drop_settings() -> None:
    shipped = {
        line.split()[0]: line.split()[1]
        for line in (ROOT / "deploy" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for line in MOSQUITTO_NO_DROP_SETTINGS.splitlines():
        key, value = line.split()
        assert shipped.get(key) == value, f"deploy/mosquitto.conf: {key} should be {value}"
