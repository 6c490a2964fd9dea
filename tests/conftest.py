"""The test harness: real Mosquitto and real InfluxDB on free loopback ports.

Session fixtures start each server once in a pytest temp dir, wait (bounded)
until it answers, and stop it by its PID in a finaliser. Factory fixtures give
a chaos test its own server to stop, kill and restart without disturbing the
others. A missing binary skips locally but fails under CI (env ``CI`` set).

Fixtures: ``mosquitto``, ``mosquitto_factory``, ``influxdb``, ``influxdb_factory``,
``influx_db`` (a fresh database per test), ``unique_id``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prognos.localservers import OS_PACKAGES, InfluxServer, MosquittoServer, find_binary


def _find_binary(name: str) -> str:
    """The path of a server binary; skip (locally) or fail (under CI) when absent."""
    found = find_binary(name)
    if found:
        return found
    package = OS_PACKAGES.get(name, name)
    reason = f"{name} is not installed (apt-get install {package}; `make test` does it)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it", pytrace=False)
    pytest.skip(reason)


class InfluxTestDatabase:
    """One test's own database on the shared InfluxDB server."""

    def __init__(self, server: InfluxServer, name: str) -> None:
        self.server = server
        self.name = self.database = name
        self.host, self.port, self.url = server.host, server.port, server.url

    def query(self, influxql: str) -> list[dict[str, Any]]:
        return self.server.query(influxql, db=self.name)

    def count_points(self, measurement: str = "telemetry", where: str = "") -> int:
        return self.server.count_points(measurement, where, db=self.name)


class _ServerFactory:
    """Starts servers of one kind in fresh temp dirs and stops them all at the end."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, name: str, kind: Any) -> None:
        self.binary = _find_binary(name)
        self.name, self.kind, self.tmp = name, kind, tmp_path_factory
        self.servers: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        server = self.kind(self.binary, self.tmp.mktemp(self.name), *args, **kwargs)
        self.servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        for server in self.servers:
            server.stop()
            if hasattr(server, "close"):
                server.close()


@pytest.fixture(scope="session")
def mosquitto_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., MosquittoServer]]:
    """Start a dedicated broker: ``mosquitto_factory(extra_config="")``; stopped at session end."""
    factory = _ServerFactory(tmp_path_factory, "mosquitto", MosquittoServer)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def mosquitto(mosquitto_factory: Callable[..., MosquittoServer]) -> MosquittoServer:
    """The session's shared broker: ``host``, ``port``, ``config_path``, ``data_dir``, ``pid``."""
    return mosquitto_factory()


@pytest.fixture(scope="session")
def influxdb_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., InfluxServer]]:
    """Start a dedicated InfluxDB: ``influxdb_factory(database="prognos_test")``."""
    factory = _ServerFactory(tmp_path_factory, "influxd", InfluxServer)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def influxdb(influxdb_factory: Callable[..., InfluxServer]) -> InfluxServer:
    """The session's shared InfluxDB: ``url``, ``database``, ``query()``, ``count_points()``."""
    return influxdb_factory()


@pytest.fixture
def influx_db(influxdb: InfluxServer) -> Iterator[InfluxTestDatabase]:
    """A fresh, empty database on the shared InfluxDB for one test; dropped afterwards."""
    name = f"prognos_t_{uuid.uuid4().hex[:12]}"
    influxdb.query(f'CREATE DATABASE "{name}"')
    yield InfluxTestDatabase(influxdb, name)
    if influxdb.running:
        with contextlib.suppress(Exception):
            influxdb.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def unique_id() -> str:
    """A short token for topics, sites and client ids that no other test uses."""
    return uuid.uuid4().hex[:10]
