"""What the roll call says: one entry per participant, in join order."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rollcall.events.schemas import Event
from rollcall.participants.schemas import ParticipantStatus

AttendanceFormat = Literal["json", "csv"]

DURATION = "seconds, to a tenth, counted from the first join to now or to the event's close"


class AttendanceEntry(BaseModel):
    id: UUID
    display_name: str
    status: ParticipantStatus
    team: str | None = Field(default=None, description="the id of the participant's team")
    first_joined_at: datetime
    last_seen_at: datetime | None = Field(description="the last heartbeat the server had")
    left_at: datetime | None = Field(
        description="when the participant left or was removed; null while they are in"
    )
    online_s: float = Field(description=f"online: {DURATION}")
    away_s: float = Field(description=f"away (the page hidden): {DURATION}")
    offline_s: float = Field(description=f"offline (silent): {DURATION}")
    connections: int = Field(description="sockets the participant opened")
    reclaims: int = Field(description="times the seat moved to another phone")


COLUMNS: tuple[str, ...] = tuple(AttendanceEntry.model_fields)
"""The CSV's columns, in this order (docs/protocol.md): the JSON entry's fields."""


class Attendance(BaseModel):
    event: Event
    generated_at: datetime
    participants: list[AttendanceEntry] = Field(
        description="in join order; waiting and denied participants only with include=pending"
    )
