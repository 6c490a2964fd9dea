"""Operational endpoints: liveness, Prometheus metrics, who-am-I and ingest statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from prognos.api.auth import User
from prognos.api.deps import CurrentUser, Deps, require_role
from prognos.api.problems import UnavailableError
from prognos.api.roles import actions_for, roles_for
from prognos.api.schemas import Health, Me

router = APIRouter(tags=["system"])

StatsReader = Annotated[User, Depends(require_role(*roles_for("ingest_stats")))]


@router.get("/healthz", response_model=Health, summary="Liveness and the state of dependencies")
def healthz(deps: Deps) -> Health:
    """``ok`` when the API answers; the wired health callback adds its components."""
    components: dict[str, Any] = {}
    if deps.health is not None:
        try:
            components = dict(deps.health())
        except Exception as exc:
            components = {"health": f"check failed: {type(exc).__name__}"}
    degraded = any(
        (isinstance(v, dict) and v.get("ok") is False) or v is False for v in components.values()
    )
    return Health(status="degraded" if degraded else "ok", components=components)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, deps: Deps) -> Response:
    """The API's own metrics followed by every registry the pipeline wired in."""
    chunks = [generate_latest(request.app.state.metrics.registry)]
    chunks += [generate_latest(reg) for reg in deps.metrics_registries]
    return Response(b"".join(chunks), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/me", response_model=Me, summary="The signed-in user and what they may do")
def me(user: CurrentUser) -> Me:
    return Me(name=user.name, role=user.role, actions=actions_for(user.role))


@router.get(
    "/api/v1/ingest/stats",
    summary="Ingest statistics (messages, points, dead letters, lag)",
    response_model=dict[str, Any],
)
def ingest_stats(deps: Deps, user: StatsReader) -> dict[str, Any]:
    if deps.ingest_stats is None:
        raise UnavailableError("ingest statistics are not wired in this deployment")
    return dict(deps.ingest_stats())
