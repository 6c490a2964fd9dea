"""`prognos serve` as an operator runs it: configured by env vars, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from prognos.localservers import free_port


def test_serve_answers_health_and_stops_cleanly_on_sigterm(
    tmp_path: Path, mosquitto, influx_db, unique_id: str
) -> None:
    port = free_port()
    env = dict(
        os.environ,
        PROGNOS_DATA_DIR=str(tmp_path / "data"),
        PROGNOS_MQTT__HOST=mosquitto.host,
        PROGNOS_MQTT__PORT=str(mosquitto.port),
        PROGNOS_MQTT__CLIENT_ID=f"serve-{unique_id}",
        PROGNOS_MQTT__TOPIC_FILTER=f"prognos/{unique_id}/+/+/telemetry",
        PROGNOS_INFLUX__URL=influx_db.url,
        PROGNOS_INFLUX__DATABASE=influx_db.name,
        PROGNOS_API__PORT=str(port),
        PROGNOS_API__USERS="ops:admin:" + "s3cret-admin-key-0123",
    )
    env.pop("PROGNOS_CONFIG", None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prognos", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "ok", body

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    # A clean stop checkpoints detector state for the next start.
    assert (tmp_path / "data" / "detector-state.json").is_file()
    assert "secret" not in (tmp_path / "serve.log").read_text().lower().replace("s3cret", "")


@pytest.mark.parametrize("bad", ["PROGNOS_MQTT__PORT=notaport", "PROGNOS_INFLUX__API=v9"])
def test_serve_refuses_bad_settings_with_a_message(tmp_path: Path, bad: str) -> None:
    name, value = bad.split("=", 1)
    env = dict(os.environ, **{name: value}, PROGNOS_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "prognos", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert name.split("__")[-1].lower() in (result.stderr + result.stdout).lower()
    assert "Traceback" not in result.stderr
