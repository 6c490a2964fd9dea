"""Auth, health, metrics, the fleet and flags, the catalog, KPIs, ingest stats and the page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from prognos.detection.flags import Flag, FlagKind, FlagState, Severity
from prognos.tasking.catalog import DEFAULT_CATALOG_PATH

PROBLEM = "application/problem+json"


def assert_problem(resp: Any, status: int, needle: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and needle.lower() in body["detail"].lower(), body
    return body


# -- authentication -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "API key is required"),
        ({"Authorization": "Bearer nope-nope-nope-nope"}, "matches no user"),
        ({"Authorization": "Basic abc"}, "Bearer"),
        ({"X-API-Key": "wrong-wrong-wrong-wrong"}, "matches no user"),
    ],
)
def test_missing_or_wrong_key_is_401(desk: Any, headers: dict[str, str], needle: str) -> None:
    resp = desk.client.get("/api/v1/work-orders", headers=headers)
    assert_problem(resp, 401, needle)
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_x_api_key_header_and_me(desk: Any) -> None:
    resp = desk.client.get("/api/v1/me", headers={"X-API-Key": "test-key-admin-0123456789"})
    me = resp.json()
    assert me["name"] == "ada" and me["role"] == "admin" and "catalog_update" in me["actions"]
    junior = desk.get("/api/v1/me", role="junior_engineer").json()
    assert "assign" not in junior["actions"] and "comment" in junior["actions"]


def test_keys_never_reach_the_logs(desk: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    desk.get("/api/v1/me")
    desk.client.get("/api/v1/me", headers={"Authorization": "Bearer some-guess-0123456789"})
    assert "test-key-" not in caplog.text and "some-guess" not in caplog.text


# -- health, metrics, docs, page ---------------------------------------------------------


def test_healthz_reports_components(make_client: Any) -> None:
    client = make_client(health=lambda: {"influxdb": {"ok": False}})
    body = client.get("/healthz").json()
    assert body == {"status": "degraded", "components": {"influxdb": {"ok": False}}}


def test_metrics_expose_api_counters_and_wired_registries(make_client: Any) -> None:
    registry = CollectorRegistry()
    Counter("prognos_ingest_messages", "Messages.", registry=registry).inc(7)
    client = make_client(metrics_registries=[registry])
    client.get("/api/v1/me")
    text = client.get("/metrics").text
    assert "prognos_ingest_messages_total 7.0" in text
    assert 'prognos_api_requests_total{method="GET",route="/api/v1/me",status="401"} 1.0' in text


def test_openapi_docs_and_page_are_served_without_a_key(desk: Any) -> None:
    schema = desk.client.get("/openapi.json").json()
    assert "/api/v1/work-orders/{order_id}/transitions" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert desk.client.get("/docs").status_code == 200
    page = desk.client.get("/app/")
    assert page.status_code == 200 and "Sign in" in page.text
    for asset in ("app.js", "chart.js", "style.css"):
        resp = desk.client.get(f"/static/{asset}")
        assert resp.status_code == 200 and len(resp.content) > 1000
    assert "http" not in page.text.replace("http-equiv", "")  # no external assets


def test_unknown_path_and_wrong_method_are_problems(desk: Any) -> None:
    assert_problem(desk.get("/api/v1/nothing-here"), 404, "no resource")
    assert_problem(desk.client.delete("/api/v1/work-orders", headers={}), 405, "not allowed")


# -- fleet and flags -----------------------------------------------------------------


def _flag(device: str, severity: Severity, kind: FlagKind = FlagKind.EQUIPMENT) -> Flag:
    now = time.time_ns()
    return Flag(
        f"f-{device}", device, "pump", "plant-a", kind, FlagState.OPENED, "robust_z",
        ("vibration_rms_mm_s",), "bearing_wear", 5.0, severity, now, now, now - 10**12, now,
    )  # fmt: skip


@pytest.fixture
def fleet_desk(make_client: Any) -> Any:
    now = time.time_ns()
    state = [
        {"device": "pump-001", "asset_type": "pump", "site": "plant-a", "last_seen_ns": now,
         "health": "alarm", "open_flags": [_flag("pump-001", Severity.HIGH)]},
        {"device": "pump-002", "asset_type": "pump", "site": "plant-b", "last_seen_ns": now,
         "health": "ok", "open_flags": []},
        {"device": "motor-001", "asset_type": "motor", "site": "plant-b", "last_seen_ns": None,
         "health": "warning", "open_flags": [_flag("motor-001", Severity.LOW, FlagKind.SENSOR)]},
    ]  # fmt: skip
    return make_client(fleet_state=lambda: state)


def test_fleet_devices_with_filters(fleet_desk: Any) -> None:
    h = {"Authorization": "Bearer test-key-junior_engineer-0123456789"}
    page = fleet_desk.get("/api/v1/fleet/devices", headers=h).json()
    assert page["total"] == 3
    assert [d["device"] for d in page["items"]] == ["pump-001", "motor-001", "pump-002"]
    alarm = fleet_desk.get("/api/v1/fleet/devices?health=alarm", headers=h).json()["items"]
    assert [d["device"] for d in alarm] == ["pump-001"]
    assert alarm[0]["open_flags"][0]["severity"] == "high" and alarm[0]["last_seen_at"]
    one = fleet_desk.get("/api/v1/fleet/devices/motor-001", headers=h).json()
    assert one["health"] == "warning" and one["last_seen_ns"] is None
    assert_problem(fleet_desk.get("/api/v1/fleet/devices/nope", headers=h), 404, "nope")


def test_flags_with_filters(fleet_desk: Any) -> None:
    h = {"Authorization": "Bearer test-key-planner-0123456789"}
    assert fleet_desk.get("/api/v1/flags", headers=h).json()["total"] == 2
    sensor = fleet_desk.get("/api/v1/flags?kind=sensor", headers=h).json()["items"]
    assert [f["device"] for f in sensor] == ["motor-001"]
    assert fleet_desk.get("/api/v1/flags?severity=critical", headers=h).json()["total"] == 0
    assert_problem(fleet_desk.get("/api/v1/flags?kind=weird", headers=h), 422, "kind")


def test_fleet_not_wired_is_503(desk: Any) -> None:
    assert_problem(desk.get("/api/v1/fleet/devices"), 503, "not wired")
    assert_problem(desk.get("/api/v1/ingest/stats"), 503, "not wired")


# -- catalog -----------------------------------------------------------------------------


def test_catalog_read_by_anyone(desk: Any) -> None:
    cat = desk.get("/api/v1/catalog", role="junior_engineer").json()
    assert cat["version"] and any(e["id"] == "pdm-bearing-wear" for e in cat["entries"])
    entry = desk.get("/api/v1/catalog/entries/pdm-bearing-wear").json()
    assert entry["sop"] and entry["sla"]["vip"]["P1"]["first_response"] > 0
    assert_problem(desk.get("/api/v1/catalog/entries/nope"), 404, "nope")


def test_catalog_update_admin_only_and_validated(desk: Any, tmp_path: Path) -> None:
    text = DEFAULT_CATALOG_PATH.read_text()
    assert_problem(desk.put("/api/v1/catalog", {"yaml": text}, "planner"), 403, "may not")
    bad = desk.put("/api/v1/catalog", {"yaml": "version: '1'\nentries: 3\n"}, "admin")
    body = assert_problem(bad, 422, "")
    assert body["errors"] and all("line" in e for e in body["errors"])
    old = desk.deps.catalog.version
    assert_problem(
        desk.put("/api/v1/catalog", {"yaml": text, "expected_version": "0.0"}, "admin"), 409, old
    )
    target = tmp_path / "catalog.yaml"
    target.write_text(text)
    swapped: list[Any] = []
    desk.deps.catalog_path = str(target)
    desk.deps.catalog_updated = swapped.append
    new_text = text.replace(f'version: "{old}"', 'version: "2099.1"')
    got = desk.put("/api/v1/catalog", {"yaml": new_text, "expected_version": old}, "admin")
    assert got.status_code == 200 and got.json()["version"] == "2099.1"
    assert swapped[0].version == "2099.1" and 'version: "2099.1"' in target.read_text()
    assert desk.get("/api/v1/catalog").json()["version"] == "2099.1"
    assert desk.events[-1].type == "catalog.updated"


# -- KPIs and ingest stats -------------------------------------------------------------------


def test_kpis_role_and_validation(desk: Any) -> None:
    assert_problem(desk.get("/api/v1/kpis", role="junior_engineer"), 403, "may not")
    assert_problem(desk.get("/api/v1/kpis?group_by=colour"), 400, "group_by")
    assert_problem(
        desk.get("/api/v1/kpis?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z"),
        400,
        "before",
    )


def test_kpis_grouped_over_the_period(desk: Any) -> None:
    a = desk.raise_order(device="pump-001")
    desk.raise_order(device="pump-002", site="plant-b")
    url = f"/api/v1/work-orders/{a.id}"
    desk.put(f"{url}/assignment", {"assignee": "ivy", "expected_version": 1})
    body = desk.get("/api/v1/kpis?group_by=site").json()
    assert body["group_by"] == "site"
    assert body["totals"]["orders"] == 2 and body["totals"]["open"] == 2
    by_site = {g["key"]: g["values"] for g in body["groups"]}
    assert set(by_site) == {"plant-a", "plant-b"}
    # Only plant-a's order has had a first response (the assignment).
    assert by_site["plant-a"]["mean_first_response_s"] is not None
    assert by_site["plant-b"]["mean_first_response_s"] is None
    past = desk.get("/api/v1/kpis?start=2000-01-01T00:00:00Z&end=2000-02-01T00:00:00Z").json()
    assert past["totals"]["orders"] == 0 and past["groups"] == []


def test_ingest_stats_when_wired(make_client: Any) -> None:
    client = make_client(ingest_stats=lambda: {"messages": 12, "points": 12})
    ok = client.get("/api/v1/ingest/stats", headers={"X-API-Key": "test-key-planner-0123456789"})
    denied = client.get(
        "/api/v1/ingest/stats", headers={"X-API-Key": "test-key-junior_engineer-0123456789"}
    )
    assert ok.json() == {"messages": 12, "points": 12}
    assert_problem(denied, 403, "may not")
