"""Small builders for test data, through the public API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class HostedEvent:
    code: str
    host_token: str
    body: dict[str, Any]

    @property
    def host_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.host_token}"}


async def create_event(
    client: httpx.AsyncClient,
    *,
    title: str = "Friday quiz",
    capacity: int | None = None,
    **switches: Any,
) -> HostedEvent:
    """An event; `switches` are further fields (admission, room_check, reclaim)."""
    body: dict[str, Any] = {"title": title, **switches}
    if capacity is not None:
        body["capacity"] = capacity
    response = await client.post("/api/events", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return HostedEvent(data["event"]["code"], data["host_token"], data)


def new_device() -> str:
    return str(uuid.uuid4())


async def join(
    client: httpx.AsyncClient,
    code: str,
    *,
    device_id: str | None = None,
    name: str | None = None,
    **extra: Any,
) -> httpx.Response:
    """A join; `extra` are further body fields (room_check, recovery_code, team). With
    `generated_name=True` in them and no `name`, the body has no display_name."""
    body: dict[str, Any] = {"device_id": device_id or new_device(), **extra}
    if name is not None or not extra.get("generated_name"):
        body["display_name"] = name or f"Player {uuid.uuid4().hex[:8]}"
    # No cookie jar between calls: each call stands for whatever device sent it.
    client.cookies.clear()
    return await client.post(f"/api/events/{code}/join", json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
