"""What every route may depend on: the wired services, the caller, and role checks.

The ports the API needs from other stages are small Protocols here, so the
composition root can wire the real adapters and tests can pass real ones on
real servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from prognos.api.auth import ROLES, User, UserStore
from prognos.api.events import EventBus
from prognos.api.problems import ForbiddenError, UnauthorizedError
from prognos.tasking.catalog import Catalog
from prognos.tasking.registry import Registry
from prognos.tasking.uow import UnitOfWork


class TelemetryReader(Protocol):
    """Reads a downsampled window of one device's telemetry (InfluxDB behind it)."""

    def telemetry_window(
        self, device: str, start_ns: int, end_ns: int, max_points: int = 500
    ) -> dict[str, list[tuple[int, float]]]: ...


@dataclass
class ApiDeps:
    """Everything the app needs from the rest of Prognos, wired by the composition root.

    ``fleet_state`` returns one mapping (or object) per device with ``device``,
    ``asset_type``, ``site``, ``last_seen_ns``, ``health`` and ``open_flags``
    (a list of ``Flag``). ``ingest_stats`` and ``health`` return JSON-able dicts.
    When an admin replaces the catalog, it is written to ``catalog_path`` (if
    set) and handed to ``catalog_updated`` so the pipeline uses it too. A
    false-alarm verdict calls ``on_false_alarm(device, failure_mode, until_ns)``.
    """

    uow_factory: Callable[[], UnitOfWork]
    catalog: Catalog
    registry: Registry
    telemetry: TelemetryReader | None
    users: UserStore
    events: EventBus
    health: Callable[[], dict[str, Any]] | None = None
    metrics_registries: list[Any] = field(default_factory=list)
    ingest_stats: Callable[[], dict[str, Any]] | None = None
    fleet_state: Callable[[], Iterable[Any]] | None = None
    catalog_path: str | None = None
    catalog_updated: Callable[[Catalog], None] | None = None
    on_false_alarm: Callable[[str, str, int], None] | None = None


def get_deps(request: Request) -> ApiDeps:
    """The wired services of this app."""
    deps: ApiDeps = request.app.state.deps
    return deps


Deps = Annotated[ApiDeps, Depends(get_deps)]


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise UnauthorizedError("the Authorization header must be 'Bearer <api key>'")
        return value.strip()
    return request.headers.get("x-api-key")


# Declared so the OpenAPI document lists both ways to send a key (and /docs can "Authorize");
# the header is read and checked by ``current_user`` itself, with its own messages.
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def current_user(
    request: Request,
    deps: Deps,
    _bearer_doc: Annotated[Any, Security(_bearer)] = None,
    _key_doc: Annotated[Any, Security(_api_key)] = None,
) -> User:
    """The caller named by the API key in ``Authorization: Bearer`` or ``X-API-Key``."""
    key = _presented_key(request)
    if not key:
        raise UnauthorizedError("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    user = deps.users.authenticate(key)
    if user is None:
        raise UnauthorizedError("the API key matches no user")
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only the given roles through (403 with the allowed roles)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are {ROLES}")
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise ForbiddenError(
                f"role {user.role} may not do this; allowed: {', '.join(sorted(allowed))}",
                allowed_roles=sorted(allowed),
            )
        return user

    return check
