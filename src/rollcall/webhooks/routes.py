"""HTTP routes for an event's own webhook: set it, remove it, read its delivery log."""

from __future__ import annotations

from fastapi import APIRouter, Response

from rollcall.errors import EventClosed, EventNotFound, InvalidToken, WebhookNotFound
from rollcall.events.deps import HostEvent
from rollcall.problems import BAD_BODY, openapi_problem
from rollcall.runtime import AppSettings, Conn
from rollcall.webhooks import service
from rollcall.webhooks.schemas import WebhookDeliveries, WebhookPut, WebhookSet

router = APIRouter(prefix="/api/events/{code}/webhook", tags=["webhooks"])


@router.put(
    "",
    response_model=WebhookSet,
    response_model_exclude_none=True,
    responses={
        201: {"description": "The event had no webhook", "model": WebhookSet},
        **openapi_problem(EventNotFound, InvalidToken, EventClosed, *BAD_BODY),
    },
)
async def put_webhook(
    body: WebhookPut, event: HostEvent, conn: Conn, settings: AppSettings, response: Response
) -> WebhookSet:
    """POST every message of this event's host stream to `url`, signed (Standard Webhooks).

    Without a `secret`, rollcall makes one and returns it this once. The URL must be http(s)
    and resolve to public addresses only (unless ROLLCALL_WEBHOOK_ALLOW_PRIVATE is set).
    """
    view, created = await service.put_webhook(
        conn,
        event=event,
        url=body.url,
        secret=body.secret,
        allow_private=settings.webhook_allow_private,
    )
    response.status_code = 201 if created else 200
    response.headers["Cache-Control"] = "no-store"
    return view


@router.delete("", status_code=204, responses=openapi_problem(EventNotFound, InvalidToken))
async def delete_webhook(event: HostEvent, conn: Conn) -> Response:
    """Stop sending this event's messages (204 also when it had no webhook)."""
    await service.delete_webhook(conn, event=event)
    return Response(status_code=204)


@router.get(
    "/deliveries",
    response_model=WebhookDeliveries,
    responses=openapi_problem(EventNotFound, InvalidToken, WebhookNotFound),
)
async def deliveries(event: HostEvent, conn: Conn) -> WebhookDeliveries:
    """How far delivery got, whether it is retrying and why, and the latest attempts."""
    return await service.deliveries(conn, event=event)
