"""What the events API reads and writes."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

EventStatus = Literal["open", "locked", "closed"]


def _no_control_characters(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("the title must not contain control characters (tabs, newlines, ...)")
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]


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
