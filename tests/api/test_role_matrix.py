"""Every guarded endpoint against every role: 403 exactly where the role matrix says so."""

from __future__ import annotations

from typing import Any

import pytest

from prognos.api.auth import ROLES
from prognos.api.roles import ROLE_MATRIX, actions_for

ORDER = "/api/v1/work-orders/WO-missing"
# (action, method, path, body); a permitted role gets past the gate and meets the missing
# order (404), the bad catalog (422) or the unwired service (503), never 403.
GUARDED = [
    ("read", "GET", "/api/v1/work-orders", None),
    ("read", "GET", ORDER, None),
    ("read", "GET", "/api/v1/catalog", None),
    ("read", "GET", "/api/v1/fleet/devices", None),
    ("read", "GET", "/api/v1/flags", None),
    ("transition", "POST", f"{ORDER}/transitions", {"to": "assigned", "expected_version": 1}),
    ("transition", "POST", f"{ORDER}/escalation", {"note": "x"}),
    ("assign", "PUT", f"{ORDER}/assignment", {"assignee": "ivy", "expected_version": 1}),
    ("comment", "POST", f"{ORDER}/comments", {"text": "hello"}),
    (
        "complete",
        "POST",
        f"{ORDER}/completion",
        {"notes": "done", "verdict": "confirmed_fault", "expected_version": 1},
    ),
    ("complete", "PUT", f"{ORDER}/checklist/0", {"done": True}),
    ("rate", "POST", f"{ORDER}/rating", {"rating": 5}),
    ("kpis", "GET", "/api/v1/kpis", None),
    ("ingest_stats", "GET", "/api/v1/ingest/stats", None),
    ("catalog_update", "PUT", "/api/v1/catalog", {"yaml": "version: '1'\n"}),
]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_meets_the_matrix(desk: Any, role: str) -> None:
    allowed = set(actions_for(role))
    for action, method, path, body in GUARDED:
        resp = desk.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer test-key-{role}-0123456789"}
        )
        if action in allowed:
            assert resp.status_code != 403, (role, method, path, resp.text)
            assert resp.status_code < 500 or resp.status_code == 503, (role, path, resp.text)
        else:
            assert resp.status_code == 403, (role, method, path, resp.status_code)
            assert role in resp.json()["detail"]


def test_matrix_names_only_known_roles_and_everyone_reads() -> None:
    assert all(set(roles) <= set(ROLES) for roles in ROLE_MATRIX.values())
    assert ROLE_MATRIX["read"] == frozenset(ROLES)
    assert ROLE_MATRIX["catalog_update"] == frozenset({"admin"})
