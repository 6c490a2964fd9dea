"""Fixtures for the tasking tests: catalog, registry, and work-order stores."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parent))

from tasking_pgserver import PG_BIN, PostgresServer
from tasking_testkit import REGISTRY_YAML

from prognos.tasking.catalog import Catalog, load_catalog
from prognos.tasking.registry import Registry, parse_registry
from prognos.tasking.uow import make_engine


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return parse_registry(REGISTRY_YAML, "fleet.yaml")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 for the session, stopped by PID at the end."""
    if not (PG_BIN / "postgres").exists():
        reason = "PostgreSQL 15 is not installed (apt-get install postgresql-15)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must have it", pytrace=False)
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated work-order database, on SQLite (WAL file) and on real PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'orders.db'}")
        yield eng
        eng.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = make_engine(server.create_database(name))
    yield eng
    eng.dispose()
    server.drop_database(name)
