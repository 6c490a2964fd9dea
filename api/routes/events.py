"""Live updates for the page and integrations: a server-sent events stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from prognos.api.deps import CurrentUser, Deps
from prognos.api.events import CLOSED

router = APIRouter(prefix="/api/v1", tags=["events"])

KEEPALIVE_S = 15.0


@router.get(
    "/events",
    summary="Server-sent events: work_order.created / .changed and flags as they happen",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    deps: Deps,
    user: CurrentUser,
    max_events: Annotated[
        int | None, Query(ge=1, le=10_000, description="Close after this many events")
    ] = None,
    keepalive_s: Annotated[float, Query(ge=0.05, le=300.0)] = KEEPALIVE_S,
) -> StreamingResponse:
    sub = deps.events.subscribe()
    gauge = request.app.state.metrics.sse_listeners

    async def stream() -> AsyncIterator[str]:
        gauge.inc()
        sent = 0
        try:
            yield ": connected\nretry: 3000\n\n"
            if deps.events.closed:
                return
            while max_events is None or sent < max_events:
                event = await sub.get(keepalive_s)
                if await request.is_disconnected():
                    return
                if event is None:
                    yield ": keep-alive\n\n"
                    continue
                if event.type == CLOSED:
                    return
                yield f"id: {event.id}\nevent: {event.type}\ndata: {event.to_json()}\n\n"
                sent += 1
        finally:
            sub.close()
            gauge.dec()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
