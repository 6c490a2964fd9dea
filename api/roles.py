"""The role matrix: which roles may take which action through the API.

Kept in one table so routes, the web page (through ``/api/v1/me``) and the
tests read the same truth. The tasking domain still has the last word on
transitions (e.g. who may approve which catalog entry); this is the gate in
front of it.
"""

from __future__ import annotations

from prognos.api.auth import ENGINEER_ROLES, ROLES

_ALL = frozenset(ROLES)
_PLANNING = frozenset({"planner", "project_manager", "admin"})

ROLE_MATRIX: dict[str, frozenset[str]] = {
    # Reading the queue, an order, the fleet, flags and the catalog.
    "read": _ALL,
    # Moving an order through its life; the domain checks the exact transition.
    "transition": _ALL,
    # Who works on an order.
    "assign": _PLANNING | {"senior_engineer"},
    "comment": _ALL,
    # Completing an order (and ticking its SOP steps): the people who do or lead the work,
    # the same roles tasking's domain lets resolve an order.
    "complete": ENGINEER_ROLES | {"project_manager", "admin"},
    # The customer's rating, recorded by whoever took the customer's call.
    "rate": _PLANNING,
    "kpis": _PLANNING | {"senior_engineer"},
    "ingest_stats": _PLANNING | {"senior_engineer"},
    "catalog_update": frozenset({"admin"}),
}


def roles_for(action: str) -> tuple[str, ...]:
    """The roles allowed ``action``, in matrix order (KeyError names an unknown action)."""
    return tuple(r for r in ROLES if r in ROLE_MATRIX[action])


def actions_for(role: str) -> list[str]:
    """The actions ``role`` may take, for the page to show only what will work."""
    return [action for action, roles in ROLE_MATRIX.items() if role in roles]
