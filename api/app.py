"""The planner's desk: the FastAPI application factory.

``create_app(deps)`` builds the API and the web page around the services the
composition root wires in (``ApiDeps``); it holds no global state, so tests
build as many apps as they like.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from prognos.api.auth import User, UserStore
from prognos.api.deps import ApiDeps, TelemetryReader
from prognos.api.domain_errors import install_domain_error_handlers
from prognos.api.events import EventBus
from prognos.api.http_metrics import ApiMetrics, MetricsMiddleware
from prognos.api.problems import install_problem_handlers
from prognos.api.routes import catalog, events, fleet, kpis, system, work_orders

__all__ = ["ApiDeps", "EventBus", "TelemetryReader", "User", "UserStore", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """
Prognos turns streaming telemetry into maintenance work orders. This API lets
planners and engineers review, assign, move and close those orders, read the
evidence behind them (flags and the telemetry window around them), follow the
fleet, and read KPIs.

**Authentication**: send an API key as `Authorization: Bearer <key>` (or
`X-API-Key: <key>`). Each key maps to one user with one role; every endpoint
enforces the role matrix (`GET /api/v1/me` lists what you may do).

**Errors** are RFC 9457 problem details (`application/problem+json`).

**Concurrency**: changes to an order carry the `expected_version` read with it;
a stale version answers 409.
"""


def create_app(deps: ApiDeps) -> FastAPI:
    """The API and web page around ``deps``."""
    app = FastAPI(
        title="Prognos API",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.deps = deps
    app.state.metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_problem_handlers(app)
    install_domain_error_handlers(app)

    for module in (system, work_orders, catalog, fleet, kpis, events):
        app.include_router(module.router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/app/")

    @app.get("/app/", include_in_schema=False)
    def page() -> FileResponse:
        # One page; the hash in the URL picks the view (queue, order, fleet, KPIs).
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    return app
