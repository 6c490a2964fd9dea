"""Errors of the API and their one mapping to RFC 9457 problem details.

Routes raise ``ApiError`` subclasses (or let domain errors through); the
handlers installed by ``install_problem_handlers`` turn every failure into an
``application/problem+json`` answer with a human message, never a bare 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Problem types are URNs: stable identifiers that do not pretend to be a web page.
PROBLEM_BASE = "urn:prognos:problem:"


class ApiError(Exception):
    """Base of the API's errors: an HTTP status, a problem type slug and a message."""

    status: int = 400
    slug: str = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequestError(ApiError):
    """The request is well-formed JSON but asks for something that makes no sense."""

    status = 400
    slug = "bad-request"


class UnauthorizedError(ApiError):
    """No API key, or one that matches no user."""

    status = 401
    slug = "unauthorized"


class ForbiddenError(ApiError):
    """The signed-in user's role may not do this."""

    status = 403
    slug = "forbidden"


class NotFoundError(ApiError):
    """The named resource does not exist."""

    status = 404
    slug = "not-found"


class ConflictError(ApiError):
    """The resource changed since the client read it, or the change is refused by its state."""

    status = 409
    slug = "conflict"


class UnavailableError(ApiError):
    """A backing service (InfluxDB, the fleet view) is not wired or does not answer."""

    status = 503
    slug = "unavailable"


def problem_response(
    status: int, title: str | None, detail: str, slug: str, instance: str, **extra: Any
) -> JSONResponse:
    """One problem-details document as a response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="prognos"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid"))
        errors.append({"field": loc, "message": msg})
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "the request is not valid", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the app can meet to a problem-details response."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(
            exc.status, None, exc.detail, exc.slug, request.url.path, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem_response(
            422, "Invalid request", detail, "validation", request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code, None, detail, "http-" + str(exc.status_code), request.url.path
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The last net: log with the path, answer with a problem document, not a stack trace.
        log.exception("unhandled error path=%s", request.url.path)
        return problem_response(
            500, None, "the server met an unexpected error", "internal", request.url.path
        )
