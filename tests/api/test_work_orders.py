"""Work-order endpoints on a real SQLite store: queue, detail, changes, denials, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from prognos.detection.flags import Severity

PROBLEM = "application/problem+json"
ADMIN = {"Authorization": "Bearer test-key-admin-0123456789"}


def assert_problem(resp: Any, status: int, needle: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["detail"]
    assert needle.lower() in body["detail"].lower(), body["detail"]
    return body


def test_queue_lists_the_order_and_detail_shows_its_evidence(desk: Any) -> None:
    order = desk.raise_order()
    page = desk.get("/api/v1/work-orders").json()
    assert [o["order_id"] for o in page["items"]] == [order.id]
    row = page["items"][0]
    assert row["catalog_entry_id"] == "pdm-bearing-wear"
    assert row["tier"] == "vip" and row["customer"] == "acme"
    assert row["next_due_at"] is not None and row["sla_state"] == "ok"

    got = desk.get(f"/api/v1/work-orders/{order.id}").json()
    assert got["first_response_due_at"] < got["onsite_due_at"] <= got["resolve_due_at"]
    assert [f["flag_id"] for f in got["evidence"]["flags"]] == [order.flags[0].flag_id]
    assert got["evidence"]["window_start_ms"] < got["evidence"]["window_end_ms"]
    assert got["evidence"]["predicted_failure_ms"] > got["evidence"]["window_end_ms"]
    assert got["evidence"]["telemetry_note"] == "telemetry storage is not connected"
    assert len(got["sop_checklist"]) > 0 and got["knowledge_links"]


def test_queue_is_sorted_by_sla_urgency_and_pages_by_cursor(desk: Any) -> None:
    slow = desk.raise_order(device="pump-002", site="plant-b", severity=Severity.LOW)
    urgent = desk.raise_order(
        device="motor-001", asset_type="motor", site="plant-b", severity=Severity.HIGH
    )
    mid = desk.raise_order(device="pump-001", severity=Severity.MEDIUM)
    items = desk.get("/api/v1/work-orders?sort=sla").json()["items"]
    dues = [o["next_due_at"] for o in items]
    assert dues == sorted(dues)
    assert items[0]["order_id"] == urgent.id or items[0]["order_id"] == mid.id
    assert items[-1]["order_id"] == slow.id

    seen = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = desk.get("/api/v1/work-orders", params=params).json()
        seen += [o["order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["order_id"] for o in items]

    created = desk.get("/api/v1/work-orders?sort=created&limit=2").json()
    assert len(created["items"]) == 2 and created["next_cursor"].startswith("c.")
    rest = desk.get(f"/api/v1/work-orders?sort=created&cursor={created['next_cursor']}").json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_queue_filters(desk: Any) -> None:
    a = desk.raise_order(device="pump-001")
    b = desk.raise_order(device="pump-002", site="plant-b", severity=Severity.HIGH)

    def ids(query: str) -> list[str]:
        return [o["order_id"] for o in desk.get(f"/api/v1/work-orders?{query}").json()["items"]]

    assert ids("site=plant-b") == [b.id]
    assert ids("customer=acme") == [a.id]
    assert ids("tier=standard") == [b.id]
    assert ids("device=pump-001") == [a.id]
    assert ids(f"priority={b.priority}") == [b.id]
    assert ids("status=new,assigned") and ids("status=closed") == []
    assert sorted(ids("open=true")) == sorted([a.id, b.id])
    assert ids("category=predictive_maintenance&sla_state=breached") == []
    assert ids("created_from=2000-01-01T00:00:00Z&created_to=2001-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    ("query", "status", "needle"),
    [
        ("status=broken", 400, "unknown status"),
        ("limit=0", 422, "limit"),
        ("tier=gold", 422, "tier"),
        ("sort=random", 422, "sort"),
        ("cursor=not-a-cursor", 400, "cursor"),
        ("sort=created&cursor=c.%25%25", 400, "cursor"),
        ("created_from=yesterday", 422, "created_from"),
    ],
)
def test_bad_queue_queries_get_a_problem(desk: Any, query: str, status: int, needle: str) -> None:
    assert_problem(desk.get(f"/api/v1/work-orders?{query}"), status, needle)


def test_unknown_order_is_404(desk: Any) -> None:
    assert_problem(desk.get("/api/v1/work-orders/WO-nope"), 404, "WO-nope")


def test_full_life_assign_start_comment_complete_close(desk: Any) -> None:
    order = desk.raise_order()
    url = f"/api/v1/work-orders/{order.id}"
    got = desk.put(f"{url}/assignment", {"assignee": "ivy", "expected_version": 1}).json()
    assert got["status"] == "assigned" and got["assignee"] == "ivy"
    assert "in_progress" not in got["allowed_transitions"]  # a planner does not start work

    as_ivy = desk.get(url, role="intermediate_engineer").json()
    assert "in_progress" in as_ivy["allowed_transitions"]
    got = desk.post(
        f"{url}/transitions",
        {"to": "in_progress", "expected_version": got["version"]},
        role="intermediate_engineer",
    ).json()
    assert got["status"] == "in_progress" and got["started_at"]

    got = desk.post(f"{url}/comments", {"text": "bearing is noisy"}, "intermediate_engineer").json()
    assert got["comments"][-1]["text"] == "bearing is noisy"

    got = desk.put(f"{url}/checklist/0", {"done": True}, "intermediate_engineer").json()
    assert got["sop_checklist"][0]["done"] is True

    body = {
        "notes": "replaced bearing set",
        "verdict": "confirmed_fault",
        "rating": 5,
        "expected_version": got["version"],
    }
    got = desk.post(f"{url}/completion", body, "intermediate_engineer").json()
    assert got["status"] == "resolved" and got["completion"]["verdict"] == "confirmed_fault"

    got = desk.post(
        f"{url}/transitions",
        {"to": "closed", "expected_version": got["version"]},
        "senior_engineer",
    ).json()
    assert got["status"] == "closed" and got["sla_state"] in ("met", "breached")
    assert [h["action"] for h in got["history"]][:2] == ["create", "assign"]
    kinds = [e.type for e in desk.events]
    assert kinds.count("work_order.changed") == 6
    assert all(e.data["order_id"] == order.id for e in desk.events)


def test_stale_version_is_409(desk: Any) -> None:
    order = desk.raise_order()
    url = f"/api/v1/work-orders/{order.id}"
    assert desk.put(f"{url}/assignment", {"assignee": "ivy", "expected_version": 1}).is_success
    body = assert_problem(
        desk.put(f"{url}/assignment", {"assignee": "sam", "expected_version": 1}), 409, "version"
    )
    assert body["expected_version"] == 1 and body["actual_version"] == 2


def test_role_denials_are_403(desk: Any) -> None:
    order = desk.raise_order()
    url = f"/api/v1/work-orders/{order.id}"
    # The API's role matrix: juniors may not assign.
    body = assert_problem(
        desk.put(
            f"{url}/assignment", {"assignee": "jun", "expected_version": 1}, "junior_engineer"
        ),
        403,
        "may not",
    )
    assert "planner" in body["allowed_roles"]
    # The domain's rules: an engineer who is not the assignee may not start the work.
    desk.put(f"{url}/assignment", {"assignee": "ivy", "expected_version": 1})
    assert_problem(
        desk.post(
            f"{url}/transitions", {"to": "in_progress", "expected_version": 2}, "junior_engineer"
        ),
        403,
        "not the assignee",
    )
    # Completion is for the people doing the work; a planner gets 403 from the matrix.
    assert_problem(
        desk.post(
            f"{url}/completion",
            {"notes": "x", "verdict": "false_alarm", "expected_version": 2},
            "planner",
        ),
        403,
        "may not",
    )


def test_illegal_transition_is_409_with_the_reason(desk: Any) -> None:
    order = desk.raise_order()
    resp = desk.post(
        f"/api/v1/work-orders/{order.id}/transitions",
        {"to": "closed", "expected_version": 1},
        "admin",
    )
    assert_problem(resp, 409, "not a legal transition")


@pytest.mark.parametrize(
    ("suffix", "body", "status", "needle"),
    [
        ("transitions", {"to": "in_progress"}, 422, "expected_version"),
        ("transitions", {"to": "flying", "expected_version": 1}, 400, "flying"),
        ("assignment", {"assignee": "", "expected_version": 1}, 422, "assignee"),
        ("comments", {"text": ""}, 422, "text"),
        ("completion", {"notes": "x", "verdict": "meh", "expected_version": 1}, 400, "verdict"),
        ("completion", {"notes": "x", "verdict": "false_alarm", "rating": 9}, 422, "rating"),
        ("checklist/99", {"done": True}, 400, "step 99"),
    ],
)
def test_bad_change_requests_get_a_problem(
    desk: Any, suffix: str, body: dict[str, Any], status: int, needle: str
) -> None:
    order = desk.raise_order()
    resp = desk.client.request(
        "PUT" if suffix.startswith(("assignment", "checklist")) else "POST",
        f"/api/v1/work-orders/{order.id}/{suffix}",
        json=body,
        headers=ADMIN,
    )
    assert_problem(resp, status, needle)


def test_malformed_json_is_422_not_500(desk: Any) -> None:
    order = desk.raise_order()
    resp = desk.client.post(
        f"/api/v1/work-orders/{order.id}/comments",
        content=b"{not json",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert_problem(resp, 422, "json")


def test_rating_and_escalation(desk: Any) -> None:
    order = desk.raise_order()
    url = f"/api/v1/work-orders/{order.id}"
    got = desk.post(f"{url}/escalation", {"note": "customer angry"}, "intermediate_engineer").json()
    assert got["sla_events"][-1]["kind"] == "escalation_requested"
    assert_problem(desk.post(f"{url}/escalation", {"note": "x"}, "junior_engineer"), 403, "may not")
    assert_problem(desk.post(f"{url}/rating", {"rating": 4}), 409, "completed")
    assert_problem(desk.post(f"{url}/rating", {"rating": 4}, "junior_engineer"), 403, "may not")


def test_a_second_flag_joins_the_open_order(desk: Any) -> None:
    first = desk.raise_order()
    desk.raise_order(detector="trend")
    assert len(desk.get("/api/v1/work-orders").json()["items"]) == 1
    flags = desk.get(f"/api/v1/work-orders/{first.id}").json()["evidence"]["flags"]
    assert sorted(f["detector"] for f in flags) == ["robust_z", "trend"]


def test_sla_states_are_derived_and_filtered(desk: Any, new_flag: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from prognos.tasking import service

    fresh = desk.raise_order(device="pump-001")
    old = service.open_or_update_order(
        new_flag(device="pump-002", site="plant-b"),
        desk.uow,
        desk.deps.catalog,
        desk.deps.registry,
        now=datetime.now(UTC) - timedelta(days=2),
    )
    assert old is not None
    items = desk.get("/api/v1/work-orders").json()["items"]
    assert [o["order_id"] for o in items] == [old.id, fresh.id]  # the late one first
    assert items[0]["sla_state"] == "breached" and items[0]["seconds_to_due"] < 0
    breached = desk.get("/api/v1/work-orders?sla_state=breached").json()["items"]
    assert [o["order_id"] for o in breached] == [old.id]
    ok = desk.get("/api/v1/work-orders?sla_state=ok").json()["items"]
    assert [o["order_id"] for o in ok] == [fresh.id]


def test_checklist_is_for_the_people_doing_the_work(desk: Any) -> None:
    order = desk.raise_order()
    url = f"/api/v1/work-orders/{order.id}/checklist/0"
    assert_problem(desk.put(url, {"done": True}, "planner"), 403, "may not")
    got = desk.put(url, {"done": True, "expected_version": 1}, "senior_engineer").json()
    assert got["sop_checklist"][0]["done"] is True and got["version"] == 2
    stale = desk.put(url, {"done": False, "expected_version": 1}, "admin")
    assert_problem(stale, 409, "version")


def test_assignee_suggestions_rank_qualified_engineers(desk: Any) -> None:
    order = desk.raise_order()
    response = desk.get(f"/api/v1/work-orders/{order.id}/assignee-suggestions?limit=5")
    assert response.status_code == 200, response.text
    names = [s["engineer"] for s in response.json()]
    # The bearing entry needs an intermediate engineer; jun is junior but authorised for it.
    assert set(names) == {"jun", "ivy", "sam"}
    scores = [s["score"] for s in response.json()]
    assert scores == sorted(scores, reverse=True)
    # Engineers cannot ask who should be assigned; unknown orders are 404.
    denied = desk.get(
        f"/api/v1/work-orders/{order.id}/assignee-suggestions", role="junior_engineer"
    )
    assert denied.status_code == 403
    assert desk.get("/api/v1/work-orders/WO-nope/assignee-suggestions").status_code == 404
