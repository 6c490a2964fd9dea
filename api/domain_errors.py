"""Tasking's errors as problem details, mapped once for every route.

Refusals are split by what they are about: the actor (403, e.g. a role the
domain's matrix does not allow, or an engineer who is not the assignee) or
the order's state (409, e.g. an illegal transition).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from prognos.api.problems import problem_response
from prognos.tasking import errors as terr

log = logging.getLogger(__name__)


def refusal_status(exc: terr.TransitionRefused) -> int:
    """403 when the domain refused the actor, 409 when it refused the change itself."""
    return 403 if isinstance(exc, terr.PermissionRefused) else 409


def install_domain_error_handlers(app: FastAPI) -> None:
    """Map tasking's errors to problem details, once, for every route."""

    @app.exception_handler(terr.TaskingError)
    async def _tasking(request: Request, exc: terr.TaskingError) -> JSONResponse:
        path = request.url.path
        extra: dict[str, Any] = {}
        if isinstance(exc, terr.OrderNotFoundError):
            return problem_response(404, None, str(exc), "not-found", path)
        if isinstance(exc, terr.VersionConflictError):
            extra = {"expected_version": exc.expected, "actual_version": exc.actual}
            return problem_response(
                409, "Version conflict", str(exc), "version-conflict", path, **extra
            )
        if isinstance(exc, terr.TransitionRefused):
            status = refusal_status(exc)
            title = "Not permitted" if status == 403 else "Change refused"
            return problem_response(status, title, exc.reason, "refused", path)
        if isinstance(exc, terr.FileValidationError):
            issues = [{"line": i.line, "field": i.field, "message": i.message} for i in exc.errors]
            detail_text = "; ".join(
                f"line {i.line}: {i.field}: {i.message}" for i in exc.errors[:5]
            )
            return problem_response(
                422, "Invalid catalog", detail_text, "invalid-catalog", path, errors=issues
            )
        if isinstance(exc, terr.StorageError):
            log.error("storage error path=%s error=%s", path, exc)
            return problem_response(
                503, None, "the work-order store is unavailable", "storage", path
            )
        return problem_response(400, None, str(exc), "bad-request", path)

    @app.exception_handler(SQLAlchemyError)
    async def _sql(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("database error path=%s error=%s", request.url.path, type(exc).__name__)
        return problem_response(
            503, None, "the work-order store is unavailable", "storage", request.url.path
        )
