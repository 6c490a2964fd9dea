"""Fixtures for the API tests: a real SQLite work-order store, users of every role, flags.

``desk`` builds the app around a fresh SQLite file in a temp dir with the
default catalog and a small registry; ``desk.raise_order(...)`` opens an order
the way the pipeline does (through tasking's intake use case).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prognos.api.app import ApiDeps, create_app
from prognos.api.auth import UserStore
from prognos.api.events import Event, EventBus
from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.tasking import service
from prognos.tasking.catalog import Catalog, load_catalog
from prognos.tasking.domain import WorkOrder
from prognos.tasking.registry import parse_registry
from prognos.tasking.uow import SqlUnitOfWork, make_engine

#: name, role, key; the engineers match the registry below by name.
USERS = {
    "planner": ("pat", "planner"),
    "junior_engineer": ("jun", "junior_engineer"),
    "intermediate_engineer": ("ivy", "intermediate_engineer"),
    "senior_engineer": ("sam", "senior_engineer"),
    "project_manager": ("max", "project_manager"),
    "admin": ("ada", "admin"),
}
KEYS = {role: f"test-key-{role}-0123456789" for role in USERS}

REGISTRY_YAML = """
customers:
  - {id: acme, name: Acme Water, tier: vip}
  - {id: globex, name: Globex, tier: standard}
sites:
  - {id: plant-a, name: Plant A, customer: acme}
  - {id: plant-b, name: Plant B, customer: globex}
devices:
  - {id: pump-001, asset_type: pump, site: plant-a}
  - {id: pump-002, asset_type: pump, site: plant-b}
  - {id: motor-001, asset_type: motor, site: plant-b}
engineers:
  - {name: jun, level: junior, authorised: [pdm-bearing-wear]}
  - {name: ivy, level: intermediate}
  - {name: sam, level: senior}
"""

HOUR_NS = 3600 * 10**9


@pytest.fixture(scope="session")
def user_store() -> UserStore:
    spec = ",".join(f"{name}:{role}:{KEYS[r]}" for r, (name, role) in USERS.items())
    return UserStore.from_spec(spec)


def auth(role: str) -> dict[str, str]:
    """Request headers signing in as the test user of ``role``."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


def make_flag(
    device: str = "pump-001",
    asset_type: str = "pump",
    site: str = "plant-a",
    failure_mode: str = "bearing_wear",
    severity: Severity = Severity.MEDIUM,
    end_ns: int | None = None,
    predicted_in_ns: int | None = 120 * HOUR_NS,
    kind: FlagKind = FlagKind.EQUIPMENT,
    metrics: tuple[str, ...] = ("vibration_rms_mm_s",),
    detector: str = "robust_z",
) -> Flag:
    """A flag whose window ends at ``end_ns`` (default now) and spans two hours."""
    end = end_ns if end_ns is not None else time.time_ns()
    return Flag(
        flag_id=f"f-{uuid.uuid4().hex[:8]}",
        device=device,
        asset_type=asset_type,
        site=site,
        kind=kind,
        state=FlagState.OPENED,
        detector=detector,
        metrics=metrics,
        failure_mode=failure_mode,
        score=6.5,
        severity=severity,
        opened_ns=end,
        updated_ns=end,
        window_start_ns=end - 2 * HOUR_NS,
        window_end_ns=end,
        predicted_failure_ns=None if predicted_in_ns is None else end + predicted_in_ns,
        evidence={"baseline": 2.1, "latest": 7.9},
    )


@pytest.fixture
def new_flag() -> Callable[..., Flag]:
    """``new_flag(**fields)``: a fresh flag (see ``make_flag`` for the defaults)."""
    return make_flag


@dataclass
class Desk:
    """The app under test, its client, its wiring and the events it published."""

    client: TestClient
    deps: ApiDeps
    uow: SqlUnitOfWork
    events: list[Event] = field(default_factory=list)

    def raise_order(self, flag: Flag | None = None, **kw: Any) -> WorkOrder:
        order = service.open_or_update_order(
            flag or make_flag(**kw), self.uow, self.deps.catalog, self.deps.registry
        )
        assert order is not None
        return order

    def get(self, path: str, role: str = "planner", **kw: Any) -> Any:
        return self.client.get(path, headers=auth(role), **kw)

    def post(self, path: str, body: Any, role: str = "planner") -> Any:
        return self.client.post(path, json=body, headers=auth(role))

    def put(self, path: str, body: Any, role: str = "planner") -> Any:
        return self.client.put(path, json=body, headers=auth(role))


@functools.cache
def _default_catalog() -> Catalog:
    # Frozen and validated once: tests that replace it do so on their own ApiDeps.
    return load_catalog(None)


def build_deps(tmp_path: Path, user_store: UserStore, **overrides: Any) -> ApiDeps:
    engine = make_engine(f"sqlite:///{tmp_path / 'orders.db'}")
    uow = SqlUnitOfWork(engine)
    values: dict[str, Any] = {
        "uow_factory": lambda: uow,
        "catalog": _default_catalog(),
        "registry": parse_registry(REGISTRY_YAML, "registry.yaml"),
        "telemetry": None,
        "users": user_store,
        "events": EventBus(),
    }
    values.update(overrides)
    return ApiDeps(**values)


@pytest.fixture
def desk(tmp_path: Path, user_store: UserStore) -> Iterator[Desk]:
    deps = build_deps(tmp_path, user_store)
    app = create_app(deps)
    with TestClient(app, raise_server_exceptions=False) as client:
        d = Desk(client, deps, deps.uow_factory())
        deps.events.add_sink(d.events.append)
        yield d


@pytest.fixture
def make_client(tmp_path: Path, user_store: UserStore) -> Iterator[Callable[..., TestClient]]:
    """``make_client(**deps_overrides)``: a client on an app wired with those overrides."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(build_deps(tmp_path, user_store, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@dataclass
class LiveServer:
    """The app served by a real uvicorn on a free loopback port (in a thread of this process)."""

    url: str
    deps: ApiDeps
    uow: SqlUnitOfWork

    def raise_order(self, flag: Flag | None = None, **kw: Any) -> WorkOrder:
        order = service.open_or_update_order(
            flag or make_flag(**kw), self.uow, self.deps.catalog, self.deps.registry
        )
        assert order is not None
        self.deps.events.publish(
            "work_order.created",
            {"order_id": order.id, "device": order.device, "version": order.version},
        )
        return order


@pytest.fixture
def live_server(tmp_path: Path, user_store: UserStore) -> Iterator[LiveServer]:
    import socket
    import threading

    import httpx
    import uvicorn

    deps = build_deps(tmp_path, user_store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(deps), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the test API server did not start within 20 s")
        time.sleep(0.05)
    try:
        yield LiveServer(url, deps, deps.uow_factory())
    finally:
        deps.events.close()  # ends open event streams so the server stops at once
        server.should_exit = True
        thread.join(timeout=3)
        if thread.is_alive():  # an event stream still open: stop without waiting for it
            server.force_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory: pytest.TempPathFactory, user_store: UserStore) -> Any:
    """An app with every port wired and a few orders in it, for schema-driven fuzzing."""
    now = time.time_ns()
    fleet = [
        {"device": "pump-001", "asset_type": "pump", "site": "plant-a", "last_seen_ns": now,
         "health": "alarm", "open_flags": [make_flag()]},
    ]  # fmt: skip
    deps = build_deps(
        tmp_path_factory.mktemp("fuzz"),
        user_store,
        fleet_state=lambda: fleet,
        ingest_stats=lambda: {"messages": 1},
        health=lambda: {"store": {"ok": True}},
    )
    uow = deps.uow_factory()
    for device, site in (("pump-001", "plant-a"), ("pump-002", "plant-b")):
        service.open_or_update_order(
            make_flag(device=device, site=site), uow, deps.catalog, deps.registry
        )
    return create_app(deps)
