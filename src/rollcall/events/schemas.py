"""What the events API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

EventStatus = Literal["open", "locked", "closed"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    capacity: int | None = Field(default=None, ge=1, description="defaults to the maximum")


class EventUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    capacity: int | None = Field(default=None, ge=1)
    status: EventStatus | None = None


class EventCounts(BaseModel):
    seats_taken: int = Field(description="participants who are not kicked")
    active: int
    online: int
    away: int
    offline: int
    left: int
    kicked: int


class Event(BaseModel):
    code: str
    title: str
    capacity: int
    status: EventStatus
    created_at: datetime
    updated_at: datetime
    counts: EventCounts


class EventCreated(BaseModel):
    event: Event
    host_token: str = Field(description="shown once; keep it, it is stored only as a digest")
    host_url: str
    join_url: str
