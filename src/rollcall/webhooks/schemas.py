"""What the webhook routes read and write. A secret is shown once, when rollcall makes it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rollcall.settings import WEBHOOK_URL_MAX_LENGTH


class WebhookPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=WEBHOOK_URL_MAX_LENGTH, description="http(s), public addresses")
    secret: str | None = Field(
        default=None,
        description="whsec_ and 24 to 64 bytes in base64; left out, rollcall makes one",
    )


class WebhookSet(BaseModel):
    url: str
    secret: str | None = Field(
        default=None, description="the secret rollcall made, shown this once; absent when given"
    )
    created_at: datetime
    updated_at: datetime


class WebhookAttempt(BaseModel):
    webhook_id: str = Field(description="`<event id>:<seq>`, as in the webhook-id header")
    seq: int
    attempted_at: datetime
    status: int | None = Field(description="the receiver's HTTP status; null: no answer")
    error: str | None
    duration_ms: int


DeliveryState = Literal["delivered", "delivering", "retrying", "gave_up"]


class WebhookDeliveries(BaseModel):
    url: str
    created_at: datetime
    updated_at: datetime
    seq: int = Field(description="the event's newest message")
    delivered_seq: int = Field(description="the newest message the receiver acknowledged")
    state: DeliveryState
    failed_attempts: int = Field(description="failed attempts at the next message, in a row")
    failing_since: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    attempts: list[WebhookAttempt] = Field(description="the latest attempts, newest first")
