"""What the events API reads and writes."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

EventStatus = Literal["open", "locked", "closed"]
Admission = Literal["open", "approval"]
Reclaim = Literal["auto", "approval", "off"]


def _no_control_characters(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("the title must not contain control characters (tabs, newlines, ...)")
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]


ADMISSION_DOC = "open: anyone with the link joins; approval: newcomers wait for the host"
ROOM_CHECK_DOC = "newcomers must give the 4-digit code shown on the host's screen"
RECLAIM_DOC = "how a recovery code moves a seat to a new phone: at once, after approval, or never"


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    capacity: int | None = Field(default=None, ge=1, description="defaults to the maximum")
    admission: Admission = Field(default="open", description=ADMISSION_DOC)
    room_check: bool = Field(default=False, description=ROOM_CHECK_DOC)
    reclaim: Reclaim = Field(default="auto", description=RECLAIM_DOC)


class EventUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    capacity: int | None = Field(default=None, ge=1)
    status: EventStatus | None = None
    admission: Admission | None = Field(default=None, description=ADMISSION_DOC)
    room_check: bool | None = Field(default=None, description=ROOM_CHECK_DOC)
    reclaim: Reclaim | None = Field(default=None, description=RECLAIM_DOC)


class EventCounts(BaseModel):
    seats_taken: int = Field(description="participants who are neither waiting nor kicked")
    pending: int = Field(description="participants waiting for the host")
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
    admission: Admission
    room_check: bool
    reclaim: Reclaim
    created_at: datetime
    updated_at: datetime
    counts: EventCounts
    state: dict[str, Any] = Field(
        description="the event state every phone is shown (PATCH /api/events/{code}/state)"
    )
    state_version: int = Field(description="0 at creation, +1 on each change of state")


class EventCreated(BaseModel):
    event: Event
    host_token: str = Field(description="shown once; keep it, it is stored only as a digest")
    host_url: str
    join_url: str


class RoomCheck(BaseModel):
    code: str = Field(description="the 4 digits a newcomer gives as `room_check`")
    expires_at: datetime = Field(description="when the next code takes over")
    join_url: str = Field(description="the join link with the code in it, for the QR code")
