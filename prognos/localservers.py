"""Local Mosquitto and InfluxDB child processes for `prognos demo` and the test harness.

Each server runs on free loopback ports with its data in a directory of the
caller's, is waited on (bounded) until it answers, and is stopped by its PID.
The broker gets the no-drop queue settings Prognos ships for operators.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

#: Debian package that provides each server binary.
OS_PACKAGES = {"mosquitto": "mosquitto", "influxd": "influxdb"}

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

#: Mosquitto settings that keep a lagging QoS-1 subscriber from losing messages:
#: no per-client message-count limit, a large byte limit, persistence on.
MOSQUITTO_NO_DROP_SETTINGS = """\
max_queued_messages 0
max_queued_bytes 1073741824
max_inflight_messages 0
persistence true
allow_anonymous true
"""


def find_binary(name: str) -> str | None:
    """The path of a server binary (also looked up in the sbin folders), or None."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Callable[[], bool], timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not answer within {timeout_s} s; log tail:\n{tail}")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class _ServerProcess:
    """A server child process with start/stop/kill/restart by PID."""

    name = "server"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir.resolve()
        self.log_path = self.workdir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # Subclasses say how to launch and how to tell the server answers.
    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                self._argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            log.close()

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._proc.returncode}; log tail:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            return self._answers()

        _wait_until(ready, START_TIMEOUT_S, self.name, self.log_path)

    def _signal_and_wait(self, sig: int) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT_S)
        self._proc = None

    def stop(self) -> None:
        """Graceful stop (SIGTERM; SIGKILL if it does not exit in time)."""
        self._signal_and_wait(signal.SIGTERM)

    def kill(self) -> None:
        """Hard stop (SIGKILL), as a crash would."""
        self._signal_and_wait(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()


class MosquittoServer(_ServerProcess):
    """A real Mosquitto broker on 127.0.0.1 with persistence on and no-drop queues."""

    name = "mosquitto"

    def __init__(self, binary: str, workdir: Path, extra_config: str = "") -> None:
        super().__init__(binary, workdir)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{MOSQUITTO_NO_DROP_SETTINGS}"
            f"persistence_location {self.data_dir}/\n"
            "persistence_file mosquitto.db\n"
            # Running as root, mosquitto would otherwise switch to user mosquitto
            # and lose access to the temp dir.
            "user root\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"{extra_config}"
        )

    def _argv(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]

    def _answers(self) -> bool:
        return _tcp_open(self.host, self.port)


class InfluxServer(_ServerProcess):
    """A real InfluxDB 1.x (influxd) on 127.0.0.1 with its data in a temp dir."""

    name = "influxd"

    def __init__(self, binary: str, workdir: Path, database: str = "prognos_test") -> None:
        super().__init__(binary, workdir)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://{self.host}:{self.port}"
        self.database = database
        self.config_path = self.workdir / "influxdb.conf"
        self.config_path.write_text(self._config())
        self._http = httpx.Client(base_url=self.url, timeout=30.0)

    def _config(self) -> str:
        d = self.workdir
        return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  index-version = "inmem"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-row-limit = 0
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"""

    def _argv(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.config_path)]

    def _answers(self) -> bool:
        try:
            return self._http.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        super().start()
        self.query(f'CREATE DATABASE "{self.database}"')

    def close(self) -> None:
        self.stop()
        self._http.close()

    def query(self, influxql: str, db: str | None = None) -> list[dict[str, Any]]:
        """Rows of every series the statement returns, each a dict with its tags.

        Times are epoch nanoseconds. Raises on an error from the server.
        """
        response = self._http.post(
            "/query", data={"q": influxql, "db": db or self.database, "epoch": "ns"}
        )
        response.raise_for_status()
        rows: list[dict[str, Any]] = []
        for result in response.json().get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxQL error for {influxql!r}: {result['error']}")
            for series in result.get("series", []):
                tags = series.get("tags", {})
                columns = series["columns"]
                for values in series.get("values", []):
                    row = dict(tags)
                    row.update(zip(columns, values, strict=True))
                    row.setdefault("_measurement", series.get("name"))
                    rows.append(row)
        return rows

    def count_points(
        self, measurement: str = "telemetry", where: str = "", db: str | None = None
    ) -> int:
        """The exact number of points (series + time) in ``measurement``."""
        clause = f" WHERE {where}" if where else ""
        return len(self.query(f'SELECT * FROM "{measurement}"{clause}', db=db))
